#pragma once

#include "store/rediskeys.h"

#include <QObject>
#include <QString>

#include <functional>
#include <optional>

namespace sluice {

class RedisClient;

/// The schema version of a namespace's data in Redis, checked before a dispatcher reads a
/// lead. Version 1 (no key): the delivered set had no expiry. Version 2: the delivered
/// sorted set (RedisKeys::delivered()), dead letters and parked leads with reason codes.
///
/// - Older data is migrated once, by one instance under a lock (the others wait for it);
///   the migration moves members atomically, chunk by chunk, so leads in flight meanwhile
///   are neither lost nor sent twice (dispatch_delivered.lua reads both sets).
/// - Newer data (written by a later Sluice) is refused: this instance would misread it.
class SchemaGate : public QObject
{
    Q_OBJECT
public:
    /// The version this build writes and understands.
    static constexpr int kVersion = 2;

    SchemaGate(RedisClient *redis, RedisKeys keys, QByteArray instance, QObject *parent = nullptr);

    /// Calls `done` once: nullopt when the data is at kVersion (migrated if needed), or the
    /// reason this instance must not run. While Redis is unreachable it keeps trying.
    void ensure(std::function<void(std::optional<QString> refusal)> done);

    /// The refusal text for data at `version`, or nullopt when this build can run on it.
    static std::optional<QString> refusalFor(int version, const QByteArray &keyPrefix);

private:
    void check();
    void migrate();
    void later(int ms);

    RedisClient *m_redis;
    RedisKeys m_keys;
    QByteArray m_instance;
    std::function<void(std::optional<QString>)> m_done;
    qint64 m_moved = 0;
};

} // namespace sluice
