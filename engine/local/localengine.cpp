#include "localengine.h"

#include "breaker/sharedbreaker.h"
#include "close/closesignature.h"
#include "control/fleetstatus.h"
#include "control/operatorcontrol.h"
#include "core/jsontext.h"
#include "core/jsonvariant.h"
#include "instantly/instantlyclient.h"
#include "intake/intakeserver.h"
#include "limiter/sendaudit.h"
#include "limiter/sharedratelimiter.h"
#include "net/upstreamgate.h"
#include "queue/leadreason.h"
#include "queue/pausecause.h"
#include "redis/luascripts.h"
#include "redis/privateredis.h"
#include "redis/redisclient.h"
#include "runs/webhookfirer.h"
#include "sandbox/sandboxserver.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QHostInfo>
#include <QLoggingCategory>
#include <QPointer>
#include <QRandomGenerator>

#include <nlohmann/json.hpp>

namespace sluice {

Q_LOGGING_CATEGORY(lcLocal, "sluice.engine")

namespace {

const QString kDeadRecentScript = QStringLiteral("dead_recent");

/// /healthz's view of the delivery side; `healthy` false makes the status "degraded".
QVariantMap deliveryHealth(const DeliverySnapshot &s, bool &healthy)
{
    QVariantList dispatchers;
    for (const DispatcherSnapshot &d : s.dispatchers) {
        dispatchers.append(QVariantMap { { QStringLiteral("consumer"), d.consumer },
                                         { QStringLiteral("running"), d.running },
                                         { QStringLiteral("paused"), d.paused },
                                         { QStringLiteral("in_flight"), d.inFlight },
                                         { QStringLiteral("delivered"), d.succeeded },
                                         { QStringLiteral("last_error"), d.lastError } });
    }
    healthy = s.running && s.breaker != BreakerState::Open && s.breaker != BreakerState::ForcedOpen
        && !s.limiterDegraded;
    return {
        { QStringLiteral("dispatchers"), dispatchers },
        { QStringLiteral("breaker"), breakerStateName(s.breaker) },
        { QStringLiteral("limiter"),
          QVariantMap { { QStringLiteral("configured_per_second"), s.configuredPerSecond },
                        { QStringLiteral("effective_per_second"), s.effectivePerSecond },
                        { QStringLiteral("degraded"), s.limiterDegraded } } },
    };
}

/// /healthz's forecast: the backlog, when it drains, the budget left in this minute, and
/// the 429s the fleet's own pace cannot explain. Null where nothing can be said yet. As
/// `sluice status` shows it, plus the last lead's time as ISO 8601 text.
QVariantMap forecastHealth(const Forecast &f)
{
    QVariantMap out = jsonToVariantTree(forecastJson(f)).toMap();
    out.insert(
        QStringLiteral("last_lead_at"),
        f.lastLeadAtMs ? QVariant(
            QDateTime::fromMSecsSinceEpoch(*f.lastLeadAtMs, Qt::UTC).toString(Qt::ISODateWithMs))
                       : QVariant::fromValue(nullptr));
    return out;
}

/// /healthz's alerts: those firing, fleet-wide (and this instance's own while it decides
/// alone), with who acknowledged them.
QVariantList alertsHealth(const AlertCenter *alerts)
{
    QVariantList out;
    if (!alerts)
        return out;
    for (const AlertEvent &e : alerts->active()) {
        QVariantMap a = jsonToVariantTree(e.toJson()).toMap();
        a.remove(QStringLiteral("text"));
        a.remove(QStringLiteral("state"));
        if (auto ack = alerts->acknowledged(e.kind))
            a.insert(QStringLiteral("acknowledged_by"), ack->by);
        out.append(a);
    }
    return out;
}

} // namespace

DeliverySettings deliverySettingsFor(const ServeOptions &o, const RedisOptions &redis)
{
    DeliverySettings s;
    s.redis = redis;
    s.ns = o.dispatcher.keyNamespace;
    s.instance = QStringLiteral("%1-%2-%3")
                     .arg(QHostInfo::localHostName().isEmpty() ? QStringLiteral("host")
                                                               : QHostInfo::localHostName())
                     .arg(QCoreApplication::applicationPid())
                     .arg(QRandomGenerator::global()->bounded(0x10000), 4, 16, QLatin1Char('0'));
    s.instantly.baseUrl = o.instantlyUrl;
    s.instantly.apiKey = o.instantlyApiKey;
    s.instantly.timeout = o.requestTimeout;
    s.instantly.maxInFlight = o.dispatcher.maxRequestsInFlight;
    s.close.baseUrl = o.closeUrl;
    s.close.apiKey = o.closeApiKey;
    s.close.timeout = std::min(o.requestTimeout, s.close.timeout);
    s.close.maxInFlight = o.dispatcher.maxRequestsInFlight;
    s.limiter = o.limiter;
    s.closeCaps = o.closeCaps;
    s.breaker = o.breaker;
    s.workers = o.workers;
    s.dispatcher = o.dispatcher;
    return s;
}

LocalEngine::LocalEngine(LocalEngineOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_keys(m_options.serve.dispatcher.keyNamespace)
    , m_telemetry(std::make_unique<Telemetry>(telemetrySources()))
    , m_alertGauges(std::make_shared<AlertGaugeState>())
{
    for (size_t i = 0; i < kAllAlertKinds.size(); ++i) {
        std::shared_ptr<AlertGaugeState> gauges = m_alertGauges;
        m_metrics.addGaugeCallback(
            "sluice_alert_active",
            "1 while an alert of this kind fires (fleet-wide, or this instance's alone while "
            "Redis is unreachable)",
            [gauges, i] { return double((*gauges)[i].load()); },
            { { "kind", alertKindName(kAllAlertKinds[i]) } });
    }
}

LocalEngine::~LocalEngine()
{
    stop();
}

std::optional<QString> LocalEngine::start()
{
    ServeOptions &o = m_options.serve;
    if (m_options.dataDir.isEmpty() || !QDir().mkpath(m_options.dataDir))
        return QStringLiteral("cannot create the data directory '%1'").arg(m_options.dataDir);
    auto lease = InstanceLease::take(m_options.dataDir, o.instance);
    if (!lease.ok())
        return lease.error();
    m_lease = std::move(lease).value();
    if (m_options.sandbox) {
        // The sandbox enforces the caps the limiter is configured for, as Instantly would.
        const std::vector<RateRule> &caps = o.limiter.caps;
        if (!caps.empty()) {
            m_options.sandboxOptions.perSecond = capWithin(caps, std::chrono::seconds { 1 });
            m_options.sandboxOptions.perMinute = capWithin(caps, std::chrono::seconds { 60 });
        }
        m_sandbox = std::make_unique<SandboxServer>(m_options.sandboxOptions);
        if (m_sandbox->start() == 0)
            return QStringLiteral("the embedded sandbox cannot listen on loopback");
        o.instantlyUrl = m_sandbox->baseUrl();
        o.closeUrl = m_sandbox->baseUrl();
        o.instantlyApiKey = m_options.sandboxOptions.apiKey;
        o.closeApiKey = m_options.sandboxOptions.closeApiKey;
        if (o.webhookSecret.isEmpty()) {
            // As Close signs every webhook, so does the sandbox: a key made for this run, so
            // load tests and replays go through the real signature check. Never shown.
            QByteArray key(32, Qt::Uninitialized);
            QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(key.data()),
                                                  key.size() / 4);
            o.webhookSecret = QString::fromLatin1(key.toHex());
            qCInfo(lcLocal) << "sandbox: webhooks must be signed, with a key made for this run "
                               "(set CLOSE_WEBHOOK_SECRET to choose it)";
        }
    }
    if (o.instantlyApiKey.isEmpty())
        return QStringLiteral("INSTANTLY_API_KEY is not set");

    RedisOptions redis;
    if (o.redisUrl.isEmpty()) {
        m_privateRedis = std::make_unique<PrivateRedis>(
            QDir(m_options.dataDir).filePath(QStringLiteral("redis")));
        if (auto problem = m_privateRedis->start())
            return QStringLiteral("cannot start the private Redis: %1").arg(*problem);
        qCInfo(lcLocal).noquote() << "no Redis configured: using a private redis-server at"
                                  << m_privateRedis->url()
                                  << (m_privateRedis->owned() ? ""
                                                              : "(shared with another Sluice)");
        redis.url = m_privateRedis->url();
    } else {
        redis.url = o.redisUrl;
        redis.caFile = o.redisCaFile;
    }
    if (auto problem = redis.problem())
        return QStringLiteral("Redis: %1").arg(*problem);
    m_settings = deliverySettingsFor(o, redis);
    m_settings.instance = m_lease->name();
    qCInfo(lcLocal).noquote()
        << "instance" << m_settings.instance
        << (m_lease->slot() >= 0
                ? QStringLiteral("(slot %1 of the data directory)").arg(m_lease->slot())
                : QStringLiteral("(--instance)"));
    if (auto problem = m_settings.problem())
        return problem;

    m_redis = std::make_unique<RedisClient>(redis);
    connect(m_redis.get(), &RedisClient::stateChanged, this, [this](RedisClient::State state) {
        qCInfo(lcLocal).noquote() << "redis" << m_redis->displayUrl() << ":"
                                  << RedisClient::stateName(state);
    });
    m_redis->connectToServer();

    if (m_options.listen) {
        IntakeOptions intake;
        intake.address = o.listenAddress;
        intake.port = o.listenPort;
        intake.allowRemote = o.allowRemote;
        intake.webhookSecret = o.webhookSecret.toUtf8();
        // One spool per process (its lock is its own); those of processes that are gone are
        // adopted and drained by whichever process runs.
        intake.spoolPath
            = QDir(m_options.dataDir)
                  .filePath(QStringLiteral("intake-spool-%1.jsonl").arg(m_settings.instance));
        intake.ns = o.dispatcher.keyNamespace;
        intake.journal = o.dispatcher.journal;
        if (auto problem = intake.problem())
            return problem;
        m_intake = std::make_unique<IntakeServer>(intake, m_redis.get(), &m_metrics);
        auto port = m_intake->start();
        if (!port.ok() && m_options.anyPortIfTaken && intake.port != 0) {
            qCWarning(lcLocal).noquote() << port.error() << "- listening on a free port instead";
            intake.port = 0;
            m_intake = std::make_unique<IntakeServer>(intake, m_redis.get(), &m_metrics);
            port = m_intake->start();
        }
        if (!port.ok())
            return port.error();
        o.listenPort = port.value();
        if (m_options.recordWebhooks > 0) {
            m_webhooks = WebhookLog(m_options.recordWebhooks);
            m_intake->setRecording(true);
            connect(
                m_intake.get(), &IntakeServer::exchanged, this,
                [this](const WebhookExchange &e) { Q_EMIT webhookRecorded(m_webhooks.push(e)); });
        }
    }

    if (m_options.deliver) {
        m_delivery = std::make_unique<DeliveryEngine>(m_settings, &m_metrics);
        if (auto problem = m_delivery->start())
            return problem;
    }
    if (m_intake && m_delivery) {
        DeliveryEngine *delivery = m_delivery.get();
        Telemetry *telemetry = m_telemetry.get();
        m_intake->setHealthSource([this, delivery, telemetry](bool &healthy) {
            QVariantMap health = deliveryHealth(delivery->snapshot(), healthy);
            health.insert(QStringLiteral("forecast"), forecastHealth(telemetry->forecast()));
            health.insert(QStringLiteral("alerts"), alertsHealth(m_alerts.get()));
            return health;
        });
    }
    if (m_delivery) {
        m_telemetry->start();
        startAlerts();
    }

    // This thread's own view of the shared limiter and breaker, for runs and verification:
    // the same Redis state as the dispatchers', so one budget for all.
    m_limiter
        = std::make_unique<SharedRateLimiter>(m_redis.get(), m_keys.limiter(), m_settings.limiter);
    m_breaker
        = std::make_unique<SharedBreaker>(m_redis.get(), m_keys.breaker(), m_settings.breaker);
    m_audit = std::make_unique<SendAudit>(m_redis.get(), m_keys.audit(),
                                          m_settings.instance + QStringLiteral("-runs"));
    m_gate = std::make_unique<UpstreamGate>(m_limiter.get(), m_breaker.get(), m_audit.get());
    m_instantly = std::make_unique<InstantlyClient>(m_settings.instantly);
    m_instantly->transport()->setGate(m_gate.get());
    m_control = std::make_unique<OperatorControl>(m_redis.get(), m_keys, m_breaker.get());
    return std::nullopt;
}

bool LocalEngine::stop(std::chrono::milliseconds timeout)
{
    m_alerts.reset();
    m_alertFleet.reset();
    if (m_telemetry)
        m_telemetry->stop();
    m_intake.reset();
    bool clean = true;
    if (m_delivery)
        clean = m_delivery->stop(timeout);
    m_delivery.reset();
    m_control.reset();
    m_instantly.reset();
    m_gate.reset();
    m_audit.reset();
    m_breaker.reset();
    m_limiter.reset();
    if (m_redis)
        m_redis->disconnectFromServer();
    m_redis.reset();
    m_privateRedis.reset(); // stops it if no other Sluice process uses it
    m_sandbox.reset();
    m_lease.reset(); // the name is free for the next process (or start()) again
    return clean;
}

void LocalEngine::replayWebhook(const WebhookExchange &exchange, std::function<void(QString)> done)
{
    QString marker;
    if (!exchange.eventId.isEmpty())
        marker = exchange.eventId;
    else if (!exchange.idempotencyKey.isEmpty())
        marker = QStringLiteral("direct:") + QString::fromLatin1(exchange.idempotencyKey);
    const QUrl target = listenerUrl();
    if (target.isEmpty() || !m_redis) {
        done(tr("not replayed: this process has no listener"));
        return;
    }
    QPointer<LocalEngine> self(this);
    auto send = [self, exchange, target, done] {
        if (!self)
            return;
        FireRequest request;
        request.body = exchange.body;
        for (const auto &[name, value] : exchange.headers) {
            const QByteArray lower = name.toLower();
            if (lower == "idempotency-key" || lower.startsWith("x-"))
                request.headers.append({ name, value });
        }
        const QByteArray secret = self->m_options.serve.webhookSecret.toUtf8();
        if (!secret.isEmpty()) {
            // The operator replays it now: sign it now, as Close would on a redelivery.
            const QByteArray stamp = QByteArray::number(QDateTime::currentSecsSinceEpoch());
            request.headers.append({ "close-sig-timestamp", stamp });
            request.headers.append(
                { "close-sig-hash", closeSignatureHash(secret, stamp, exchange.body) });
        }
        FireOptions options;
        options.target = target;
        options.concurrency = 1;
        options.timeout = std::chrono::seconds { 30 };
        auto *firer = new WebhookFirer(options, { request }, self);
        connect(firer, &WebhookFirer::finished, self, [firer, done] {
            const FireResult &r = firer->results().front();
            WebhookExchange answer;
            answer.status = r.status;
            answer.response = r.body;
            done(r.status == 0 ? tr("replay failed: %1").arg(r.error)
                               : tr("replayed: %1").arg(answer.outcome()));
            firer->deleteLater();
        });
        firer->start();
    };
    if (marker.isEmpty()) {
        send();
        return;
    }
    m_redis->command(
        { "GET", m_keys.closeEvent(marker) }, [self, marker, done, send](RedisResult r) {
            if (!self)
                return;
            if (!r.ok()) {
                done(
                    tr("not replayed: cannot check for a duplicate: %1").arg(r.error().describe()));
                return;
            }
            if (r.value().isString()) {
                done(tr("not replayed: %1 is already stored as task %2, so a replay would only be "
                        "dropped as a duplicate")
                         .arg(marker.startsWith(QLatin1String("direct:"))
                                  ? tr("Idempotency-Key %1").arg(marker.mid(7))
                                  : tr("Close event %1").arg(marker),
                              QString::fromUtf8(r.value().bytes())));
                return;
            }
            send();
        });
}

QString LocalEngine::redisDisplay() const
{
    return m_redis ? m_redis->displayUrl() : QString();
}

QUrl LocalEngine::listenerUrl() const
{
    if (!m_intake)
        return {};
    const ServeOptions &o = m_options.serve;
    QString host = o.listenAddress.toString();
    if (o.listenAddress == QHostAddress::Any || o.listenAddress == QHostAddress::AnyIPv4)
        host = QStringLiteral("127.0.0.1");
    else if (o.listenAddress.protocol() == QAbstractSocket::IPv6Protocol)
        host = QLatin1Char('[') + host + QLatin1Char(']');
    return QUrl(QStringLiteral("http://%1:%2/instantly/add_lead").arg(host).arg(o.listenPort));
}

RunSessionServices LocalEngine::runSessionServices() const
{
    RunSessionServices s;
    s.run = loadTestServices();
    s.journal = journal();
    s.instantlyUrl = m_options.serve.instantlyUrl.toString();
    s.embeddedSandbox = m_sandbox != nullptr;
    return s;
}

LoadTestServices LocalEngine::loadTestServices() const
{
    LoadTestServices s;
    s.redis = m_redis.get();
    s.keys = m_keys;
    s.instantly = m_instantly.get();
    s.audit = m_audit.get();
    s.localTarget = listenerUrl();
    s.webhookSecret = m_options.serve.webhookSecret.toUtf8();
    s.effectivePerSecond = m_limiter ? m_limiter->effectivePerSecond() : 1;
    s.mode = m_settings.dispatcher.mode;
    s.maxBatch = m_settings.dispatcher.maxBatch;
    s.coalescingWindow = m_settings.dispatcher.coalescingWindow;
    s.caps = m_settings.limiter.caps;
    double closeRate = 1e9;
    for (const RateRule &cap : m_settings.closeCaps)
        closeRate = std::min(closeRate, cap.perSecond());
    s.closePerSecond = closeRate * m_settings.limiter.safetyFactor;
    s.lookupBatch = m_settings.dispatcher.lookupBatch;
    if (m_sandbox) {
        // The embedded sandbox's Close holds the run's leads, as Close would.
        SandboxServer *sandbox = m_sandbox.get();
        s.seedCloseLeads = [sandbox](const QByteArray &leads,
                                     std::function<void(std::optional<QString>)> done) {
            const auto parsed = parseJson(leads);
            if (!parsed.is_array()) {
                done(QStringLiteral("the leads are not a JSON array"));
                return;
            }
            for (const nlohmann::json &lead : parsed) {
                const StoreReply r = sandbox->store().putCloseLead(lead);
                if (r.status != 200) {
                    done(QStringLiteral("the sandbox refused a lead (HTTP %1)").arg(r.status));
                    return;
                }
            }
            done(std::nullopt);
        };
    }
    return s;
}

TelemetrySources LocalEngine::telemetrySources() const
{
    TelemetrySources sources;
    sources.delivery = [this]() -> std::optional<DeliveryReading> {
        if (!m_delivery)
            return std::nullopt;
        const DeliverySnapshot s = m_delivery->snapshot();
        DeliveryReading r;
        r.upstreamRequests = s.upstreamRequests;
        r.upstreamRateLimited = s.upstreamRateLimited;
        r.effectivePerSecond = s.effectivePerSecond;
        r.configuredPerSecond = s.configuredPerSecond;
        r.breaker = s.breaker;
        r.inFlight = s.inFlight();
        r.delivered = s.delivered();
        r.capPerMinute = capWithin(m_options.serve.limiter.caps, std::chrono::minutes { 1 });
        return r;
    };
    sources.redis = [this] { return m_redis.get(); };
    sources.keys = [this] { return m_keys; };
    return sources;
}

void LocalEngine::startAlerts()
{
    m_alertFleet = std::make_unique<FleetStatus>(m_redis.get(), m_keys);
    AlertCenterServices services;
    services.redis = m_redis.get();
    services.keys = m_keys;
    services.instance = m_settings.instance;
    services.gauges = m_alertGauges;
    services.read
        = [this](std::function<void(AlertReading)> done) { readAlertFigures(std::move(done)); };
    services.status = [this] {
        nlohmann::json status = forecastJson(m_telemetry->forecast());
        if (m_delivery) {
            const DeliverySnapshot s = m_delivery->snapshot();
            status["breaker"] = breakerStateName(s.breaker).toStdString();
            status["effective_per_second"] = s.effectivePerSecond;
            status["delivered"] = s.delivered();
            status["in_flight"] = s.inFlight();
        }
        return status;
    };
    AlertOptions alerts = m_options.serve.alerts;
    if (m_options.sandbox) {
        // Nothing but this process's own runs sends webhooks to an embedded sandbox: its
        // silence means nothing.
        alerts.intakeSilentFor = std::chrono::milliseconds { 0 };
    }
    m_alerts = std::make_unique<AlertCenter>(alerts, std::move(services));
    m_alerts->start();
}

void LocalEngine::readAlertFigures(std::function<void(AlertReading)> done)
{
    AlertReading r;
    if (m_delivery) {
        const DeliverySnapshot s = m_delivery->snapshot();
        r.delivering = s.running;
        r.breakerState = breakerStateName(s.breaker);
        // Half open is still open for the alert: it resolves when the breaker closes, not at
        // each trial between two openings.
        r.breakerOpen = s.breaker != BreakerState::Closed;
        r.limiterFallback = s.limiterDegraded;
    }
    const Forecast f = m_telemetry->forecast();
    r.forecastKnown = m_telemetry->samples().size() > 0;
    r.backlog = f.backlog;
    r.drainPerSecond = f.drainPerSecond;
    if (f.timeToDrain)
        r.timeToDrainMs = f.timeToDrain->count();
    r.unexplained429 = f.unexplained429;
    if (m_intake) {
        const IntakeTally t = m_intake->tally();
        r.listening = true;
        r.intakeAccepted = t.accepted;
        r.intakeUnavailable = t.unavailable;
        r.intakeMisconfigured = t.misconfigured;
        r.intakeBadSignature = t.badSignature;
    }
    QPointer<LocalEngine> self(this);
    m_alertFleet->withFresh([self, r, done](const FleetSnapshot &fleet) mutable {
        if (!self)
            return;
        r.fleetKnown = fleet.known;
        r.pausedReason = fleet.pause.reason;
        r.pauseCause = QString::fromLatin1(pauseCauseName(fleet.pause.cause));
        r.pausedSinceMs = fleet.pause.sinceMs;
        r.remainingInPlan = fleet.pause.remainingInPlan;
        for (const ParkedCampaign &p : fleet.parked)
            r.parked.emplace_back(p.name, p.leads);
        RedisClient *redis = self->m_redis.get();
        if (redis->state() != RedisClient::State::Connected) {
            done(r);
            return;
        }
        // Sent together, answered in order: the last answer completes the reading.
        auto reading = std::make_shared<AlertReading>(std::move(r));
        const AlertOptions &alerts = self->m_options.serve.alerts;
        const qint64 since = QDateTime::currentMSecsSinceEpoch() - alerts.deadLettersWithin.count();
        redis->loadScript(kDeadRecentScript, bundledLuaScript(kDeadRecentScript));
        redis->evalScript(kDeadRecentScript, { self->m_keys.deadLetters() },
                          { QByteArray::number(since),
                            QByteArray::number(std::max(1000, alerts.deadLettersGrowth)) },
                          [reading](RedisResult recent) {
                              if (!recent.ok() || recent.value().elements().empty())
                                  return;
                              const auto &e = recent.value().elements();
                              std::vector<std::pair<QString, qint64>> counts;
                              for (size_t i = 0; i + 2 < e.size(); i += 2)
                                  counts.emplace_back(QString::fromUtf8(e[i].bytes()),
                                                      e[i + 1].integer());
                              reading->recentDeadLetters = std::move(counts);
                              reading->recentDeadLettersCapped = e.back().integer() == 1;
                          });
        // The newest stored request of the whole fleet: the task index's top score.
        redis->command({ "ZREVRANGE", self->m_keys.tasks(), "0", "0", "WITHSCORES" },
                       [reading, done](RedisResult newest) {
                           if (newest.ok() && newest.value().elements().size() == 2)
                               reading->lastIntakeMs
                                   = newest.value().elements()[1].bytes().toLongLong();
                           done(*reading);
                       });
    });
}

} // namespace sluice

#include "moc_localengine.cpp" // NOLINT(bugprone-suspicious-include)
