#pragma once

#include "core/result.h"

#include <QString>

#include <chrono>
#include <vector>

namespace sluice {

/// "At most `limit` requests in any window of `window`", the way an API states its limits.
struct RateRule
{
    int limit = 0;
    std::chrono::milliseconds window { 0 };

    double perSecond() const
    {
        return window.count() > 0 ? limit * 1000.0 / double(window.count()) : 0;
    }
    /// "600/min", "10/s", "3/500ms"
    QString toString() const;
    friend bool operator==(const RateRule &, const RateRule &) = default;
};

/// Parses "600/min", "10/s", "10/sec", "6000/minute", "36000/h", "5/250ms", "100/2s".
/// The error says what is wrong with the text.
Result<RateRule, QString> parseRateRule(const QString &text);

/// The most requests any window of length `window` may hold under every rule at once:
/// min over the rules of limit × ceil(window / rule window). 0 without rules. With 600/min and
/// 10/s: 10 for 1 s, 600 for 60 s.
int capWithin(const std::vector<RateRule> &rules, std::chrono::milliseconds window);

} // namespace sluice
