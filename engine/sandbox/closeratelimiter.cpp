#include "closeratelimiter.h"

#include <algorithm>

namespace sluice {

using std::chrono::milliseconds;

namespace {

QByteArray seconds(milliseconds ms)
{
    // Up to three decimals, no trailing zeros: 1000 -> "1", 250 -> "0.25".
    QByteArray text = QByteArray::number(double(ms.count()) / 1000.0, 'f', 3);
    while (text.endsWith('0'))
        text.chop(1);
    if (text.endsWith('.'))
        text.chop(1);
    return text;
}

std::vector<WindowRule> rules(int limit)
{
    return { { CloseRateLimiter::kWindow, limit } };
}

} // namespace

QByteArray CloseRateDecision::headerValue() const
{
    return "limit=" + QByteArray::number(limit) + ", remaining=" + QByteArray::number(remaining)
        + ", reset=" + seconds(reset);
}

QString toString(CloseLimitScope scope)
{
    return scope == CloseLimitScope::Key ? QStringLiteral("key") : QStringLiteral("organization");
}

CloseRateLimiter::Group &CloseRateLimiter::group(const QString &name)
{
    auto it = m_groups.find(name);
    if (it == m_groups.end()) {
        it = m_groups.try_emplace(name).first;
        it->second.organization.setRules(rules(it->second.limit.perOrg));
    }
    return it->second;
}

void CloseRateLimiter::setLimit(const QString &name, CloseGroupLimit limit)
{
    Group &g = group(name);
    g.limit = limit;
    g.organization.setRules(rules(limit.perOrg));
    for (auto &[key, limiter] : g.keys)
        limiter.setRules(rules(limit.perKey));
}

CloseGroupLimit CloseRateLimiter::limit(const QString &name) const
{
    const auto it = m_groups.find(name);
    return it == m_groups.end() ? CloseGroupLimit {} : it->second.limit;
}

CloseRateDecision CloseRateLimiter::admit(const QString &name, const QString &apiKey,
                                          milliseconds now)
{
    Group &g = group(name);
    auto keyIt = g.keys.find(apiKey);
    if (keyIt == g.keys.end())
        keyIt = g.keys.emplace(apiKey, SlidingWindowLimiter(rules(g.limit.perKey))).first;
    SlidingWindowLimiter &key = keyIt->second;

    CloseRateDecision d;
    const auto keyWait = key.waitAt(now);
    const auto orgWait = g.organization.waitAt(now);
    if (keyWait || orgWait) {
        // Refused: report the limit that keeps the caller waiting longest.
        const bool orgLonger = orgWait && (!keyWait || *orgWait > *keyWait);
        d.scope = orgLonger ? CloseLimitScope::Organization : CloseLimitScope::Key;
        d.limit = orgLonger ? g.limit.perOrg : g.limit.perKey;
        d.remaining = 0;
        d.reset = orgLonger ? *orgWait : *keyWait;
        return d;
    }
    key.record(now);
    g.organization.record(now);
    d.admitted = true;
    const int keyRemaining = g.limit.perKey - key.admittedWithin(now, kWindow);
    const int orgRemaining = g.limit.perOrg - g.organization.admittedWithin(now, kWindow);
    const bool orgCloser = orgRemaining < keyRemaining;
    d.scope = orgCloser ? CloseLimitScope::Organization : CloseLimitScope::Key;
    d.limit = orgCloser ? g.limit.perOrg : g.limit.perKey;
    d.remaining = std::max(0, orgCloser ? orgRemaining : keyRemaining);
    d.reset = (orgCloser ? g.organization : key).nextExpiry(now, kWindow).value_or(kWindow);
    return d;
}

void CloseRateLimiter::clearHistory()
{
    for (auto &[name, g] : m_groups) {
        g.keys.clear();
        g.organization = SlidingWindowLimiter(rules(g.limit.perOrg));
    }
}

} // namespace sluice
