#include "slidingwindowlimiter.h"

#include <algorithm>

namespace sluice {

using std::chrono::milliseconds;

SlidingWindowLimiter::SlidingWindowLimiter(std::vector<WindowRule> rules)
    : m_rules(std::move(rules))
{ }

void SlidingWindowLimiter::setRules(std::vector<WindowRule> rules)
{
    m_rules = std::move(rules);
}

void SlidingWindowLimiter::prune(milliseconds now)
{
    milliseconds longest { 0 };
    for (const WindowRule &rule : m_rules)
        longest = std::max(longest, rule.window);
    while (!m_admitted.empty() && m_admitted.front() <= now - longest)
        m_admitted.pop_front();
}

int SlidingWindowLimiter::admittedWithin(milliseconds now, milliseconds window) const
{
    // Entries are ascending: count those strictly after now - window (and not after now).
    const auto first = std::upper_bound(m_admitted.begin(), m_admitted.end(), now - window);
    const auto last = std::upper_bound(first, m_admitted.end(), now);
    return int(last - first);
}

std::optional<milliseconds> SlidingWindowLimiter::waitAt(milliseconds now) const
{
    milliseconds wait { 0 };
    for (const WindowRule &rule : m_rules) {
        if (rule.limit <= 0)
            return rule.window; // a zero limit never admits
        const int inWindow = admittedWithin(now, rule.window);
        if (inWindow < rule.limit)
            continue;
        // The (inWindow - limit + 1)-th oldest admission in the window must leave it first.
        const auto firstInWindow
            = std::upper_bound(m_admitted.begin(), m_admitted.end(), now - rule.window);
        const milliseconds leaves = *(firstInWindow + (inWindow - rule.limit)) + rule.window;
        wait = std::max(wait, leaves - now);
    }
    if (wait > milliseconds { 0 })
        return wait;
    return std::nullopt;
}

void SlidingWindowLimiter::record(milliseconds now)
{
    prune(now);
    m_admitted.push_back(now);
}

std::optional<milliseconds> SlidingWindowLimiter::tryAdmit(milliseconds now)
{
    prune(now);
    if (auto wait = waitAt(now))
        return wait;
    m_admitted.push_back(now);
    return std::nullopt;
}

std::optional<milliseconds> SlidingWindowLimiter::nextExpiry(milliseconds now,
                                                             milliseconds window) const
{
    const auto first = std::upper_bound(m_admitted.begin(), m_admitted.end(), now - window);
    if (first == m_admitted.end() || *first > now)
        return std::nullopt;
    return *first + window - now;
}

} // namespace sluice
