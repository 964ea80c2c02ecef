#pragma once

#include "alerts/alertcenter.h"
#include "config/serveoptions.h"
#include "core/ringbuffer.h"
#include "delivery/deliveryengine.h"
#include "delivery/instancelease.h"
#include "intake/webhookexchange.h"
#include "journal/leadjournal.h"
#include "runs/loadtest.h"
#include "runs/runsession.h"
#include "sandbox/sandboxoptions.h"
#include "store/rediskeys.h"
#include "telemetry/metrics.h"
#include "telemetry/telemetry.h"

#include <QObject>
#include <QUrl>

#include <memory>
#include <optional>

namespace sluice {

class FleetStatus;
class InstantlyClient;
class OperatorControl;
class IntakeServer;
class PrivateRedis;
class RedisClient;
class SandboxServer;
class SendAudit;
class SharedBreaker;
class SharedRateLimiter;
class UpstreamGate;

struct LocalEngineOptions
{
    ServeOptions serve; ///< listener, API URLs and keys, Redis, limits, mode, retries
    bool listen = true; ///< run the webhook listener (false: dispatchers only)
    /// Run the dispatchers (false: a one-shot command that only verifies or cleans up).
    bool deliver = true;
    /// Embed the fake Instantly and Close on loopback and point the clients at them.
    bool sandbox = false;
    /// Its per-second and per-minute limits are taken from `serve.caps`.
    SandboxOptions sandboxOptions;
    QString dataDir; ///< spool and private Redis; required
    /// When the listener's port is taken, listen on a free one instead of failing (the
    /// console: a second window must not refuse to open).
    bool anyPortIfTaken = false;
    /// Keep the newest webhook exchanges in memory (the console's inspector).
    size_t recordWebhooks = 0;
};

/// Everything one Sluice process runs, wired together: the Redis to use (the private one when
/// none is configured), the webhook listener on this thread, the delivery engine on its own,
/// and, for load tests, verification and clean-up, a gated Instantly client and the send
/// audit on this thread. Optionally an embedded sandbox. `sluice serve`, `sluice loadtest`
/// and the console all run this.
class LocalEngine : public QObject
{
    Q_OBJECT
public:
    explicit LocalEngine(LocalEngineOptions options, QObject *parent = nullptr);
    ~LocalEngine() override;

    /// Starts every part; returns why one refused (and stops the others).
    std::optional<QString> start();
    /// Closes the listener, stops delivery (handing back unsent leads) and the private Redis.
    /// False when the dispatchers did not finish within `timeout`.
    bool stop(std::chrono::milliseconds timeout = std::chrono::seconds { 15 });

    const LocalEngineOptions &options() const { return m_options; }
    const RedisKeys &keys() const { return m_keys; }
    RedisClient *redis() const { return m_redis.get(); }
    /// The lead journal of this deployment (on the calling thread's Redis client).
    LeadJournal journal() const
    {
        return LeadJournal(m_redis.get(), m_keys, m_options.serve.dispatcher.journal);
    }
    /// "redis://127.0.0.1:6379/0" with the password masked, and whether it is the private one.
    QString redisDisplay() const;
    bool usesPrivateRedis() const { return m_privateRedis != nullptr; }
    IntakeServer *intake() const { return m_intake.get(); }
    DeliveryEngine *delivery() const { return m_delivery.get(); }
    SandboxServer *sandbox() const { return m_sandbox.get(); }
    Metrics &metrics() { return m_metrics; }
    /// What Telemetry samples: the delivery counters, the Redis client, keys.
    TelemetrySources telemetrySources() const;
    /// The engine's telemetry: what the console draws, and the forecast in /healthz. It samples
    /// once a second while the engine delivers.
    Telemetry *telemetry() const { return m_telemetry.get(); }
    /// The alerts (issue 17): evaluated while the engine delivers; null otherwise.
    AlertCenter *alerts() const { return m_alerts.get(); }
    /// Gated by the shared limiter and breaker: for runs, verification and clean-up.
    InstantlyClient *instantly() const { return m_instantly.get(); }
    SendAudit *audit() const { return m_audit.get(); }
    /// Pause/resume, breaker force, dead letters: for every instance, through Redis.
    OperatorControl *control() const { return m_control.get(); }
    /// http://host:port/instantly/add_lead, or empty without a listener.
    QUrl listenerUrl() const;
    /// The newest recorded webhook exchanges, oldest first (empty unless recordWebhooks).
    const WebhookLog &webhooks() const { return m_webhooks; }
    /// Sends a recorded webhook to the listener again, re-signed when a key is set, unless
    /// it is already stored (its Close event id or Idempotency-Key is known): then it is
    /// refused, because the listener would drop it as a duplicate anyway. `done` gets what
    /// happened, in words.
    void replayWebhook(const WebhookExchange &exchange, std::function<void(QString)> done);
    /// What a LoadTestRun needs to run against this engine.
    LoadTestServices loadTestServices() const;
    /// What a RunSession needs: the load test's services, the journal, and the Instantly in
    /// use (the embedded sandbox's, when there is one).
    RunSessionServices runSessionServices() const;

Q_SIGNALS:
    /// A webhook exchange was recorded (see webhooks()).
    void webhookRecorded(const sluice::WebhookExchange &exchange);

private:
    LocalEngineOptions m_options;
    RedisKeys m_keys;
    std::unique_ptr<SandboxServer> m_sandbox;
    std::unique_ptr<PrivateRedis> m_privateRedis;
    std::unique_ptr<InstanceLease> m_lease;
    std::unique_ptr<RedisClient> m_redis;
    Metrics m_metrics;
    std::unique_ptr<IntakeServer> m_intake;
    std::unique_ptr<DeliveryEngine> m_delivery;
    std::unique_ptr<SharedRateLimiter> m_limiter;
    std::unique_ptr<SharedBreaker> m_breaker;
    std::unique_ptr<SendAudit> m_audit;
    std::unique_ptr<UpstreamGate> m_gate;
    std::unique_ptr<InstantlyClient> m_instantly;
    std::unique_ptr<OperatorControl> m_control;
    DeliverySettings m_settings;
    WebhookLog m_webhooks { 1 };
    std::unique_ptr<Telemetry> m_telemetry; ///< it reads the members above
    std::shared_ptr<AlertGaugeState> m_alertGauges; ///< sluice_alert_active, read by /metrics
    std::unique_ptr<FleetStatus> m_alertFleet;
    std::unique_ptr<AlertCenter> m_alerts; ///< last: it reads the members above

    void startAlerts();
    void readAlertFigures(std::function<void(AlertReading)> done);
};

/// The delivery settings `serve` flags and environment amount to.
DeliverySettings deliverySettingsFor(const ServeOptions &options, const RedisOptions &redis);

} // namespace sluice
