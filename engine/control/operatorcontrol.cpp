#include "operatorcontrol.h"

#include "breaker/sharedbreaker.h"
#include "core/clock.h"
#include "queue/dispatcher.h"
#include "queue/pausecause.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

namespace sluice {

OperatorControl::OperatorControl(RedisClient *redis, RedisKeys keys, SharedBreaker *breaker,
                                 QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_keys(std::move(keys))
    , m_breaker(breaker)
{ }

std::optional<QString> OperatorControl::pause(const QString &reason,
                                              std::function<void(std::optional<RedisError>)> done)
{
    if (reason.trimmed().isEmpty())
        return QStringLiteral("say why dispatching is paused (the reason is shown everywhere)");
    m_redis->command({ "HSET", m_keys.control(), "paused", reason.trimmed().toUtf8(),
                       "paused_cause", pauseCauseName(PauseCause::Operator), "paused_ms",
                       QByteArray::number(fleetClockMs()) },
                     [done](RedisResult r) {
                         if (done)
                             done(r.ok() ? std::nullopt : std::optional<RedisError>(r.error()));
                     });
    return std::nullopt;
}

void OperatorControl::resume(std::function<void(std::optional<RedisError>)> done)
{
    // Any pause, the fleet's own too (an operator who fixed the key need not wait for the
    // probe).
    m_redis->command({ "HDEL", m_keys.control(), "paused", "paused_cause", "paused_ms" },
                     [done](RedisResult r) {
                         if (done)
                             done(r.ok() ? std::nullopt : std::optional<RedisError>(r.error()));
                     });
}

void OperatorControl::pausedReason(
    std::function<void(Result<std::optional<QString>, RedisError>)> done)
{
    m_redis->command({ "HGET", m_keys.control(), "paused" }, [done](RedisResult r) {
        if (!r.ok()) {
            done(r.error());
            return;
        }
        done(r.value().isString() ? std::optional<QString>(QString::fromUtf8(r.value().bytes()))
                                  : std::optional<QString>());
    });
}

std::optional<QString> OperatorControl::forceBreakerOpen(const QString &reason,
                                                         std::chrono::milliseconds duration)
{
    return m_breaker->forceOpen(reason, duration);
}

std::optional<QString> OperatorControl::forceBreakerClosed(const QString &reason,
                                                           std::chrono::milliseconds duration)
{
    return m_breaker->forceClosed(reason, duration);
}

void OperatorControl::clearBreakerForce(const QString &why)
{
    m_breaker->clearForce(why);
}

void OperatorControl::deadLetters(
    int count, std::function<void(Result<std::vector<DeadLetter>, RedisError>)> done)
{
    m_redis->command(
        { "XREVRANGE", m_keys.deadLetters(), "+", "-", "COUNT", QByteArray::number(count) },
        [done](RedisResult r) {
            if (!r.ok()) {
                done(r.error());
                return;
            }
            std::vector<DeadLetter> out;
            for (const RedisReply &entry : r.value().elements()) {
                DeadLetter d;
                d.entryId = entry.at(0).bytes();
                QList<QByteArray> fields;
                const auto &f = entry.at(1).elements();
                for (size_t i = 0; i + 1 < f.size(); i += 2) {
                    if (f[i].bytes() == "reason")
                        d.reason = QString::fromUtf8(f[i + 1].bytes());
                    else if (f[i].bytes() == "code")
                        d.code = leadReasonFromCode(f[i + 1].bytes());
                    else if (f[i].bytes() == "dead_ms")
                        d.deadMs = f[i + 1].bytes().toLongLong();
                    fields << f[i].bytes() << f[i + 1].bytes();
                }
                auto lead = QueuedLead::fromFields(fields);
                if (lead.ok())
                    d.lead = lead.value();
                out.push_back(std::move(d));
            }
            done(std::move(out));
        });
}

void OperatorControl::retryDeadLetters(int max, std::function<void(Result<int, RedisError>)> done)
{
    Dispatcher::retryDead(m_redis, m_keys, max, std::move(done));
}

void OperatorControl::retryDeadLetter(const QByteArray &entryId,
                                      std::function<void(Result<int, RedisError>)> done)
{
    const QString script = QStringLiteral("dispatch_retry_dead");
    m_redis->loadScript(script, bundledLuaScript(script));
    m_redis->evalScript(script, { m_keys.deadLetters(), m_keys.leads() },
                        { m_keys.prefix, "1", entryId }, [done](RedisResult r) {
                            if (!r.ok())
                                done(r.error());
                            else
                                done(int(r.value().integer()));
                        });
}

} // namespace sluice
