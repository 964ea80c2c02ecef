#pragma once

#include "sandboxoptions.h"
#include "slidingwindowlimiter.h"

#include <QByteArray>
#include <QString>

#include <chrono>
#include <map>

namespace sluice {

/// Which of Close's two limits an answer speaks of.
enum class CloseLimitScope { Key, Organization };

/// The outcome of one Close request against its endpoint group's limits, and what its
/// `RateLimit` header reports: the limit closest to being hit (docs/sandbox-rules.md).
struct CloseRateDecision
{
    bool admitted = false;
    CloseLimitScope scope = CloseLimitScope::Key;
    int limit = 0;
    int remaining = 0;
    /// Admitted: until the oldest request in that window leaves it. Refused: until the window
    /// admits again (the 429's rate_reset).
    std::chrono::milliseconds reset { 0 };

    /// "limit=20, remaining=19, reset=0.8"
    QByteArray headerValue() const;
    /// reset in seconds, fractional.
    double resetSeconds() const { return double(reset.count()) / 1000.0; }
};

QString toString(CloseLimitScope scope); ///< "key" / "organization"

/// Close's rate limits: per endpoint group, a sliding one-second window per API key and one
/// for the whole organisation (all keys). A request must fit both; a refused request counts
/// against neither. Pure logic on a caller-given `now`.
class CloseRateLimiter
{
public:
    static constexpr std::chrono::milliseconds kWindow { 1000 };

    void setLimit(const QString &group, CloseGroupLimit limit);
    CloseGroupLimit limit(const QString &group) const;

    CloseRateDecision admit(const QString &group, const QString &apiKey,
                            std::chrono::milliseconds now);
    /// Forgets every admission (limits stay).
    void clearHistory();

private:
    struct Group
    {
        CloseGroupLimit limit;
        SlidingWindowLimiter organization;
        std::map<QString, SlidingWindowLimiter> keys;
    };
    Group &group(const QString &name);

    std::map<QString, Group> m_groups;
};

} // namespace sluice
