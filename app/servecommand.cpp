#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "core/secret.h"
#include "delivery/deliveryengine.h"
#include "intake/intakeserver.h"
#include "intake/metrics.h"
#include "queue/dispatcher.h"
#include "queue/rediskeys.h"
#include "redis/redisclient.h"

#include <QCoreApplication>
#include <QDir>
#include <QHostInfo>
#include <QTextStream>
#include <QTimer>

#include <memory>
#include <vector>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

/// Everything `serve` and `worker` run: the intake on this thread, delivery on its own.
struct Engine
{
    CommandRedis redis; ///< the intake's (and `retry`'s) connection
    Metrics metrics;
    std::unique_ptr<IntakeServer> intake;
    std::unique_ptr<DeliveryEngine> delivery;
};

DeliverySettings deliverySettings(const ServeOptions &o, const RedisOptions &redis)
{
    DeliverySettings s;
    s.redis = redis;
    s.ns = o.ns;
    s.instance = QHostInfo::localHostName() + QLatin1Char('-')
        + QString::number(QCoreApplication::applicationPid());
    s.instantly.baseUrl = o.instantlyUrl;
    s.instantly.apiKey = o.instantlyApiKey;
    s.instantly.timeout = o.requestTimeout;
    s.close.baseUrl = o.closeUrl;
    s.close.apiKey = o.closeApiKey;
    s.close.timeout = std::min(o.requestTimeout, s.close.timeout);
    s.limiter.caps = o.caps;
    s.limiter.safetyFactor = o.safetyFactor;
    s.limiter.instancesHint = o.instancesHint;
    s.closeCaps = o.closeCaps;
    s.breaker = o.breaker;
    s.workers = o.workers;
    s.dispatcher.mode
        = o.mode == ServeOptions::Mode::Single ? DeliveryMode::Single : DeliveryMode::Bulk;
    s.dispatcher.claimIdleTimeout = o.claimIdle;
    s.dispatcher.retryBase = o.retryBase;
    s.dispatcher.retryCap = o.retryCap;
    s.dispatcher.maxAttempts = o.maxAttempts;
    s.dispatcher.coalescingWindow = o.coalescingWindow;
    s.dispatcher.maxBatch = o.maxBatch;
    return s;
}

