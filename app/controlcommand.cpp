// `sluice pause --why TEXT` and `sluice resume`: the fleet's dispatching, by hand, through
// Redis (every instance, and every console, sees it at once). `sluice status`: the fleet's
// queue, forecasts and alerts, read from Redis.
#include "await.h"
#include "commandredis.h"
#include "commands.h"

#include "alerts/statusreport.h"
#include "control/operatorcontrol.h"
#include "core/jsontext.h"
#include "redis/redisclient.h"
#include "store/rediskeys.h"

#include <QTextStream>

using namespace sluice;

int runPauseCommand(const QStringList &args)
{
    const FlagTable flags = commandRedisTable(
        QStringLiteral("pause"), QStringLiteral("sluice pause --why TEXT [REDIS OPTIONS]"),
        QStringLiteral("Pauses the fleet's dispatching: every instance stops taking new leads\n"
                       "(those in flight finish) until `sluice resume`. Webhooks are still\n"
                       "accepted and queued."),
        { FlagSpec::option(QStringLiteral("why"), FlagType::Text, QStringLiteral("TEXT"),
                           QStringLiteral("why dispatching stops (shown in the console, /healthz "
                                          "and the logs of every instance); required")) });
    const auto read = readCommandFlags(flags, args.mid(1));
    if (const int *code = std::get_if<int>(&read))
        return *code;
    const FlagValues &values = std::get<FlagValues>(read);
    const QString why = values.text(QStringLiteral("why")).trimmed();
    if (why.isEmpty()) {
        QTextStream(stderr) << "sluice pause: say why with --why TEXT (it is shown everywhere "
                               "the pause is)\n";
        return 2;
    }
    CommandRedis redis;
    const auto ns = openCommandRedis(redis, values, QStringLiteral("pause"));
    if (const int *code = std::get_if<int>(&ns))
        return *code;
    OperatorControl control(redis.client.get(), RedisKeys(std::get<QString>(ns)), nullptr);
    const auto error = await<std::optional<RedisError>>([&](auto done) {
        if (auto refused = control.pause(why, done))
            done(RedisError { RedisError::Kind::Usage, *refused, {} });
    });
    if (error) {
        QTextStream(stderr) << "sluice pause: " << error->describe() << "\n";
        return 1;
    }
    QTextStream(stdout) << "dispatching paused for the whole fleet: " << why << "\n";
    return 0;
}

int runResumeCommand(const QStringList &args)
{
    const FlagTable flags = commandRedisTable(
        QStringLiteral("resume"), QStringLiteral("sluice resume [REDIS OPTIONS]"),
        QStringLiteral("Ends the fleet's pause, whatever its cause (an operator's, a rejected\n"
                       "key, an exhausted plan: fix that first, or the fleet pauses itself again\n"
                       "at its next request)."));
    const auto read = readCommandFlags(flags, args.mid(1));
    if (const int *code = std::get_if<int>(&read))
        return *code;
    CommandRedis redis;
    const auto ns = openCommandRedis(redis, std::get<FlagValues>(read), QStringLiteral("resume"));
    if (const int *code = std::get_if<int>(&ns))
        return *code;
    OperatorControl control(redis.client.get(), RedisKeys(std::get<QString>(ns)), nullptr);
    const auto before = await<Result<PauseState, RedisError>>(
        [&](auto done) { control.pauseState(std::move(done)); });
    if (!before.ok()) {
        QTextStream(stderr) << "sluice resume: " << before.error().describe() << "\n";
        return 1;
    }
    const auto error
        = await<std::optional<RedisError>>([&](auto done) { control.resume(std::move(done)); });
    if (error) {
        QTextStream(stderr) << "sluice resume: " << error->describe() << "\n";
        return 1;
    }
    if (before.value().reason)
        QTextStream(stdout) << "dispatching resumed (it was paused, "
                            << pauseCauseName(before.value().cause) << ": "
                            << *before.value().reason << ")\n";
    else
        QTextStream(stdout) << "dispatching was not paused; nothing to resume\n";
    return 0;
}

int runStatusCommand(const QStringList &args)
{
    const FlagTable flags = commandRedisTable(
        QStringLiteral("status"), QStringLiteral("sluice status [--json] [REDIS OPTIONS]"),
        QStringLiteral("The fleet as Redis holds it: the queue, the pause, each instance's\n"
                       "forecast (its backlog, when that drains, the budget left this minute,\n"
                       "429s its own pace cannot explain) and the alerts firing now. Needs no\n"
                       "running console: every serve writes its figures every few seconds."),
        { FlagSpec::toggle(QStringLiteral("json"), QStringLiteral("print JSON instead")) });
    const auto read = readCommandFlags(flags, args.mid(1));
    if (const int *code = std::get_if<int>(&read))
        return *code;
    const FlagValues &values = std::get<FlagValues>(read);
    CommandRedis redis;
    const auto ns = openCommandRedis(redis, values, QStringLiteral("status"));
    if (const int *code = std::get_if<int>(&ns))
        return *code;
    const auto [report, error]
        = await<std::pair<std::optional<StatusReport>, QString>>([&](auto done) {
              readStatusReport(redis.client.get(), RedisKeys(std::get<QString>(ns)),
                               [done](std::optional<StatusReport> r, QString e) {
                                   done({ std::move(r), std::move(e) });
                               });
          });
    if (!report) {
        QTextStream(stderr) << "sluice status: " << error << "\n";
        return 1;
    }
    if (values.isOn(QStringLiteral("json")))
        QTextStream(stdout) << QString::fromStdString(jsonText(report->toJson(), 2)) << "\n";
    else
        QTextStream(stdout) << QStringLiteral("Namespace '%1'\n").arg(std::get<QString>(ns))
                            << report->text();
    return 0;
}
