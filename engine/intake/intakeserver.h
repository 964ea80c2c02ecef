#pragma once

#include "core/result.h"
#include "intakeoptions.h"
#include "net/httpserver.h"
#include "queue/rediskeys.h"
#include "spool.h"
#include "webhookexchange.h"

#include <QElapsedTimer>
#include <QHash>
#include <QPointer>
#include <QTimer>
#include <QVariantMap>

#include <functional>

#include <memory>

namespace sluice {

class FleetStatus;
struct FleetSnapshot;
class Metrics;
class MetricCounter;
class MetricHistogram;
class RedisClient;
struct IntakeBatch;

/// The webhook listener: POST /instantly/add_lead (a Close webhook or a direct batch),
/// GET /instantly/task/{id}/status, GET /healthz and GET /metrics.
///
/// /healthz and /metrics also show the fleet's state as Redis holds it (FleetStatus: the
/// pause and its cause, parked campaigns, remaining_in_plan, dead letters per reason), so
/// every instance reports the same thing; a paused fleet is "degraded".
///
/// A request is checked in this order: body size (413), Content-Type (415), signature when a
/// key is set (401), body (400). An accepted one is stored by one atomic Lua script (stream
/// entries, task hash, task index, event-id marker) and answered 202 only after Redis
/// acknowledged it. A Close event id or an Idempotency-Key header seen before is answered 200
/// {task_id, duplicate: true} and stores nothing.
///
/// While Redis is unreachable (not Connected, or the script's fate is unknown because the
/// connection dropped or timed out) the request goes to the Spool (fsync'd) and is answered
/// 202 {spooled: true}; the spool drains into Redis, in order, whenever the client becomes
/// Connected. The script refuses a task id or event id it has already stored, so a replay
/// never duplicates. When the spool fails too: 503 with Retry-After. Never a 2xx for data
/// that is not stored.
class IntakeServer : public HttpServer
{
    Q_OBJECT
public:
    /// `redis` is not owned and must outlive the server. `metrics` (not owned, may be shared
    /// with other parts) receives the intake's series; nullptr: the server keeps its own.
    IntakeServer(IntakeOptions options, RedisClient *redis, Metrics *metrics = nullptr,
                 QObject *parent = nullptr);
    ~IntakeServer() override;

    /// Checks the options, opens the spool (a failure is logged and shown by /healthz; Redis
    /// alone still works), listens and starts draining. The port, or why it cannot run.
    Result<quint16, QString> start();
    quint16 port() const { return m_port; }
    const IntakeOptions &options() const { return m_options; }
    Metrics &metrics() { return *m_metrics; }
    const Spool &spool() const { return m_spool; }
    /// True while spooled requests are being replayed into Redis.
    bool draining() const { return m_draining; }
    /// Extra members of the /healthz answer (the delivery side: dispatchers, breaker,
    /// limiter), asked on this thread for every health request. `healthy` false turns the
    /// status to "degraded".
    using HealthSource = std::function<QVariantMap(bool &healthy)>;
    void setHealthSource(HealthSource source) { m_healthSource = std::move(source); }

    /// Emit exchanged() for every webhook request answered (the console's inspector).
    void setRecording(bool on) { m_recording = on; }

Q_SIGNALS:
    /// A POST to the webhook route was answered (only while recording).
    void exchanged(const sluice::WebhookExchange &exchange);
    /// The spool became empty after a drain.
    void spoolDrained();

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    void addLead(const HttpRequest &request, HttpResponder responder);
    void record(const HttpRequest &request, HttpResponder &responder, const QElapsedTimer &timer);
    void taskStatus(const HttpRequest &request, HttpResponder responder);
    void health(const HttpRequest &request, HttpResponder responder);
    void renderMetrics(const HttpRequest &request, HttpResponder responder);
    void answerHealth(HttpResponder responder, const FleetSnapshot &fleet);

    void store(IntakeBatch batch, HttpResponder responder, QElapsedTimer timer);
    void spoolAndAnswer(const IntakeBatch &batch, HttpResponder &responder,
                        const QElapsedTimer &timer);
    void reject(HttpResponder &responder, int status, const QString &detail, MetricCounter &counter,
                const HttpHeaders &extraHeaders = {});
    void acknowledge(HttpResponder &responder, int status, const QByteArray &json,
                     const QElapsedTimer &timer);
    bool redisConnected() const;

    void drainSpool();
    void drainNext();
    /// Moves the lines of spools in the same directory whose process is gone (their lock is
    /// free) into this one, then removes them: whichever process runs drains them all.
    void adoptOrphanSpools();
    void forgetSpooled(const QByteArray &line);
    void rememberSpooled(const IntakeBatch &batch);

    IntakeOptions m_options;
    QPointer<RedisClient> m_redis;
    RedisKeys m_keys;
    std::unique_ptr<Metrics> m_ownMetrics;
    Metrics *m_metrics = nullptr;
    Spool m_spool;
    quint16 m_port = 0;
    bool m_draining = false;
    HealthSource m_healthSource;
    std::unique_ptr<FleetStatus> m_fleet; ///< with a Redis client only
    bool m_recording = false;
    quint64 m_exchangeSeq = 0;
    QTimer m_drainRetry;
    QTimer m_adoptTimer; ///< looks for spools left by processes that died meanwhile
    /// Pending spool lines by dedupe id and by task id (task -> entries), so a duplicate
    /// delivery while Redis is down is recognised and a spooled task has a status.
    QHash<QString, QString> m_spooledDedupe;
    QHash<QString, int> m_spooledTasks;

    struct Counters;
    std::unique_ptr<Counters> m_counters;
};

} // namespace sluice
