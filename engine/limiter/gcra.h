#pragma once

#include "limiteroptions.h"

#include <chrono>
#include <vector>

namespace sluice {

/// One cap as GCRA runs it: requests are spaced `intervalMs` apart on average, and one may come
/// up to `toleranceMs` before its slot (catch-up for a caller that was late, never a burst).
struct PacedRule
{
    double intervalMs = 0;
    double toleranceMs = 0;
};

/// The paced rules for hard caps at a safety factor. interval T = window / (limit × safety).
/// GCRA admits at most floor((L + τ) / T) + 1 requests in any span L, so with L = window − 1 ms
/// the cap holds while τ < limit × T − window + 1. The tolerance is that bound less a 1 ms
/// margin, and at most one interval. At safety 1 it is 0: perfectly even spacing.
std::vector<PacedRule> pacedRules(const std::vector<RateRule> &caps, double safetyFactor);

/// What the limiter says to a caller about to send one request.
struct LimiterDecision
{
    bool allowed = false;
    std::chrono::milliseconds wait { 0 }; ///< when refused: try again after this long
};

/// Generic cell rate algorithm over several rules at once: O(1) per decision, exact, and it
/// says how long to wait. The in-memory twin of resources/lua/limiter_acquire.lua (same
/// arithmetic), used as the fallback when Redis is away and as the reference in tests.
class Gcra
{
public:
    explicit Gcra(std::vector<PacedRule> rules = {});

    /// Admits and books one request at `now`, or refuses with the wait. `rateFactor` in (0, 1]
    /// stretches every interval (the AIMD slow-down after 429s).
    LimiterDecision acquire(std::chrono::milliseconds now, double rateFactor = 1.0);

    const std::vector<PacedRule> &rules() const { return m_rules; }

private:
    std::vector<PacedRule> m_rules;
    std::vector<double> m_tat; ///< theoretical arrival time per rule, ms
};

/// The shared slow-down after 429s: a penalty window in which nobody sends, and a rate factor
/// that halves per 429 and recovers linearly. Pure state + arithmetic; the Lua script keeps
/// the same fields in Redis.
struct SlowDown
{
    double factor = 1.0;
    qint64 factorAtMs = 0; ///< when `factor` was last set
    qint64 penaltyUntilMs = 0;
    qint64 penaltyFromMs = 0; ///< when the current penalty was opened
    int consecutive429 = 0;

    /// The rate factor now, after recovery since factorAtMs, never above 1.
    double currentFactor(qint64 nowMs, const LimiterOptions &options) const;
    /// Records a 429 for a request sent at `sentAtMs`: opens (or extends) the penalty and
    /// lowers the factor. A request sent before the current penalty began was already paid
    /// for, so callers hit by the same burst do not stack their back-offs.
    void onRateLimited(qint64 nowMs, qint64 sentAtMs,
                       std::optional<std::chrono::milliseconds> retryAfter,
                       const LimiterOptions &options);
    /// A request got through: the next 429 starts the back-off from the beginning again.
    void onSuccess() { consecutive429 = 0; }
};

/// An in-process limiter: GCRA + slow-down, on the caller's clock. The Redis limiter's
/// fallback (at a reduced share of the budget) and the model its tests compare against.
class LocalRateLimiter
{
public:
    /// `budgetShare` in (0, 1] scales every cap (1 for the full budget).
    explicit LocalRateLimiter(const LimiterOptions &options, double budgetShare = 1.0);

    LimiterDecision acquire(std::chrono::milliseconds now);
    /// `sentAt` defaults to `now`: a 429 for a request sent before the current penalty began
    /// changes nothing.
    void reportRateLimited(std::chrono::milliseconds now,
                           std::optional<std::chrono::milliseconds> retryAfter,
                           std::optional<std::chrono::milliseconds> sentAt = std::nullopt);
    void reportSuccess() { m_slowDown.onSuccess(); }

    double effectiveFactor(std::chrono::milliseconds now) const
    {
        return m_slowDown.currentFactor(now.count(), m_options);
    }
    const SlowDown &slowDown() const { return m_slowDown; }

private:
    LimiterOptions m_options;
    Gcra m_gcra;
    SlowDown m_slowDown;
};

} // namespace sluice