/// /healthz's view of the delivery side.
QVariantMap deliveryHealth(const DeliverySnapshot &s, bool &healthy)
{
    QVariantList dispatchers;
    bool paused = false;
    for (const DispatcherSnapshot &d : s.dispatchers) {
        paused = paused || d.paused;
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

} // namespace

int runServeCommand(const QStringList &args, ServeRole role)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const bool workerOnly = role == ServeRole::Worker;
    const QString name = workerOnly ? QStringLiteral("worker") : QStringLiteral("serve");
    if (args.contains(QStringLiteral("--help")) || args.contains(QStringLiteral("-h"))) {
        out << serveHelpText(workerOnly);
        return 0;
    }
    const auto parsed
        = parseServeOptions(args.mid(1), QProcessEnvironment::systemEnvironment(), workerOnly);
    if (!parsed.ok()) {
        err << "sluice " << name << ": " << parsed.error() << "\n";
        return 2;
    }
    const ServeOptions &o = parsed.value();
    installLogHandler(o.logFormat == ServeOptions::LogFormat::Json ? LogStyle::Json
                                                                   : LogStyle::Text);
    if (o.instantlyApiKey.isEmpty()) {
        err << "sluice " << name << ": INSTANTLY_API_KEY is not set\n";
        return 2;
    }
    const QString dataDir = o.dataDir.isEmpty() ? defaultDataDir() : o.dataDir;
    if (!QDir().mkpath(dataDir)) {
        err << "sluice " << name << ": cannot create the data directory " << dataDir << "\n";
        return 2;
    }

    Engine e;
    if (!chooseRedis(e.redis, o, dataDir))
        return 1;
    const DeliverySettings settings = deliverySettings(o, e.redis.options);
    if (auto problem = settings.problem()) {
        err << "sluice " << name << ": " << *problem << "\n";
        return 2;
    }

    if (!workerOnly) {
        connectRedis(e.redis);
        IntakeOptions intake;
        intake.address = o.listenAddress;
        intake.port = o.listenPort;
        intake.allowRemote = o.allowRemote;
        intake.webhookSecret = o.webhookSecret.toUtf8();
        intake.spoolPath = QDir(dataDir).filePath(QStringLiteral("intake-spool.jsonl"));
        intake.ns = o.ns;
        if (auto problem = intake.problem()) {
            err << "sluice " << name << ": " << *problem << "\n";
            return 2;
        }
        e.intake = std::make_unique<IntakeServer>(intake, e.redis.client.get(), &e.metrics);
        const auto port = e.intake->start();
        if (!port.ok()) {
            err << "sluice " << name << ": " << port.error() << "\n";
            return 1;
        }
        qInfo("listening for webhooks on http://%s (POST /instantly/add_lead)%s",
              qPrintable(o.listenText()),
              o.webhookSecret.isEmpty() ? ", WITHOUT signature checks (CLOSE_WEBHOOK_SECRET unset)"
                                        : "");
    }

    e.delivery = std::make_unique<DeliveryEngine>(settings, &e.metrics);
    QObject::connect(e.delivery.get(), &DeliveryEngine::warningRaised, e.delivery.get(),
                     [](const QString &w) { qWarning("%s", qPrintable(w)); });
    if (auto problem = e.delivery->start()) {
        err << "sluice " << name << ": " << *problem << "\n";
        return 1;
    }
    if (e.intake) {
        DeliveryEngine *delivery = e.delivery.get();
        e.intake->setHealthSource(
            [delivery](bool &healthy) { return deliveryHealth(delivery->snapshot(), healthy); });
    }
    qInfo("sluice %s %s: %d dispatcher(s) on the delivery thread, %s mode, limits %s, Instantly "
          "%s (key %s), namespace '%s'",
          qPrintable(name), SLUICE_VERSION, o.workers,
          o.mode == ServeOptions::Mode::Single ? "single" : "bulk",
          qPrintable(settings.limiter.describe()), qPrintable(o.instantlyUrl.toString()),
          qPrintable(maskSecret(o.instantlyApiKey)), qPrintable(o.ns));

    quitOnTerminationSignals();
    int code = QCoreApplication::exec();

    // Graceful stop: no new webhooks; dispatchers hand back what they have not sent.
    qInfo("stopping: closing the listener, handing back unsent work");
    e.intake.reset();
    if (!e.delivery->stop(std::chrono::seconds { 15 }))
        qWarning("the dispatchers did not stop within 15 s; their leads will be reclaimed");
    e.delivery.reset();
    if (e.redis.client)
        e.redis.client->disconnectFromServer();
    qInfo("stopped");
    return code;
}

int runRetryCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (args.contains(QStringLiteral("--help")) || args.size() < 2
        || args.at(1) != QLatin1String("--dead")) {
        (args.contains(QStringLiteral("--help")) ? out : err)
            << "Usage: sluice retry --dead [--redis URL] [--namespace NS] [--data-dir DIR]\n"
               "Moves every dead-lettered lead back into the queue.\n";
        return args.contains(QStringLiteral("--help")) ? 0 : 2;
    }
    QStringList rest = args.mid(2);
    const auto parsed = parseServeOptions(rest, QProcessEnvironment::systemEnvironment(), true);
    if (!parsed.ok()) {
        err << "sluice retry: " << parsed.error() << "\n";
        return 2;
    }
    const ServeOptions &o = parsed.value();
    const QString dataDir = o.dataDir.isEmpty() ? defaultDataDir() : o.dataDir;
    Engine e;
    if (!chooseRedis(e.redis, o, dataDir))
        return 1;
    connectRedis(e.redis);
    int code = 1;
    Dispatcher::retryDead(
        e.redis.client.get(), RedisKeys(o.ns), 1'000'000, [&](Result<int, RedisError> r) {
            if (r.ok()) {
                out << "moved " << r.value() << " dead-lettered lead(s) back into the queue\n";
                code = 0;
            } else {
                err << "sluice retry: " << r.error().describe() << "\n";
            }
            QCoreApplication::quit();
        });
    QCoreApplication::exec();
    return code;
}
