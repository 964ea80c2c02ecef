#pragma once

#include <QObject>
#include <QPointer>
#include <QTimer>

#include <chrono>
#include <functional>
#include <optional>

namespace sluice {

class RedisClient;

/// The offset of Redis's clock from this process's, from one TIME round trip: Redis's time
/// against the midpoint of the local send and receive times. nullopt for a reply that is not
/// TIME's [seconds, microseconds].
std::optional<qint64> fleetClockOffset(qint64 sentLocalMs, qint64 receivedLocalMs,
                                       qint64 redisSeconds, qint64 redisMicroseconds);

/// Measures the offset of Redis's clock from the local one (TIME) when the connection comes
/// up and then every `every`, and publishes it process-wide (setFleetClockOffsetMs), so that
/// fleetClockMs() is the fleet's time. A measurement with a round trip slower than
/// `maxRoundTrip` is dropped: its midpoint says too little. Warns once when the local clock
/// is off by more than a second, since other tools on this machine will be off too.
class FleetClock : public QObject
{
    Q_OBJECT
public:
    /// `localMs` stands in for the wall clock (tests); the default is wallClockMs().
    explicit FleetClock(RedisClient *redis,
                        std::chrono::milliseconds every = std::chrono::seconds { 60 },
                        std::function<qint64()> localMs = {}, QObject *parent = nullptr);

    /// Measures now (also done by itself on connect and every interval).
    void measure();
    /// The last published offset, Redis minus local; nullopt before the first measurement.
    std::optional<qint64> offsetMs() const { return m_offset; }

    static constexpr std::chrono::milliseconds kMaxRoundTrip { 250 };

Q_SIGNALS:
    void measured(qint64 offsetMs);

private:
    QPointer<RedisClient> m_redis;
    std::function<qint64()> m_localMs;
    QTimer m_timer;
    std::optional<qint64> m_offset;
    bool m_warned = false;
};

} // namespace sluice
