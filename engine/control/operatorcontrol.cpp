#include "operatorcontrol.h"

#include "breaker/sharedbreaker.h"
#include "core/clock.h"
#include "queue/pausecause.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

namespace sluice {

namespace {

const QString kRetryDeadScript = QStringLiteral("dispatch_retry_dead");
const QString kDeadCountsScript = QStringLiteral("dead_counts");
const QString kDeadListScript = QStringLiteral("dead_list");
const QString kDeadDiscardScript = QStringLiteral("dead_discard");

/// Dead letters from a reply shaped as XRANGE's: {{id, {field, value, ...}}, ...}.
std::vector<DeadLetter> deadLettersOf(const RedisReply &reply)
{
    std::vector<DeadLetter> out;
    for (const RedisReply &entry : reply.elements()) {
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
    return out;
}

std::function<void(RedisResult)> countReply(std::function<void(Result<int, RedisError>)> done)
{
    return [done = std::move(done)](RedisResult r) {
        if (!done)
            return;
        if (!r.ok())
            done(r.error());
        else
            done(int(r.value().integer()));
    };
}

} // namespace

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
            if (!r.ok())
                done(r.error());
            else
                done(deadLettersOf(r.value()));
        });
}

void OperatorControl::retryDeadLetters(int max, std::function<void(Result<int, RedisError>)> done)
{
    m_redis->loadScript(kRetryDeadScript, bundledLuaScript(kRetryDeadScript));
    m_redis->evalScript(kRetryDeadScript, { m_keys.deadLetters(), m_keys.leads() },
                        { m_keys.prefix, QByteArray::number(std::max(1, max)) },
                        countReply(std::move(done)));
}

void OperatorControl::retryDeadLetter(const QByteArray &entryId,
                                      std::function<void(Result<int, RedisError>)> done)
{
    retryDeadLetters(std::vector<QByteArray> { entryId }, std::move(done));
}

void OperatorControl::pauseState(std::function<void(Result<PauseState, RedisError>)> done)
{
    m_redis->command(
        { "HMGET", m_keys.control(), "paused", "paused_cause", "paused_ms", "remaining_in_plan" },
        [done](RedisResult r) {
            if (!r.ok()) {
                done(r.error());
                return;
            }
            const RedisReply &v = r.value();
            PauseState state;
            if (v.at(0).isString())
                state.reason = QString::fromUtf8(v.at(0).bytes());
            state.cause = pauseCauseFromName(v.at(1).bytes());
            if (state.reason)
                state.sinceMs = v.at(2).bytes().toLongLong();
            bool known = false;
            const qint64 remaining = v.at(3).bytes().toLongLong(&known);
            state.remainingInPlan = known ? remaining : -1;
            done(std::move(state));
        });
}

void OperatorControl::deadLetterCounts(
    std::function<void(Result<std::vector<DeadLetterCount>, RedisError>)> done)
{
    m_redis->loadScript(kDeadCountsScript, bundledLuaScript(kDeadCountsScript));
    m_redis->evalScript(kDeadCountsScript, { m_keys.deadLetters(), m_keys.deadLetterCounts() }, {},
                        [done](RedisResult r) {
                            if (!r.ok()) {
                                done(r.error());
                                return;
                            }
                            // Codes this build does not know (a newer instance's) count as Unknown.
                            std::vector<DeadLetterCount> byReason;
                            for (LeadReason reason : allLeadReasons())
                                byReason.push_back({ reason, 0, 0 });
                            const auto &e = r.value().elements();
                            for (size_t i = 0; i + 2 < e.size(); i += 3) {
                                const LeadReason code = leadReasonFromCode(e[i].bytes());
                                for (DeadLetterCount &c : byReason) {
                                    if (c.code != code)
                                        continue;
                                    c.count += e[i + 1].integer();
                                    c.newestMs = std::max(c.newestMs, e[i + 2].integer());
                                }
                            }
                            std::vector<DeadLetterCount> out;
                            for (const DeadLetterCount &c : byReason)
                                if (c.count > 0)
                                    out.push_back(c);
                            done(std::move(out));
                        });
}

void OperatorControl::deadLettersWithReason(
    LeadReason code, int count,
    std::function<void(Result<std::vector<DeadLetter>, RedisError>)> done)
{
    m_redis->loadScript(kDeadListScript, bundledLuaScript(kDeadListScript));
    m_redis->evalScript(kDeadListScript, { m_keys.deadLetters() },
                        { QByteArray::number(std::max(0, count)), leadReasonCode(code) },
                        [done](RedisResult r) {
                            if (!r.ok())
                                done(r.error());
                            else
                                done(deadLettersOf(r.value()));
                        });
}

void OperatorControl::retryDeadLettersWithReason(LeadReason code, int max,
                                                 std::function<void(Result<int, RedisError>)> done)
{
    m_redis->loadScript(kRetryDeadScript, bundledLuaScript(kRetryDeadScript));
    m_redis->evalScript(
        kRetryDeadScript, { m_keys.deadLetters(), m_keys.leads() },
        { m_keys.prefix, QByteArray::number(std::max(1, max)), leadReasonCode(code) },
        countReply(std::move(done)));
}

void OperatorControl::retryDeadLetters(const std::vector<QByteArray> &entryIds,
                                       std::function<void(Result<int, RedisError>)> done)
{
    if (entryIds.empty()) {
        // Nothing to move; still answered from the event loop, as every other outcome.
        m_redis->command({ "PING" }, [done](RedisResult r) {
            if (done)
                r.ok() ? done(0) : done(r.error());
        });
        return;
    }
    QList<QByteArray> args { m_keys.prefix, QByteArray::number(qsizetype(entryIds.size())), "" };
    for (const QByteArray &id : entryIds)
        args << id;
    m_redis->loadScript(kRetryDeadScript, bundledLuaScript(kRetryDeadScript));
    m_redis->evalScript(kRetryDeadScript, { m_keys.deadLetters(), m_keys.leads() }, args,
                        countReply(std::move(done)));
}

std::optional<QString>
OperatorControl::discardDeadLetters(const std::vector<QByteArray> &entryIds, const QString &who,
                                    const QString &why,
                                    std::function<void(Result<int, RedisError>)> done)
{
    if (who.trimmed().isEmpty())
        return QStringLiteral("say who discards (the name is kept with each discarded lead)");
    if (why.trimmed().isEmpty())
        return QStringLiteral("say why these leads are discarded (kept with each of them)");
    QList<QByteArray> args { m_keys.prefix, who.trimmed().toUtf8(), why.trimmed().toUtf8(),
                             QByteArray::number(kDiscardedKept) };
    for (const QByteArray &id : entryIds)
        args << id;
    m_redis->loadScript(kDeadDiscardScript, bundledLuaScript(kDeadDiscardScript));
    m_redis->evalScript(kDeadDiscardScript, { m_keys.deadLetters(), m_keys.discardedDeadLetters() },
                        args, countReply(std::move(done)));
    return std::nullopt;
}

} // namespace sluice

#include "moc_operatorcontrol.cpp" // NOLINT(bugprone-suspicious-include)
