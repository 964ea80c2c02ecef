#include "retrypolicy.h"

#include <algorithm>
#include <cmath>

namespace sluice {

std::chrono::milliseconds retryDelay(int attempt, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap, double random01)
{
    const int exponent = std::clamp(attempt - 1, 0, 62);
    // In double: base × 2^62 would overflow an integer long before the cap applies.
    const double nominal
        = std::min(double(cap.count()), double(base.count()) * std::ldexp(1.0, exponent));
    const double jitter = std::clamp(random01, 0.0, 1.0);
    return std::chrono::milliseconds { qint64(std::floor(nominal * jitter)) };
}

} // namespace sluice
