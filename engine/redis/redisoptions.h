#pragma once

#include <QString>

#include <chrono>
#include <optional>

namespace sluice {

/// Whether a rediss:// connection checks the server's certificate.
enum class TlsVerification {
    Full, ///< chain (system CAs plus RedisOptions::caFile) and host name must check out
    None, ///< accept any certificate: encrypted but not authenticated; only when asked for
};

/// How RedisClient connects and how patient it is. Validate with problem() at start.
struct RedisOptions
{
    /// redis://[[user]:password@]host:port/db, rediss://..., unix:///path?db=N (see RedisUrl)
    QString url = QStringLiteral("redis://127.0.0.1:6379/0");
    /// PEM file of CA certificates trusted for rediss://, in addition to the system's.
    QString caFile;
    TlsVerification tlsVerification = TlsVerification::Full;

    /// From starting an attempt to Connected: TCP, TLS handshake, AUTH and SELECT.
    std::chrono::milliseconds connectTimeout { 5000 };
    /// From issuing a command to its reply, unless the command names its own. On expiry the
    /// command fails with Timeout and the connection is reset (later replies would be
    /// matched to the wrong commands).
    std::chrono::milliseconds commandTimeout { 5000 };
    /// Reconnect delays grow from base to cap (see backoffDelay()).
    std::chrono::milliseconds reconnectBaseDelay { 100 };
    std::chrono::milliseconds reconnectMaxDelay { 5000 };
    /// Commands held while Connecting; beyond this they fail with NotConnected at once.
    int maxQueuedCommands = 10'000;

    /// What makes these options unusable (a bad URL, an unreadable CA file, ...), or nullopt.
    /// Never mentions the password.
    std::optional<QString> problem() const;
};

/// Delay before reconnect attempt `attempt` (1 = the first retry): base × 2^(attempt − 1),
/// capped at `cap`, with "equal jitter": half of it fixed, the other half scaled by `jitter`
/// (in [0, 1), a random number in production). Many instances losing the same server thus
/// spread their retries, and none retries sooner than half the nominal delay.
std::chrono::milliseconds backoffDelay(int attempt, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double jitter);

} // namespace sluice
