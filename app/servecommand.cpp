#include "commands.h"
#include "logging.h"

#include "breaker/sharedbreaker.h"
#include "close/closeclient.h"
#include "config/serveoptions.h"
#include "core/secret.h"
#include "instantly/instantlyclient.h"
#include "intake/intakeserver.h"
#include "intake/metrics.h"
#include "limiter/sendaudit.h"
#include "limiter/sharedratelimiter.h"
#include "queue/dispatcher.h"
#include "queue/rediskeys.h"
#include "redis/privateredis.h"
#include "redis/redisclient.h"

#include <QCoreApplication>
#include <QDir>
#include <QHostInfo>
#include <QStandardPaths>
#include <QTextStream>
#include <QTimer>

#include <memory>
#include <vector>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

QString defaultDataDir()
{
    const QString base = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    return QDir(base.isEmpty() ? QDir::homePath() : base).filePath(QStringLiteral("sluice"));
}

/// Everything `serve` and `worker` run, wired together on this thread's event loop.
struct Engine
{
    std::unique_ptr<PrivateRedis> privateRedis;
    std::unique_ptr<RedisClient> redis;
    std::unique_ptr<InstantlyClient> instantly;
    std::unique_ptr<CloseClient> close;
    std::unique_ptr<SharedRateLimiter> limiter;
    std::unique_ptr<SharedBreaker> breaker;
    std::unique_ptr<SendAudit> audit;
    Metrics metrics;
    std::unique_ptr<IntakeServer> intake;
    std::vector<std::unique_ptr<Dispatcher>> dispatchers;
};

/// Connects to the configured Redis, or starts the private one. Prints why not and returns
/// false on failure.
bool connectRedis(Engine &e, const ServeOptions &o, const QString &dataDir)
{
    RedisOptions redisOptions;
    if (o.redisUrl.isEmpty()) {
        e.privateRedis
            = std::make_unique<PrivateRedis>(QDir(dataDir).filePath(QStringLiteral("redis")));
        if (auto problem = e.privateRedis->start()) {
            qCritical("cannot start the private Redis: %s", qPrintable(*problem));
            return false;
        }
        qInfo("no Redis configured: using a private redis-server at %s%s",
              qPrintable(e.privateRedis->url()),
              e.privateRedis->owned() ? "" : " (shared with another Sluice)");
        redisOptions.url = e.privateRedis->url();
    } else {
        redisOptions.url = o.redisUrl;
        redisOptions.caFile = o.redisCaFile;
    }
    if (auto problem = redisOptions.problem()) {
        qCritical("Redis: %s", qPrintable(*problem));
        return false;
    }
    e.redis = std::make_unique<RedisClient>(redisOptions);
    QObject::connect(e.redis.get(), &RedisClient::stateChanged, e.redis.get(),
                     [client = e.redis.get()](RedisClient::State state) {
                         qInfo("redis %s: %s", qPrintable(client->displayUrl()),
                               qPrintable(RedisClient::stateName(state)));
                     });
    e.redis->connectToServer();
    return true;
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
    if (!connectRedis(e, o, dataDir))
        return 1;
    const RedisKeys keys(o.ns);
    const QString instance = QHostInfo::localHostName() + QLatin1Char('-')
        + QString::number(QCoreApplication::applicationPid());

    InstantlyOptions instantly;
    instantly.baseUrl = o.instantlyUrl;
    instantly.apiKey = o.instantlyApiKey;
    e.instantly = std::make_unique<InstantlyClient>(instantly);
    CloseOptions close;
    close.baseUrl = o.closeUrl;
    close.apiKey = o.closeApiKey;
    e.close = std::make_unique<CloseClient>(close);

    LimiterOptions limiter;
    limiter.caps = o.caps;
    limiter.safetyFactor = o.safetyFactor;
    limiter.instancesHint = o.instancesHint;
    if (auto problem = limiter.problem()) {
        err << "sluice " << name << ": " << *problem << "\n";
        return 2;
    }
    e.limiter = std::make_unique<SharedRateLimiter>(e.redis.get(), keys.limiter(), limiter);
    QObject::connect(e.limiter.get(), &SharedRateLimiter::degradedChanged, e.limiter.get(),
                     [](bool degraded, const QString &why) {
                         if (degraded)
                             qWarning("limiter: %s", qPrintable(why));
                         else
                             qInfo("limiter: %s", qPrintable(why));
                     });
    e.breaker = std::make_unique<SharedBreaker>(e.redis.get(), keys.breaker(), BreakerOptions {});
    e.audit = std::make_unique<SendAudit>(e.redis.get(), keys.audit(), instance);

    if (!workerOnly) {
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
        e.intake = std::make_unique<IntakeServer>(intake, e.redis.get(), &e.metrics);
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

    DispatcherServices services { e.redis.get(),   e.instantly.get(), e.close.get(),
                                  e.limiter.get(), e.breaker.get(),   e.audit.get() };
    for (int i = 0; i < o.workers; ++i) {
        DispatcherOptions d;
        d.keyNamespace = o.ns;
        d.consumerName = instance + QLatin1Char('-') + QString::number(i);
        d.claimIdleTimeout = o.claimIdle;
        d.mode = o.mode == ServeOptions::Mode::Single ? DeliveryMode::Single : DeliveryMode::Bulk;
        auto dispatcher = std::make_unique<Dispatcher>(services, d);
        QObject::connect(dispatcher.get(), &Dispatcher::warningRaised, dispatcher.get(),
                         [](const QString &w) { qWarning("%s", qPrintable(w)); });
        if (auto problem = dispatcher->start()) {
            err << "sluice " << name << ": " << *problem << "\n";
            return 1;
        }
        e.dispatchers.push_back(std::move(dispatcher));
    }
    qInfo(
        "sluice %s %s: %d dispatcher(s), %s mode, limits %s, Instantly %s (key %s), namespace '%s'",
        qPrintable(name), SLUICE_VERSION, o.workers,
        o.mode == ServeOptions::Mode::Single ? "single" : "bulk", qPrintable(limiter.describe()),
        qPrintable(o.instantlyUrl.toString()), qPrintable(maskSecret(o.instantlyApiKey)),
        qPrintable(o.ns));

    quitOnTerminationSignals();
    int code = QCoreApplication::exec();

    // Graceful stop: no new webhooks; dispatchers hand back what they have not sent.
    qInfo("stopping: closing the listener, handing back unsent work");
    e.intake.reset();
    int running = 0;
    QEventLoop wait;
    for (auto &d : e.dispatchers) {
        ++running;
        QObject::connect(d.get(), &Dispatcher::stopped, &wait, [&] {
            if (--running == 0)
                wait.quit();
        });
        d->stop();
    }
    QTimer::singleShot(15'000, &wait, &QEventLoop::quit);
    if (running > 0)
        wait.exec();
    if (running > 0) {
        qWarning("%d dispatcher(s) did not stop within 15 s; their entries will be reclaimed",
                 running);
    }
    e.dispatchers.clear();
    e.redis->disconnectFromServer();
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
    if (!connectRedis(e, o, dataDir))
        return 1;
    int code = 1;
    Dispatcher::retryDead(
        e.redis.get(), RedisKeys(o.ns), 1'000'000, [&](Result<int, RedisError> r) {
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
