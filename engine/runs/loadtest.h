#pragma once

#include "limiter/raterule.h"
#include "queue/dispatcheroptions.h"
#include "runs/run.h"
#include "store/rediskeys.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>
#include <QTimer>

#include <deque>
#include <functional>
#include <memory>

namespace sluice {

class InstantlyClient;
class RedisClient;
class SendAudit;
class WebhookFirer;

/// What a load test runs against. All pointers must outlive the run.
struct LoadTestServices
{
    RedisClient *redis = nullptr; ///< where the target's engine keeps its queue and audit
    RedisKeys keys;
    /// Campaign look-up and creation. Should be gated (UpstreamGate) like every other client.
    InstantlyClient *instantly = nullptr;
    SendAudit *audit = nullptr; ///< reads the send log of the run's span
    /// The local listener's add_lead URL, used when the definition has no target.
    QUrl localTarget;
    QByteArray webhookSecret; ///< hex Close signature key; empty: webhooks go unsigned
    /// For the prediction: the limiter's effective rate, the delivery mode and batch size.
    double effectivePerSecond = 8;
    DeliveryMode mode = DeliveryMode::Bulk;
    int maxBatch = 1000;
    std::chrono::milliseconds coalescingWindow { 200 };
    std::vector<RateRule> caps; ///< the hard caps the send log is judged against
    /// Puts the run's Close leads (a JSON array of Close lead objects) where the target's
    /// Close lookups find them, then calls `done` with an error or nothing. Lead-less runs
    /// need it: the embedded sandbox's Close store, say.
    std::function<void(const QByteArray &leads, std::function<void(std::optional<QString>)> done)>
        seedCloseLeads;
    /// For the prediction of lead-less runs: Close lookups per second and leads per lookup.
    double closePerSecond = 8;
    int lookupBatch = 100;
};

/// A live view of a run, for a progress line or the console.
struct LoadTestProgress
{
    RunRecord::State state = RunRecord::State::Created;
    int total = 0;
    int sent = 0;
    int acknowledged = 0;
    int settled = 0; ///< delivered, skipped, failed or dead
    int delivered = 0; ///< delivered or already there
    double drainPerSecond = 0; ///< settled per second over the last few seconds
    qint64 etaMs = -1; ///< -1 while unknown
    qint64 elapsedMs = 0;
    bool deliveryObservable = true; ///< false when the target's tasks are not in our Redis
    qint64 predictedMs = 0; ///< the duration predicted before firing; 0 until then
};

/// One load test (issue 5): makes sure the campaign exists, predicts the duration, fires the
/// run's leads as Close webhooks (signed when a key is set) over `concurrency` connections
/// with the Heroku-like client timeout, follows their tasks in Redis until every lead is
/// settled, reads the send log of the run's span, and judges the result against the
/// thresholds. Verification and clean-up are separate steps the caller adds.
///
/// Fail-fast stops sending at the first timeout or non-2xx answer and says why. Delivery is
/// followed through the task hashes the target's engine writes; when they never appear in
/// our Redis (a foreign target) the run ends after the acknowledgements and says so.
class LoadTestRun : public QObject
{
    Q_OBJECT
public:
    LoadTestRun(RunDefinition definition, LoadTestServices services, QObject *parent = nullptr);
    ~LoadTestRun() override;

    /// The definition's problems, or a missing service; nullopt when the run can start.
    std::optional<QString> problem() const;
    void start();
    /// Stops sending and waiting; the record says why.
    void abort(const QString &reason);

    const RunRecord &record() const { return m_record; }
    bool isDone() const { return m_done; }
    LoadTestProgress progress() const;
    /// Duration predicted from the queue depth, the mode and the effective rate.
    static qint64 predictMs(int leads, qint64 queueDepth, const LoadTestServices &services,
                            bool inlineLeads = false);
    /// The Close webhook for lead `i` of a run (task text "Instantly: <campaign>"): lead-less
    /// as Close sends it, or with the lead inline when the definition says so.
    static QByteArray webhookBody(const RunDefinition &definition, int i);
    /// Lead `i` as Close holds it (GET /api/v1/lead/{id}/ shape), as compact JSON.
    static QByteArray closeLead(const RunDefinition &definition, int i);

    /// How long delivery may take after the last acknowledgement before the run gives up
    /// waiting: the prediction times this factor, at least a minute.
    static constexpr double kDeliveryPatience = 3.0;

Q_SIGNALS:
    void progressChanged(const sluice::LoadTestProgress &progress);
    /// The record is final (verdict set) unless the caller goes on to verify and clean up.
    void finished();

private:
    void ensureCampaign();
    void seedCloseLeads();
    void predictAndFire();
    void fire();
    void firingDone();
    void poll();
    /// The task id in request `index`'s 2xx answer; empty for none (yet).
    QString taskIdOf(size_t index);
    void onTotals(const std::vector<qint64> &sums);
    void deliveryDone(const QString &why);
    void judge();
    void finish();
    void setState(RunRecord::State state);

    RunRecord m_record;
    LoadTestServices m_services;
    std::unique_ptr<WebhookFirer> m_firer;
    QTimer m_poll;
    QElapsedTimer m_clock;
    qint64 m_lastAckElapsedMs = 0;
    qint64 m_lastChangeElapsedMs = 0;
    int m_lastSettled = -1;
    int m_tasksFound = 0;
    bool m_polling = false;
    bool m_done = false;
    std::deque<std::pair<qint64, int>> m_drain; ///< (elapsed ms, settled) samples
    LoadTestProgress m_progress;
    std::vector<QString> m_taskIdOf; ///< by request index, parsed once
};

/// Sets `record.checks` and `record.passed` from what the record holds: acknowledgements,
/// delivery (from the task counts, or from verification when there is one), the send log
/// against the caps, 429s, and clean-up. Call it again after verify or clean-up. Delivery
/// is judged from the task counts only when RunRecord::deliveryObservable.
void judgeRecord(RunRecord &record);

} // namespace sluice

Q_DECLARE_METATYPE(sluice::LoadTestProgress)
