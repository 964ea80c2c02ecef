#pragma once

#include <QString>

#include <chrono>
#include <optional>

namespace sluice {

/// How the breaker's sliding window is measured.
enum class BreakerWindowType {
    CountBased, ///< the last `windowCalls` calls
    TimeBased, ///< the calls of the last `windowDuration`, kept as per-second aggregates
};

/// Everything the circuit breaker is configured with (resilience4j's model). The defaults:
/// - a count window of the last 20 calls, judged once at least 10 are in it;
/// - open when 50% or more of them failed, or 80% or more took 10 s or longer;
/// - stay open 5 s the first time, ×2 per consecutive opening up to 5 min, ±20% jitter;
/// - then let 3 trial calls through (HALF_OPEN); a trial not answered within 60 s is
///   presumed lost (its worker died) and handed out again.
struct BreakerOptions
{
    BreakerWindowType windowType = BreakerWindowType::CountBased;
    int windowCalls = 20; ///< count-based window size, 1..10000 calls
    std::chrono::seconds windowDuration { 60 }; ///< time-based window size, 1..3600 s
    /// No judgement before the window holds this many calls. For a count window it must not
    /// exceed windowCalls (the breaker could never open).
    int minimumCalls = 10;

    double failureRateThresholdPercent = 50.0; ///< open at or above this, (0, 100]
    double slowCallRateThresholdPercent = 80.0; ///< open at or above this, (0, 100]
    /// A call that took this long or longer is slow, whatever its outcome.
    std::chrono::milliseconds slowCallDuration { 10'000 };

    /// The n-th consecutive opening lasts openWaitBase × openWaitMultiplier^(n−1), at most
    /// openWaitCap, then spread by ±openWaitJitter (a fraction). The cap is a hard bound: the
    /// jittered wait never exceeds it.
    std::chrono::milliseconds openWaitBase { 5000 };
    /// 1.5, not 2: each trial is one request, and after a 20 s outage a doubling wait
    /// (5, 10, 20 s) kept the breaker shut up to 15 s after Instantly was back.
    double openWaitMultiplier = 1.5; ///< >= 1
    std::chrono::milliseconds openWaitCap { 300'000 };
    double openWaitJitter = 0.2; ///< [0, 1)

    int halfOpenTrialCalls = 3; ///< 1..1000
    /// A trial permit whose outcome has not come back after this long is handed out again, so
    /// a worker killed mid-call cannot wedge the breaker in HALF_OPEN.
    std::chrono::milliseconds halfOpenTrialTimeout { 60'000 };

    /// Why these options cannot work, or nullopt when they can.
    std::optional<QString> problem() const;
    /// "last 20 calls (judged from 10), failure >= 50%, slow >= 80% at 10 s, open 5 s ×2 up to
    /// 300 s ±20%, 3 trial calls"
    QString describe() const;
};

/// "5 s", "1.5 s", "250 ms": for reasons and log lines.
QString formatBreakerDuration(std::chrono::milliseconds duration);

} // namespace sluice
