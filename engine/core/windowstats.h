#pragma once

#include <chrono>
#include <vector>

namespace sluice {

/// The most events that fall in any half-open window [t, t + window), for event times sorted
/// ascending. The proof behind "never more than the cap in any window": computed from what
/// was really sent, not from what the limiter believed.
int maxInAnyWindow(const std::vector<std::chrono::milliseconds> &sortedTimes,
                   std::chrono::milliseconds window);

} // namespace sluice
