// A test tool: one process that takes limiter slots as fast as it is given them for a while,
// recording each grant in the send audit as if it were an upstream request. Several of these
// prove that the limit is shared across processes, not per process.
#include "limiter/sendaudit.h"
#include "limiter/sharedratelimiter.h"
#include "net/apitransport.h"
#include "redis/redisclient.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTextStream>
#include <QTimer>

using namespace sluice;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() != 6) {
        QTextStream(stderr)
            << "usage: limiterprobe REDIS_URL LIMITER_KEY AUDIT_STREAM DURATION_MS NAME\n";
        return 2;
    }
    RedisOptions redisOptions;
    redisOptions.url = args[1];
    RedisClient redis(redisOptions);
    redis.connectToServer();
    SharedRateLimiter limiter(&redis, args[2].toUtf8(), LimiterOptions {});
    SendAudit audit(&redis, args[3].toUtf8(), args[5]);
    const qint64 durationMs = args[4].toLongLong();

    QElapsedTimer elapsed;
    elapsed.start();
    int granted = 0, degraded = 0;
    std::function<void()> next = [&] {
        if (elapsed.elapsed() >= durationMs) {
            // Let the last XADDs reach Redis before leaving.
            redis.command({ "PING" }, [&](RedisResult) {
                QTextStream(stdout) << granted << " granted, " << degraded << " degraded\n";
                app.quit();
            });
            return;
        }
        limiter.acquire([&](const LimiterGrant &grant) {
            ++granted;
            degraded += grant.degraded ? 1 : 0;
            ApiResult sent;
            sent.outcome = CallOutcome::Success;
            sent.httpStatus = 200;
            sent.endpoint = QStringLiteral("POST /probe");
            audit.record(sent, grant.grantedAtMs);
            limiter.report(sent, grant);
            next();
        });
    };
    QTimer::singleShot(0, &app, next);
    return app.exec();
}
