#pragma once

#include <QtGlobal>

#include <chrono>

namespace sluice {

/// Monotonic time source. Limiters, breakers, back-off and the sandbox take one, so tests
/// step time instead of sleeping.
class Clock
{
public:
    using Duration = std::chrono::milliseconds;
    virtual ~Clock() = default;
    /// Milliseconds since an arbitrary, fixed origin; never goes backwards.
    virtual Duration now() const = 0;
};

/// The real monotonic clock (std::chrono::steady_clock).
class SteadyClock final : public Clock
{
public:
    Duration now() const override;
};

/// A clock that only moves when told to. For tests.
class ManualClock final : public Clock
{
public:
    explicit ManualClock(Duration start = Duration { 1'000'000 })
        : m_now(start)
    { }
    Duration now() const override { return m_now; }
    void advance(Duration step) { m_now += step; }

private:
    Duration m_now;
};

/// Milliseconds since the Unix epoch, for timestamps that leave the process.
qint64 wallClockMs();

/// Milliseconds since the Unix epoch on the fleet's clock: Redis's (TIME), as measured by
/// FleetClock, so that times stored in Redis and compared by another instance (a retry's
/// not-before, the breaker's open-until, a pause's start, a delivery's age) mean the same to
/// all of them whatever their own clocks say. The local clock until the first measurement.
qint64 fleetClockMs();
/// The measured offset, Redis minus local (FleetClock sets it; process-wide).
qint64 fleetClockOffsetMs();
void setFleetClockOffsetMs(qint64 offset);

} // namespace sluice
