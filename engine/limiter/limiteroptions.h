#pragma once

#include "raterule.h"

#include <QString>

#include <chrono>
#include <optional>
#include <vector>

namespace sluice {

/// Everything the shared limiter is configured with. The caps are Instantly's workspace limits
/// as the account states them; Sluice paces at `safetyFactor` of each, so clock skew, latency
/// and a second client of the same workspace still fit under the real cap.
struct LimiterOptions
{
    /// Hard caps, all enforced at once. Default: this team's plan, 10/s and 600/min.
    std::vector<RateRule> caps { { 10, std::chrono::milliseconds { 1000 } },
                                 { 600, std::chrono::milliseconds { 60'000 } } };
    double safetyFactor = 0.8; ///< pace at this share of each cap, (0, 1]

    /// After a 429 nobody sends until the penalty ends: Retry-After when the answer has one,
    /// else penaltyBase doubling per consecutive 429, up to penaltyCap.
    std::chrono::milliseconds penaltyBase { 1000 };
    std::chrono::milliseconds penaltyCap { 60'000 };
    /// AIMD: each 429 multiplies the effective rate by this, down to minRateFactor ...
    double decreaseFactor = 0.5;
    double minRateFactor = 0.1;
    /// ... and it recovers linearly by this much of the configured rate per second.
    double recoveryPerSecond = 0.02;

    /// Without Redis each instance paces alone at budget / instancesHint * fallbackShare.
    int instancesHint = 1;
    double fallbackShare = 0.5;

    std::optional<QString> problem() const;
    /// "10/s + 600/min at 80%"
    QString describe() const;
};

} // namespace sluice
