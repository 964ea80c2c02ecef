#pragma once

#include "close/closewebhook.h"
#include "net/httpfront.h"

#include <QByteArray>
#include <QHostAddress>
#include <QString>

#include <chrono>
#include <optional>

namespace sluice {

/// How the webhook intake listens, checks and stores. Validate with problem() at start.
struct IntakeOptions
{
    QHostAddress address = QHostAddress::LocalHost;
    quint16 port = 8080; ///< 0 picks a free port (tests)
    /// Binding anything but a loopback address makes the listener reachable from other
    /// machines: it must be asked for explicitly (--allow-remote).
    bool allowRemote = false;
    /// Close's webhook signature key, hex (CLOSE_WEBHOOK_SECRET). Empty: no signature check.
    /// Never logged, never in an error message.
    QByteArray webhookSecret;
    /// How far close-sig-timestamp may be from the wall clock, either way.
    std::chrono::seconds signatureTolerance { 300 };
    qint64 maxBodyBytes = 1 << 20; ///< larger bodies get 413
    /// Header size, timeouts, connection and pipelining bounds of the listener.
    HttpFrontLimits front;
    IntakeLimits limits; ///< what one body may hold (400 beyond)
    /// JSON-lines file for requests accepted while Redis is unreachable (its offset sits
    /// beside it, `<path>.offset`). Empty: no spool, such requests get 503.
    QString spoolPath;
    QString ns = QStringLiteral("default"); ///< Redis key namespace (RedisKeys)
    /// How long task hashes, their index and event-id markers live in Redis.
    std::chrono::seconds retention { std::chrono::hours { 24 * 7 } };
    bool journal = true; ///< write each lead's "received" step to the lead journal
    /// Retry-After of a 503 (Redis down and the spool unusable).
    std::chrono::seconds retryAfter { 5 };

    /// What makes these options unusable, or nullopt. Never mentions the secret.
    std::optional<QString> problem() const;
    /// "127.0.0.1:8080", "[::1]:8080"
    QString listenText() const;
};

} // namespace sluice
