#include "fleetclock.h"

#include "core/clock.h"
#include "redis/redisclient.h"

#include <QLoggingCategory>

#include <cstdlib>

Q_LOGGING_CATEGORY(lcFleetClock, "sluice.clock")

namespace sluice {

std::optional<qint64> fleetClockOffset(qint64 sentLocalMs, qint64 receivedLocalMs,
                                       qint64 redisSeconds, qint64 redisMicroseconds)
{
    if (redisSeconds <= 0 || redisMicroseconds < 0 || redisMicroseconds >= 1'000'000
        || receivedLocalMs < sentLocalMs)
        return std::nullopt;
    const qint64 redisMs = redisSeconds * 1000 + redisMicroseconds / 1000;
    const qint64 midpoint = sentLocalMs + (receivedLocalMs - sentLocalMs) / 2;
    return redisMs - midpoint;
}

FleetClock::FleetClock(RedisClient *redis, std::chrono::milliseconds every,
                       std::function<qint64()> localMs, QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_localMs(localMs ? std::move(localMs) : std::function<qint64()>(&wallClockMs))
{
    m_timer.setInterval(every);
    connect(&m_timer, &QTimer::timeout, this, &FleetClock::measure);
    m_timer.start();
    connect(redis, &RedisClient::stateChanged, this, [this](RedisClient::State state) {
        if (state == RedisClient::State::Connected)
            measure();
    });
    if (redis->state() == RedisClient::State::Connected)
        measure();
}

void FleetClock::measure()
{
    if (!m_redis)
        return;
    const qint64 sent = m_localMs();
    QPointer<FleetClock> self(this);
    m_redis->command({ "TIME" }, [self, sent](RedisResult r) {
        if (!self || !r.ok() || r.value().elements().size() != 2)
            return;
        const qint64 received = self->m_localMs();
        if (received - sent > kMaxRoundTrip.count())
            return;
        const auto offset = fleetClockOffset(sent, received, r.value().at(0).bytes().toLongLong(),
                                             r.value().at(1).bytes().toLongLong());
        if (!offset)
            return;
        self->m_offset = *offset;
        setFleetClockOffsetMs(*offset);
        if (std::llabs(*offset) > 1000 && !self->m_warned) {
            self->m_warned = true;
            qCWarning(lcFleetClock).noquote()
                << QStringLiteral("this machine's clock is %1 ms %2 Redis's: Sluice keeps "
                                  "shared times on Redis's clock; fix the clock (NTP)")
                       .arg(std::llabs(*offset))
                       .arg(*offset > 0 ? QStringLiteral("behind") : QStringLiteral("ahead of"));
        }
        Q_EMIT self->measured(*offset);
    });
}

} // namespace sluice

#include "moc_fleetclock.cpp" // NOLINT(bugprone-suspicious-include)
