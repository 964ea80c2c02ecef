#include "commandredis.h"

#include "commands.h"

#include "config/serveoptions.h"
#include "redis/privateredis.h"
#include "redis/redisclient.h"

#include <QDir>
#include <QLoggingCategory>
#include <QStandardPaths>
#include <QTextStream>

using namespace sluice;

CommandRedis::CommandRedis() = default;

CommandRedis::~CommandRedis() = default;

std::vector<FlagSpec> commandRedisSpecs()
{
    return serveFlagSpecs({ QStringLiteral("redis"), QStringLiteral("redis-ca-file"),
                            QStringLiteral("namespace"), QStringLiteral("data-dir") });
}

QString commandRedisHelp()
{
    return QStringLiteral("The Redis options are those of `sluice serve`, each also an environment "
                          "variable.\nWith no Redis configured, the private redis-server in the "
                          "data directory is used.\n");
}

std::variant<QString, int> openCommandRedis(CommandRedis &redis, const FlagValues &values,
                                            const QString &command)
{
    const auto options = serveOptionsFrom(values, true);
    if (!options.ok()) {
        QTextStream(stderr) << "sluice " << command << ": " << options.error() << "\n";
        return 2;
    }
    const ServeOptions &o = options.value();
    // Connection chatter ("redis ...: connected") would only clutter the output; warnings and
    // errors still show.
    QLoggingCategory::setFilterRules(QStringLiteral("default.info=false"));
    if (!chooseRedis(redis, o, o.dataDir.isEmpty() ? defaultDataDir() : o.dataDir))
        return 1;
    connectRedis(redis);
    return o.dispatcher.keyNamespace;
}

QString defaultDataDir()
{
    const QString base = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    return QDir(base.isEmpty() ? QDir::homePath() : base).filePath(QStringLiteral("sluice"));
}

bool chooseRedis(CommandRedis &redis, const ServeOptions &o, const QString &dataDir)
{
    if (o.redisUrl.isEmpty()) {
        redis.privateRedis
            = std::make_unique<PrivateRedis>(QDir(dataDir).filePath(QStringLiteral("redis")));
        if (auto problem = redis.privateRedis->start()) {
            qCritical("cannot start the private Redis: %s", qPrintable(*problem));
            return false;
        }
        qInfo("no Redis configured: using a private redis-server at %s%s",
              qPrintable(redis.privateRedis->url()),
              redis.privateRedis->owned() ? "" : " (shared with another Sluice)");
        redis.options.url = redis.privateRedis->url();
    } else {
        redis.options.url = o.redisUrl;
        redis.options.caFile = o.redisCaFile;
    }
    if (auto problem = redis.options.problem()) {
        qCritical("Redis: %s", qPrintable(*problem));
        return false;
    }
    return true;
}

void connectRedis(CommandRedis &redis)
{
    redis.client = std::make_unique<RedisClient>(redis.options);
    QObject::connect(redis.client.get(), &RedisClient::stateChanged, redis.client.get(),
                     [client = redis.client.get()](RedisClient::State state) {
                         qInfo("redis %s: %s", qPrintable(client->displayUrl()),
                               qPrintable(RedisClient::stateName(state)));
                     });
    redis.client->connectToServer();
}

std::variant<FlagValues, int> readCommandFlags(const FlagTable &table, const QStringList &args)
{
    const auto values = table.parse(args, QProcessEnvironment::systemEnvironment());
    if (!values.ok()) {
        QTextStream(stderr) << "sluice " << table.command() << ": " << values.error() << "\n";
        return 2;
    }
    if (values->helpRequested()) {
        QTextStream(stdout) << table.helpText();
        return 0;
    }
    return values.value();
}

FlagTable commandRedisTable(const QString &command, const QString &usage, const QString &about,
                            const std::vector<FlagSpec> &own)
{
    FlagTable table(command, usage, about);
    table.add(own);
    table.add(commandRedisSpecs());
    table.setFooter(commandRedisFooter());
    return table;
}

QString commandRedisFooter()
{
    return commandRedisHelp()
        + QStringLiteral("Exit status: 0 done, 1 Redis failed (or nothing was done), 2 bad "
                         "input.\n");
}
