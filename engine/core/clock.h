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

} // namespace sluice
