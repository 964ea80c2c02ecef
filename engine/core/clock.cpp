#include "clock.h"

#include <QDateTime>

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

} // namespace sluice
