#pragma once

#include "breaker/circuitbreaker.h"
#include "bulkoutcome.h"
#include "core/result.h"
#include "dispatcheroptions.h"
#include "limiter/sharedratelimiter.h"
#include "pausecause.h"
#include "redis/rediserror.h"
#include "settler.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QTimer>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace sluice {

class CampaignCheck;
class CampaignResolver;
class CloseClient;
class CloseLookup;
class ParkedCampaigns;
class SchemaGate;
struct CloseLookupAnswer;
class InstantlyClient;
class RedisClient;
class SendAudit;
class SharedBreaker;
class StreamConsumer;
class UpstreamGate;
struct ApiResult;

/// What the console shows of one dispatcher. Counts are this instance's since start().
struct DispatcherSnapshot
{
    QString consumer;
    bool running = false;
    bool paused = false;
    QString pausedReason;
    int inFlight = 0; ///< entries read and not yet settled
    int sending = 0; ///< leads in upstream requests right now
    qint64 requests = 0; ///< upstream requests made for leads
    qint64 succeeded = 0;
    qint64 skipped = 0;
    qint64 failed = 0;
    qint64 dead = 0;
    qint64 retried = 0;
    qint64 parked = 0; ///< waiting for their campaign to appear
    int remainingInPlan = -1; ///< Instantly's remaining_in_plan, last seen; -1 unknown
    qint64 rateLimited = 0; ///< 429 answers
    QString lastError;
    qint64 lastErrorMs = 0;
};

/// The services a dispatcher uses; all must outlive it. `close` may be null when no entry
/// needs a Close lookup (such entries then go to the dead letters).
struct DispatcherServices
{
    RedisClient *redis = nullptr; ///< commands and scripts (a separate client blocks on reads)
    /// Sends. Not gated by its transport: each send passes `gate` first, and the dispatcher
    /// fences the batch between the gate's admission and the request.
    InstantlyClient *instantly = nullptr;
    CloseClient *close = nullptr;
    SharedRateLimiter *limiter = nullptr;
    SharedBreaker *breaker = nullptr;
    SendAudit *audit = nullptr; ///< optional
    /// The sends' gate (breaker, then limiter slot; results to both and to the audit), on this
    /// thread; usually the one the lookups' transport has, so both wait in one line. Null: the
    /// dispatcher makes its own over `limiter`, `breaker` and `audit`.
    UpstreamGate *gate = nullptr;
    /// Campaign lookups (which may page); should have a gate (UpstreamGate) on its transport.
    /// Null: `instantly` is used, ungated.
    InstantlyClient *lookups = nullptr;
};

/// Delivers the leads of the Redis stream to Instantly, exactly once in effect, as one consumer
/// of the dispatchers group; any number of instances share the work.
///
/// Its parts: a StreamConsumer reads, reclaims, heartbeats and hands back stream entries; a
/// CampaignResolver turns campaign names into ids; a Settler runs the settle script. The
/// dispatcher itself expands Close leads, coalesces leads per campaign (bulk mode), sends one
/// batch at a time (the breaker is asked first, then the limiter slot is taken immediately
/// before the request) and maps each answer to one Settlement per lead. An entry's XACK in
/// the settle script decides whether it counts, so a replayed or doubly processed entry is
/// never counted twice, and `skip_if_in_campaign` plus the delivered set make a replayed send
/// a no-op.
///
/// Besides the contract's fields, the progress hash gets `last_error` and `last_error_ms`.
class Dispatcher : public QObject
{
    Q_OBJECT
public:
    Dispatcher(const DispatcherServices &services, DispatcherOptions options,
               QObject *parent = nullptr);
    ~Dispatcher() override;

    /// Creates the consumer group when needed, checks the Redis configuration (warnings only)
    /// and starts reading. Returns why it cannot start (bad options, missing services).
    std::optional<QString> start();
    /// Stops reading; leads not yet sent are handed back (made reclaimable at once), requests
    /// in flight finish and are settled; then stopped() is emitted.
    void stop();
    bool isRunning() const { return m_running; }
    QString consumerName() const { return m_options.consumerName; }
    const DispatcherOptions &options() const { return m_options; }
    const RedisKeys &keys() const { return m_keys; }
    DispatcherSnapshot snapshot() const;

