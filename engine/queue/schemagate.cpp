#include "schemagate.h"

#include "core/clock.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QLoggingCategory>
#include <QPointer>
#include <QTimer>

namespace sluice {

Q_LOGGING_CATEGORY(lcSchema, "sluice.schema")

namespace {

const QString kMigrate = QStringLiteral("schema_migrate");
/// Members moved per script call: about a millisecond of Redis each.
constexpr int kChunk = 1000;
/// The lock outlives a stalled migrator by this much; each chunk renews it.
constexpr int kLockMs = 30'000;
/// How often a waiting instance, or one without Redis, looks again.
constexpr int kPollMs = 200;

} // namespace

SchemaGate::SchemaGate(RedisClient *redis, RedisKeys keys, QByteArray instance, QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_keys(std::move(keys))
    , m_instance(std::move(instance))
{
    m_redis->loadScript(kMigrate, bundledLuaScript(kMigrate));
}

std::optional<QString> SchemaGate::refusalFor(int version, const QByteArray &keyPrefix)
{
    if (version <= kVersion)
        return std::nullopt;
    return QStringLiteral("the data under %1 in Redis is schema version %2, written by a newer "
                          "Sluice; this one (%3) understands up to version %4 and would "
                          "misread it. Upgrade Sluice on this machine.")
        .arg(QString::fromUtf8(keyPrefix))
        .arg(version)
        .arg(QStringLiteral(SLUICE_VERSION))
        .arg(kVersion);
}

void SchemaGate::ensure(std::function<void(std::optional<QString>)> done)
{
    m_done = std::move(done);
    check();
}

void SchemaGate::later(int ms)
{
    QPointer<SchemaGate> self(this);
    QTimer::singleShot(ms, this, [self] {
        if (self)
            self->check();
    });
}

void SchemaGate::check()
{
    QPointer<SchemaGate> self(this);
    m_redis->command({ "GET", m_keys.schema() }, [self](RedisResult r) {
        if (!self)
            return;
        if (!r.ok())
            return self->later(kPollMs); // Redis away: the reader would wait for it too
        const int version = r.value().isNil() ? 1 : r.value().bytes().toInt();
        if (version == kVersion) {
            if (self->m_moved > 0)
                qCInfo(lcSchema).noquote()
                    << "migrated" << self->m_moved << "delivered leads to schema" << kVersion;
            return self->m_done(std::nullopt);
        }
        if (auto refusal = refusalFor(version, self->m_keys.prefix))
            return self->m_done(refusal);
        // Older (or new) data: one instance migrates, the others wait for the version.
        self->m_redis->command({ "SET", self->m_keys.schemaLock(), self->m_instance, "NX", "PX",
                                 QByteArray::number(kLockMs) },
                               [self](RedisResult lock) {
                                   if (!self)
                                       return;
                                   if (lock.ok() && !lock.value().isNil())
                                       return self->migrate();
                                   self->later(kPollMs);
                               });
    });
}

void SchemaGate::migrate()
{
    QPointer<SchemaGate> self(this);
    m_redis->evalScript(
        kMigrate, { m_keys.legacyDelivered(), m_keys.delivered() },
        { QByteArray::number(kChunk), QByteArray::number(wallClockMs()) }, [self](RedisResult r) {
            if (!self)
                return;
            if (!r.ok()) {
                qCWarning(lcSchema).noquote() << "schema migration:" << r.error().describe();
                return self->later(kPollMs); // the lock lapses; whoever holds it next goes on
            }
            const qint64 moved = r.value().integer();
            self->m_moved += moved;
            if (moved > 0) {
                self->m_redis->command({ "SET", self->m_keys.schemaLock(), self->m_instance, "XX",
                                         "PX", QByteArray::number(kLockMs) },
                                       {});
                return self->migrate();
            }
            self->m_redis->command(
                { "SET", self->m_keys.schema(), QByteArray::number(kVersion) },
                [self](RedisResult set) {
                    if (!self)
                        return;
                    self->m_redis->command({ "DEL", self->m_keys.schemaLock() }, {});
                    if (!set.ok())
                        return self->later(kPollMs);
                    self->check();
                });
        });
}

} // namespace sluice

#include "moc_schemagate.cpp" // NOLINT(bugprone-suspicious-include)
