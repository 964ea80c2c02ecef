#include "commandredis.h"

#include "config/serveoptions.h"
#include "redis/privateredis.h"
#include "redis/redisclient.h"

#include <QDir>
#include <QStandardPaths>

using namespace sluice;

CommandRedis::CommandRedis() = default;

CommandRedis::~CommandRedis() = default;

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
