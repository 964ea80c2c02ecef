#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <vector>

namespace sluice {

/// At most `limit` admissions in any window of length `window`.
struct WindowRule
{
    std::chrono::milliseconds window;
    int limit = 0;
};

/// Exact sliding-window log, the way a strict upstream enforces a workspace limit: a request at
/// time t is admitted only if, for every rule, fewer than `limit` admissions lie in (t - window,
/// t]. That makes "more than `limit` in any window" impossible, which is what the tests check.
class SlidingWindowLimiter
{
public:
    explicit SlidingWindowLimiter(std::vector<WindowRule> rules = {});

    void setRules(std::vector<WindowRule> rules);
    const std::vector<WindowRule> &rules() const { return m_rules; }

    /// Admits (and records) a request at `now`, returning nullopt; or refuses it and returns
    /// how long until a request would be admitted.
    std::optional<std::chrono::milliseconds> tryAdmit(std::chrono::milliseconds now);

    /// How long until a request at `now` would be admitted (nullopt: now), recording nothing:
    /// for callers that must check several limiters before admitting into all of them.
    std::optional<std::chrono::milliseconds> waitAt(std::chrono::milliseconds now) const;
    /// Records an admission at `now` without checking (after waitAt() said yes).
    void record(std::chrono::milliseconds now);

    /// How long until the oldest admission in (now - window, now] leaves the window, or nullopt
    /// when the window is empty.
    std::optional<std::chrono::milliseconds> nextExpiry(std::chrono::milliseconds now,
                                                        std::chrono::milliseconds window) const;

    /// Admissions in (now - window, now].
    int admittedWithin(std::chrono::milliseconds now, std::chrono::milliseconds window) const;

private:
    void prune(std::chrono::milliseconds now);

    std::vector<WindowRule> m_rules;
    std::deque<std::chrono::milliseconds> m_admitted; ///< ascending
};

} // namespace sluice
