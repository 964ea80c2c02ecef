#include "gcra.h"

#include <algorithm>
#include <cmath>

namespace sluice {

using std::chrono::milliseconds;

std::vector<PacedRule> pacedRules(const std::vector<RateRule> &caps, double safetyFactor)
{
    std::vector<PacedRule> rules;
    rules.reserve(caps.size());
    for (const RateRule &cap : caps) {
        const double window = double(cap.window.count());
        const double interval = window / (double(cap.limit) * safetyFactor);
        // τ must stay below limit × T − window + 1 for the cap to hold in every window.
        const double bound = double(cap.limit) * interval - window + 1.0;
        const double tolerance = std::clamp(std::floor(bound) - 1.0, 0.0, interval);
        rules.push_back({ interval, tolerance });
    }
    return rules;
}

Gcra::Gcra(std::vector<PacedRule> rules)
    : m_rules(std::move(rules))
    , m_tat(m_rules.size(), 0.0)
{ }

LimiterDecision Gcra::acquire(milliseconds now, double rateFactor)
{
    const double t = double(now.count());
    const double factor = std::clamp(rateFactor, 1e-6, 1.0);
    double earliest = t;
    for (size_t i = 0; i < m_rules.size(); ++i)
        earliest = std::max(earliest, m_tat[i] - m_rules[i].toleranceMs);
    if (earliest > t)
        return { false, milliseconds { qint64(std::ceil(earliest - t)) } };
    for (size_t i = 0; i < m_rules.size(); ++i)
        m_tat[i] = std::max(m_tat[i], t) + m_rules[i].intervalMs / factor;
    return { true, milliseconds { 0 } };
}

double SlowDown::currentFactor(qint64 nowMs, const LimiterOptions &options) const
{
    const double elapsedSeconds = double(std::max<qint64>(0, nowMs - factorAtMs)) / 1000.0;
    return std::min(1.0, factor + options.recoveryPerSecond * elapsedSeconds);
}

void SlowDown::onRateLimited(qint64 nowMs, qint64 sentAtMs, std::optional<milliseconds> retryAfter,
                             const LimiterOptions &options)
{
    if (sentAtMs < penaltyFromMs)
        return;
    ++consecutive429;
    qint64 penalty = 0;
    if (retryAfter) {
        penalty = retryAfter->count();
    } else {
        const double grown
            = double(options.penaltyBase.count()) * std::pow(2.0, consecutive429 - 1);
        penalty = qint64(std::min(grown, double(options.penaltyCap.count())));
    }
    penaltyUntilMs = std::max(penaltyUntilMs, nowMs + penalty);
    penaltyFromMs = nowMs;
    factor
        = std::max(options.minRateFactor, currentFactor(nowMs, options) * options.decreaseFactor);
    factorAtMs = nowMs;
}

namespace {

std::vector<RateRule> scaled(const std::vector<RateRule> &caps, double share)
{
    // A share of the budget: fewer requests per window (at least one).
    std::vector<RateRule> out;
    out.reserve(caps.size());
    for (const RateRule &cap : caps)
        out.push_back({ std::max(1, int(std::floor(cap.limit * share))), cap.window });
    return out;
}

} // namespace

LocalRateLimiter::LocalRateLimiter(const LimiterOptions &options, double budgetShare)
    : m_options(options)
    , m_gcra(pacedRules(scaled(options.caps, budgetShare), options.safetyFactor))
{ }

LimiterDecision LocalRateLimiter::acquire(milliseconds now)
{
    if (now.count() < m_slowDown.penaltyUntilMs)
        return { false, milliseconds { m_slowDown.penaltyUntilMs - now.count() } };
    return m_gcra.acquire(now, m_slowDown.currentFactor(now.count(), m_options));
}

void LocalRateLimiter::reportRateLimited(milliseconds now, std::optional<milliseconds> retryAfter,
                                         std::optional<milliseconds> sentAt)
{
    m_slowDown.onRateLimited(now.count(), sentAt.value_or(now).count(), retryAfter, m_options);
}

} // namespace sluice
