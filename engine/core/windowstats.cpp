#include "windowstats.h"

#include <algorithm>

namespace sluice {

int maxInAnyWindow(const std::vector<std::chrono::milliseconds> &sortedTimes,
                   std::chrono::milliseconds window)
{
    // Some worst window starts at an event; slide its end pointer forward.
    int best = 0;
    size_t end = 0;
    for (size_t begin = 0; begin < sortedTimes.size(); ++begin) {
        end = std::max(end, begin);
        while (end < sortedTimes.size() && sortedTimes[end] < sortedTimes[begin] + window)
            ++end;
        best = std::max(best, int(end - begin));
    }
    return best;
}

} // namespace sluice
