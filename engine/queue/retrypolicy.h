#pragma once

#include <QtGlobal>

#include <chrono>

namespace sluice {

/// Delay before retry number `attempt` (1 = after the first failure) with "full jitter":
/// random01 × min(cap, base × 2^(attempt − 1)). Retries of many leads failed by the same
/// outage thus spread over the whole interval instead of returning together. `random01` is in
/// [0, 1) (a random number in production, fixed in tests).
std::chrono::milliseconds retryDelay(int attempt, std::chrono::milliseconds base,
                                     std::chrono::milliseconds cap, double random01);

} // namespace sluice
