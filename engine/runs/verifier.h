#pragma once

#include "apiretry.h"
#include "core/result.h"
#include "journal/leadjournal.h"
#include "run.h"
#include "store/rediskeys.h"

#include <QObject>
#include <QString>
#include <QStringList>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class CampaignReader;
struct CampaignListing;
class InstantlyClient;
class RedisClient;
struct LeadRecord;

struct VerifyOptions
{
    int pageSize = 100; ///< leads per listing request, 1..100 (Instantly's maximum)
    ApiRetryOptions retry;

    std::optional<QString> problem() const;
};

/// Where `--repair` queues missing leads again: the deployment's Redis and key namespace.
struct RepairTarget
{
    RedisClient *redis = nullptr; ///< required; on the caller's thread
    RedisKeys keys;
    /// Of the repair task's progress hash and its place in the task index, as the intake's.
    std::chrono::seconds retention { std::chrono::hours { 24 * 7 } };
};

/// What a repair queued.
struct RepairResult
{
    QString taskId; ///< "repair:<run id>:<n>"; empty when there was nothing to queue
    int queued = 0;
};

/// Queues the leads of `run` whose (lower-cased) addresses are `emails` again, so the normal
/// pipeline delivers them, in one atomic Redis step (resources/lua/run_repair.lua): each lead's
/// "<campaignId>|<email>" member leaves the delivered set (or the dispatcher would skip it as
/// already delivered), a task hash "repair:<run id>:<n>" (the first free n) is created the way
/// the intake creates one, and one QueuedLead per lead (source "repair", made from the run's
/// template so its fields match the original) is added to the stream. `done` is called once,
/// from the event loop, never from inside this call; an address that is not the run's is an
/// error and queues nothing.
void requeueLeads(const RepairTarget &target, const RunDefinition &run, const QString &campaignId,
                  const QStringList &emails,
                  std::function<void(Result<RepairResult, QString>)> done);

/// Checks a run's leads against Instantly (DESIGN.md §1, "Verify"): finds the run's campaign by
/// exact name, lists all its leads (paginated, through the client's gate, with retries) and
/// classifies the run's addresses, case-insensitively: present (listed once), missing,
/// duplicated (listed more than once); the campaign's other addresses are extra. With a
/// RepairTarget the missing leads are then queued again (requeueLeads()).
///
/// Asynchronous on the owner's event loop; one verification at a time. Failures (campaign not
/// found, an API error after retries, Redis refusing the repair) end in VerifyReport::error,
/// never in a silent pass.
class Verifier : public QObject
{
    Q_OBJECT
public:
    /// `instantly` must outlive the verifier; in production it carries an UpstreamGate, so the
    /// listing shares the deployment's rate limit and breaker.
    explicit Verifier(InstantlyClient *instantly, VerifyOptions options = {},
                      QObject *parent = nullptr);
    ~Verifier() override;

    /// Starts verifying `run`; finished() follows exactly once, never from inside this call.
    /// Returns false, and does nothing, while a verification is running.
    bool start(const RunDefinition &run, std::optional<RepairTarget> repair = std::nullopt);
    /// Writes each run lead's finding (verified, missing, duplicated) to this journal before
    /// finishing (a journal that fails is logged, never fails the verification).
    void setJournal(const LeadJournal &journal) { m_journal = journal; }
    bool isRunning() const { return m_running; }

    /// The latest report (complete once finished() was emitted).
    const VerifyReport &report() const { return m_report; }
    /// The run's campaign id, once found.
    QString campaignId() const { return m_campaignId; }
    /// The task the repair queued, when it queued one (its status is at
    /// GET /instantly/task/{id}/status).
    QString repairTaskId() const { return m_repairTaskId; }

    /// The classification itself: `runEmails` against what a campaign listing returned.
    /// Addresses are compared lower-cased and trimmed; every list keeps the order of its
    /// source, and `extra` names each address once.
    static VerifyReport classify(const QStringList &runEmails,
                                 const std::vector<LeadRecord> &listed);

Q_SIGNALS:
    /// After each listing page: pages read and leads listed so far.
    void progressed(int pages, int listed);
    void finished(const sluice::VerifyReport &report);

private:
    void listed(const CampaignListing &listing);
    void repairOrFinish();
    void finish(const QString &error = {});

    CampaignReader *m_reader; ///< child
    VerifyOptions m_options;
    bool m_running = false;
    RunDefinition m_run;
    std::optional<RepairTarget> m_repair;
    std::optional<LeadJournal> m_journal;
    VerifyReport m_report;
    QString m_campaignId;
    QString m_repairTaskId;
};

} // namespace sluice
