#include "settler.h"

#include "core/clock.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QPointer>

#include <algorithm>

namespace sluice {

namespace {

const QString kSettle = QStringLiteral("dispatch_settle");
/// Records per dispatch_settle call (see Settler::settle()).
constexpr size_t kSettleChunk = 50;

QByteArray settleNum(qint64 n)
{
    return QByteArray::number(n);
}

} // namespace

QByteArray settlementToken(Settlement kind)
{
    switch (kind) {
    case Settlement::Delivered:
        return "ok";
    case Settlement::Skipped:
        return "skip";
    case Settlement::Failed:
        return "fail";
    case Settlement::Dead:
        return "dead";
    case Settlement::Retry:
        return "retry";
    case Settlement::Park:
        return "park";
    }
    return "fail";
}

Settler::Settler(RedisClient *redis, RedisKeys keys, QByteArray consumer,
                 std::chrono::milliseconds retention, QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_keys(std::move(keys))
    , m_consumer(std::move(consumer))
    , m_retention(retention)
{ }

void Settler::loadScript(RedisClient *redis)
{
    redis->loadScript(kSettle, bundledLuaScript(kSettle));
}

void Settler::settle(std::vector<SettleRecord> records, Done done)
{
    // Redis runs one script at a time: a 1000-lead settle held it for 15-20 ms (up to 70)
    // and every webhook acknowledgement waited behind it. Chunks keep each hold near 1 ms;
    // every entry is still settled atomically with its own bookkeeping.
    for (size_t i = 0; i < records.size(); i += kSettleChunk) {
        const auto first = records.begin() + qsizetype(i);
        const auto last = records.begin() + qsizetype(std::min(records.size(), i + kSettleChunk));
        settleChunk(std::vector<SettleRecord>(std::make_move_iterator(first),
                                              std::make_move_iterator(last)),
                    done);
    }
}

void Settler::settleChunk(std::vector<SettleRecord> records, Done done)
{
    QList<QByteArray> args { RedisKeys::dispatcherGroup(), settleNum(fleetClockMs()), m_keys.prefix,
                             m_consumer, settleNum(m_retention.count()) };
    for (const SettleRecord &s : records)
        args << s.entryId << settlementToken(s.kind) << s.taskId.toUtf8() << s.member
             << s.reason.toUtf8() << settleNum(s.retryAtMs) << settleNum(s.attempt)
             << s.identity.toUtf8() << s.campaign.toUtf8() << settleNum(s.request.number)
             << settleNum(s.request.status) << settleNum(s.request.latencyMs)
             << settleNum(s.request.waitMs) << s.request.breaker << settleNum(s.request.leads)
             << (s.kind == Settlement::Dead || s.kind == Settlement::Park ? leadReasonCode(s.code)
                                                                          : QByteArray())
             << (s.uncertain ? QByteArrayLiteral("u") : QByteArray());
    QPointer<Settler> self(this);
    m_redis->evalScript(
        kSettle, { m_keys.leads(), m_keys.retries(), m_keys.deadLetters(), m_keys.delivered() },
        args, [self, records = std::move(records), done = std::move(done)](RedisResult r) {
            if (!self || !done)
                return;
            done(records, r.ok() ? QString() : r.error().describe());
        });
}

} // namespace sluice

#include "moc_settler.cpp" // NOLINT(bugprone-suspicious-include)
