#pragma once

#include "core/result.h"
#include "intakeoptions.h"
#include "intakestore.h"
#include "net/httpfront.h"
#include "store/rediskeys.h"
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
/// The IntakeStore does the storing; this class is HTTP only. While Redis is unreachable the
/// store spools the request and it is answered 202 {spooled: true}; when the spool fails
/// too: 503 with Retry-After. Never a 2xx for data that is not stored.
/// What the intake has answered so far, for the alerts (intake_failing).
struct IntakeTally
{
    qint64 accepted = 0; ///< 202s
    /// 503: neither Redis nor the spool could store it, or the connection bound was reached
    qint64 unavailable = 0;
    qint64 misconfigured = 0; ///< 500: the signature key is unusable
    qint64 badSignature = 0; ///< 401
};

class IntakeServer : public HttpFront
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
    const Spool &spool() const { return m_store->spool(); }
    /// Extra members of the /healthz answer (the delivery side: dispatchers, breaker,
    /// limiter), asked on this thread for every health request. `healthy` false turns the
    /// status to "degraded".
    using HealthSource = std::function<QVariantMap(bool &healthy)>;
    void setHealthSource(HealthSource source) { m_healthSource = std::move(source); }

    IntakeTally tally() const;

    /// Emit exchanged() for every webhook request answered (the console's inspector).
    void setRecording(bool on) { m_recording = on; }

Q_SIGNALS:
    /// A POST to the webhook route was answered (only while recording).
    void exchanged(const sluice::WebhookExchange &exchange);
    /// The spool became empty after a drain.
    void spoolDrained();

protected:
    void refusedEarly(int status) override;

private:
    void addLead(const HttpRequest &request, HttpResponder responder);
    /// The exchange the inspector gets once `responder` has answered; the handler fills in
    /// what it learns (signature, event id, task id) on the way.
    std::shared_ptr<WebhookExchange> record(const HttpRequest &request, HttpResponder &responder,
                                            const QElapsedTimer &timer);
    void answerStored(const IntakeStore::Result &stored, HttpResponder &responder,
                      const QElapsedTimer &timer);
    void taskStatus(const HttpRequest &request, HttpResponder responder);
    void health(const HttpRequest &request, HttpResponder responder);
    void renderMetrics(const HttpRequest &request, HttpResponder responder);
    void answerHealth(HttpResponder responder, const FleetSnapshot &fleet);

    void reject(HttpResponder &responder, int status, const QString &detail, MetricCounter &counter,
                const HttpHeaders &extraHeaders = {});
    void acknowledge(HttpResponder &responder, int status, const QByteArray &json,
                     const QElapsedTimer &timer);

    IntakeOptions m_options;
    QPointer<RedisClient> m_redis;
    RedisKeys m_keys;
    std::unique_ptr<Metrics> m_ownMetrics;
    Metrics *m_metrics = nullptr;
    std::unique_ptr<IntakeStore> m_store;
    quint16 m_port = 0;
    HealthSource m_healthSource;
    std::unique_ptr<FleetStatus> m_fleet; ///< with a Redis client only
    bool m_recording = false;
    quint64 m_exchangeSeq = 0;
    struct Counters;
    std::unique_ptr<Counters> m_counters;
};

} // namespace sluice