    /// Looks for the campaigns parked leads wait for now, not at the next minute (an operator
    /// created one); found ones have their leads queued again.
    void recheckParked();

Q_SIGNALS:
    void snapshotChanged(const sluice::DispatcherSnapshot &snapshot);
    /// Redis is configured unsafely (eviction, no persistence): a human should look.
    void warningRaised(const QString &message);
    /// This instance must not run on the data in Redis (SchemaGate): it has stopped.
    void refused(const QString &why);
    void stopped();

private:
    struct Work
    {
        QByteArray entryId;
        QueuedLead lead;
        QString campaignId;
        QByteArray member; ///< "<campaign id>|<lower-cased email>"
        bool campaignRechecked = false; ///< resolved again after a 404 on its campaign id
    };
    struct Batch
    {
        QString campaignId;
        std::vector<Work> items;
        qint64 limiterWaitMs = 0; ///< from asking the limiter to its grant
        QElapsedTimer opened; ///< since the first lead joined it
    };
    using BatchPtr = std::shared_ptr<Batch>;

    void checkRedisConfig();
    void onEntry(const QByteArray &id, const QList<QByteArray> &fields, bool reclaimed);
    void lookup(Work work);
    void lookedUp(const Work &work, const CloseLookupAnswer &answer);
    void resolveCampaign(Work work);
    void enqueue(Work work);
    void closeBatch(const QString &campaignId);
    void pump();
    void gate(BatchPtr batch);
    void admitted(BatchPtr batch, quint64 ticket);
    void send(BatchPtr batch, quint64 ticket);
    void onAnswer(BatchPtr batch, quint64 ticket, const ApiResult &result,
                  const std::vector<BulkLeadOutcome> &outcomes, const QString &counts);
    /// Lists the campaign for leads Instantly did not say it created: found is delivered,
    /// absent is a dead letter with `ifAbsent`'s reason.
    void confirmInCampaign(const QString &campaignId, std::vector<Work> items,
                           std::vector<LeadReason> ifAbsent, const SettledRequest &request,
                           const QString &counts);
    void noteRemainingInPlan(int remaining);
    void checkUncertain(BatchPtr batch);
    void pauseFleet(PauseCause cause, const QString &reason);
    void probe();
    void runProbe(PauseCause cause);
    void resumeFleet(PauseCause cause, const QString &why);
    /// `uncertain`: the request may have been applied, so the lead is looked for in the
    /// campaign before it is sent again.
    SettleRecord transientFailure(const Work &work, const QString &reason,
                                  bool uncertain = false) const;
    SettleRecord outcome(const Work &work, Settlement kind, const QString &reason = {},
                         LeadReason code = LeadReason::Unknown) const;
    void settle(std::vector<SettleRecord> records);
    void count(Settlement kind);
    /// Journals a request that settles nothing (a 429 puts its leads back in line).
    void journalAttempt(const Batch &batch, const SettledRequest &request, const QString &detail);
    void handBack(const std::vector<Work> &items);
    /// Everything read and not yet sent (waiting for a campaign, coalescing, queued).
    std::vector<Work> takeUnsent();
    void dropLost(const QList<QByteArray> &ids);
    void forget(const QByteArray &entryId);
    void setPaused(bool paused, const QString &reason);
    void noteError(const QString &message);
    void changed();
    void finishStopIfIdle();

    DispatcherServices m_services;
    DispatcherOptions m_options;
    RedisKeys m_keys;
    StreamConsumer *m_consumer = nullptr; ///< child
    CampaignResolver *m_campaigns = nullptr; ///< child
    Settler *m_settler = nullptr; ///< child
    ParkedCampaigns *m_parked = nullptr; ///< child
    SchemaGate *m_schema = nullptr; ///< child
    QTimer m_parkedTimer;
    QTimer m_probeTimer;
    CloseLookup *m_closeLookup = nullptr; ///< child, when there is a Close client
    CampaignCheck *m_check = nullptr; ///< child
    QHash<QString, int> m_lookingUp; ///< Close lookups under way, by campaign name
    QElapsedTimer m_lastExpanded; ///< since the last Close lead was expanded
    bool m_running = false;
    bool m_stopping = false;
    bool m_acquiring = false; ///< one batch at a time waits for breaker and limiter
    UpstreamGate *m_gate = nullptr; ///< m_services.gate, or a child
    quint64 m_admission = 0; ///< the gate's admission of m_admitting, while it waits
    BatchPtr m_admitting;
    int m_sending = 0;
    int m_requestsOut = 0; ///< lead requests on the wire (DispatcherOptions::maxRequestsInFlight)
    /// Leads waiting for their campaign's id, by campaign name (handed back on stop).
    QHash<QString, std::vector<Work>> m_awaitingCampaign;
    QHash<QString, BatchPtr> m_open; ///< coalescing, by campaign id
    QHash<QString, QTimer *> m_openTimers;
    std::deque<BatchPtr> m_queue; ///< closed batches waiting for their turn
    DispatcherSnapshot m_snapshot;
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::DispatcherSnapshot)
