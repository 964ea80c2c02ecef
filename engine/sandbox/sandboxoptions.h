#pragma once

#include <QString>

#include <chrono>
#include <optional>

namespace sluice {

/// Faults the sandbox injects into Instantly requests that passed auth and the rate limit.
struct FaultOptions
{
    std::chrono::milliseconds latency { 0 }; ///< added to every answer
    double errorRate = 0.0; ///< probability of a 500
    double hangRate = 0.0; ///< probability of holding the request for `hangDuration`
    std::chrono::milliseconds hangDuration { 120'000 }; ///< then 504; meant to outlast clients
    double bodyErrorRate = 0.0; ///< probability of a 200 whose body is an error

    /// Why these options are unusable, or nullopt.
    std::optional<QString> problem() const;
};

/// Everything a sandbox is started with. Defaults are this team's real Instantly limits.
struct SandboxOptions
{
    QString apiKey = QStringLiteral("sandbox"); ///< Instantly bearer key accepted
    QString closeApiKey = QStringLiteral("sandbox"); ///< Close Basic-auth user accepted
    int perSecond = 10;
    int perMinute = 600;
    bool sendRetryAfter = false; ///< Instantly does not promise Retry-After; off by default
    FaultOptions faults;
    quint32 seed = 1; ///< for the fault dice, so runs repeat
    int logCapacity = 200'000; ///< request-log entries kept

    std::optional<QString> problem() const;
};

} // namespace sluice
