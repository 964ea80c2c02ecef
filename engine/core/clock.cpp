#include "clock.h"

#include <QDateTime>

#include <atomic>

namespace sluice {

Clock::Duration SteadyClock::now() const
{
    return std::chrono::duration_cast<Duration>(
        std::chrono::steady_clock::now().time_since_epoch());
}

qint64 wallClockMs()
{
    return QDateTime::currentMSecsSinceEpoch();
}

namespace {
std::atomic<qint64> g_fleetOffsetMs { 0 };
}

qint64 fleetClockMs()
{
    return wallClockMs() + g_fleetOffsetMs.load(std::memory_order_relaxed);
}

qint64 fleetClockOffsetMs()
{
    return g_fleetOffsetMs.load(std::memory_order_relaxed);
}

void setFleetClockOffsetMs(qint64 offset)
{
    g_fleetOffsetMs.store(offset, std::memory_order_relaxed);
}

} // namespace sluice
