#pragma once

#include "core/lead.h"
#include "runs/webhookfirer.h"

#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QUrl>
#include <QVariantMap>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <optional>
#include <vector>

namespace sluice {

/// How a run's test leads look. `{i}` is the lead's number (1-based) and `{timestamp}` the
/// run's timestamp; the address pattern is a setting so a team can use its own domain.
struct LeadTemplate
{
    QString emailPattern = QStringLiteral("lance+{timestamp}+{i}@whiteboardgeeks.com");
    QString firstName = QStringLiteral("TestLead");
    QString lastName = QStringLiteral("{i}");
    QString companyName = QStringLiteral("Test Company {i}");
    QVariantMap customVariables { { QStringLiteral("date_location"),
                                    QStringLiteral("Test Location {timestamp}") } };

    /// Lead number `i` (1..N) of the run stamped `timestamp`.
    Lead make(int i, const QString &timestamp) const;
    /// The pattern must make distinct, valid addresses: it needs `{i}` and `{timestamp}`.
    std::optional<QString> problem() const;
};

/// Pass/fail thresholds of a load test, each a setting.
struct RunThresholds
{
    std::chrono::milliseconds ackTimeout { 30'000 }; ///< every webhook acknowledged within
    std::chrono::milliseconds ackP99 { 1000 }; ///< p99 acknowledgement latency at most
    bool allDelivered = true; ///< every lead in Instantly (after verify, when verified)
    bool noDuplicates = true;
    int max429 = 0; ///< 429s served by upstream during the run, at most
};

/// What a run is: fixed when it is created.
struct RunDefinition
{
    QString id; ///< "run-20261129-093612-ab12"
    QString stage; ///< "20", "200", ..., or a name given with --stage
    int leads = 20;
    /// Where the webhooks go: empty means the local listener of this process.
    QUrl target;
    QString campaign; ///< default "TimeoutTest{timestamp}"
    QString timestamp; ///< stamped into campaign name and leads, e.g. "1764408972"
    LeadTemplate leadTemplate;
    int concurrency = 50;
    bool failFast = false;
    bool signedWebhooks = false; ///< a Close signature key was set when it was fired
    /// The webhooks carry the lead (a test convenience). Off: as Close sends them, with only
    /// the lead id, and the leads are put in the sandbox's Close first, as Close holds them.
    bool inlineLeads = false;
    QString mode; ///< "bulk" or "single": how the engine delivered, for the record
    RunThresholds thresholds;

    /// Lead `i` (1..leads) as this run makes it.
    Lead lead(int i) const { return leadTemplate.make(i, timestamp); }
    /// Every address of the run, lower-cased, in lead order.
    QStringList emails() const;
    std::optional<QString> problem() const;
};

/// One verdict check: "acks under 30 s": passed, "max 412 ms".
struct RunCheck
{
    QString name;
    bool passed = false;
    QString detail;
};

/// The delivery check's name, and how its detail starts when delivery could not be followed:
/// judgeRecord() writes them, runRecordFromJson() reads them in records saved before
/// RunRecord::deliveryObservable was kept.
inline constexpr QLatin1String kDeliveredCheck { "every lead delivered" };
inline constexpr QLatin1String kNotObservable { "not observable" };

/// A run's leads as Instantly lists them.
struct VerifyReport
{
    qint64 atMs = 0;
    int listed = 0; ///< leads the campaign listing returned
    int present = 0; ///< run leads found exactly once
    QStringList missing; ///< run addresses not found
    QStringList duplicated; ///< run addresses found more than once
    QStringList extra; ///< addresses in the campaign that are not the run's
    int repaired = 0; ///< missing leads queued again by --repair
    QString error; ///< why verification could not finish (then the lists are partial)

    bool clean() const { return error.isEmpty() && missing.isEmpty() && duplicated.isEmpty(); }
};

/// What cleaning up did (or, with dryRun, would do).
struct CleanupReport
{
    qint64 atMs = 0;
    bool dryRun = false;
    int found = 0; ///< run leads found in the campaign
    int deleted = 0;
    int remaining = -1; ///< run leads still listed afterwards; -1 when not checked
    int foreign = 0; ///< leads in the campaign that are not the run's (they keep it alive)
    bool campaignDeleted = false;
    /// What happened (or, with dryRun, would happen) to the campaign and why, for people:
    /// "kept: it holds 3 leads that are not this run's".
    QString campaignNote;
    QString error;
};

/// Everything the ledger keeps about one run.
struct RunRecord
{
    enum class State { Created, Firing, Delivering, Verifying, CleaningUp, Finished, Aborted };

    RunDefinition definition;
    State state = State::Created;
    bool campaignCreatedByRun = false;
    /// The Instantly the leads went to, so verify and clean-up later go to the same one.
    QString instantlyUrl;
    /// It was the sandbox embedded in the process that ran the test: its leads are gone.
    bool embeddedSandbox = false;

    qint64 createdMs = 0;
    qint64 firstSentMs = 0; ///< first webhook out
    qint64 lastAckMs = 0; ///< last webhook answered
    qint64 deliveredMs = 0; ///< every lead settled (delivered, skipped, failed or dead)
    qint64 finishedMs = 0;
    qint64 predictedMs = 0; ///< predicted duration before start

    int sent = 0; ///< webhooks sent
    int acknowledged = 0; ///< 2xx answers
    int ackFailures = 0; ///< timeouts, errors and non-2xx
    LatencySummary ack; ///< microseconds
    double acceptedPerSecond = 0;
    QStringList taskIds;

    /// Delivery could be followed: the target's tasks were in this Redis. False for a run
    /// against an outside target; its delivery is then judged only by verification, whenever
    /// the record is judged again. Records saved before this was kept read as observable
    /// unless their own checks said otherwise (see runRecordFromJson()).
    bool deliveryObservable = true;
    int delivered = 0;
    int skipped = 0;
    int failed = 0;
    int dead = 0;
    int retries = 0;
    int rateLimitDelays = 0;
    int upstreamRequests = 0;
    int upstream429 = 0;
    int breakerTrips = 0;
    int worst1s = 0;
    int worst60s = 0;
    int cap1s = 0; ///< the caps in force, for the check and the record
    int cap60s = 0;

    std::optional<VerifyReport> verify;
    std::optional<CleanupReport> cleanup;
    std::vector<RunCheck> checks;
    bool passed = false;
    QString stopReason; ///< fail-fast or abort reason

    static QString stateName(State state);
};

nlohmann::json toJson(const RunRecord &record);
/// nullopt when `j` is not a run record this version understands. A record without
/// "delivery_observable" (saved before it was kept) was judged as observable when it was
/// saved, unless its "every lead delivered" check says "not observable": that check is the
/// judgement the run itself made, so it is what the record reads back as.
std::optional<RunRecord> runRecordFromJson(const nlohmann::json &j);

/// "run-<yyyyMMdd-HHmmss>-<4 hex>", unique enough for a human to type and sort.
QString newRunId(qint64 nowMs);

} // namespace sluice

Q_DECLARE_METATYPE(sluice::RunRecord)
