#pragma once

#include "core/result.h"

#include <QString>

#include <chrono>

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

} // namespace sluice
