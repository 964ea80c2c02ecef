#pragma once

#include "rediserror.h"
#include "redisoptions.h"
#include "redisreply.h"
#include "redisurl.h"

#include <QByteArray>
#include <QDeadlineTimer>
#include <QHash>
#include <QList>
#include <QObject>
#include <QStringList>
#include <QTimer>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>

class QIODevice;

namespace sluice {

/// Sluice's Redis connection, on the owner's event loop (one thread; not thread-safe).
///
/// Qt carries the bytes (QTcpSocket, QSslSocket for rediss://, QLocalSocket for unix://) and
/// hiredis speaks the protocol: its formatter encodes commands and its reader parses replies,
/// which are matched to callbacks in order, so pipelining is free. This is the only file pair
/// that touches hiredis; hiredis's own sockets are not used (Debian's 0.14 has no TLS).
///
/// On connect it sends AUTH (with the user, if the URL names one) and SELECT before any
/// queued command. Scripts registered with loadScript() run with EVALSHA; a NOSCRIPT (after
/// a restart or SCRIPT FLUSH) is answered with SCRIPT LOAD and one retry.
///
/// Commands and connection states:
/// - Connecting (the first attempt after connectToServer(), and the one made right after an
///   established connection was lost): commands are queued, up to
///   RedisOptions::maxQueuedCommands, and sent in order once AUTH and SELECT succeeded.
/// - Connected: commands are written at once.
/// - Reconnecting (an attempt has failed; retrying with backoffDelay()) and Disconnected:
///   commands fail fast with NotConnected, so callers such as the limiter can fall back
///   instead of waiting out an outage.
///
/// Every callback is called exactly once, always from the event loop and never from inside
/// the call that issued the command. When a connection drops, each command that was sent
/// gets ConnectionLost and each queued one NotConnected. A command without a reply after
/// its timeout gets Timeout, and the connection is reset, because replies after a missing
/// one can no longer be matched. The only exception: destroying the client discards the
/// callbacks still pending, without calling them (their owners are usually going away too);
/// call disconnectFromServer() first to have them fail instead.
///
/// Blocking commands (BLPOP, XREADGROUP BLOCK) hold up every command pipelined behind them:
/// give them their own client and a timeout longer than their block time. hiredis 0.14's
/// reader refuses replies nested deeper than 7 arrays (a Protocol error; the connection is
/// reset); no Redis command returns such a reply, only a script could.
///
/// Signals and callbacks may delete the client (deleteLater() is still the polite way).
class RedisClient : public QObject
{
    Q_OBJECT
public:
    enum class State { Disconnected, Connecting, Connected, Reconnecting };
    Q_ENUM(State)

    explicit RedisClient(RedisOptions options, QObject *parent = nullptr);
    ~RedisClient() override;
    RedisClient(const RedisClient &) = delete;
    RedisClient &operator=(const RedisClient &) = delete;

    /// Starts connecting, and keeps reconnecting until disconnectFromServer(). With invalid
    /// options it emits errorOccurred (kind Usage) and stays Disconnected.
    void connectToServer();
    /// Closes the connection and stops reconnecting. Pending commands fail (ConnectionLost
    /// for those sent, NotConnected for those queued) from the event loop.
    void disconnectFromServer();

    State state() const { return m_state; }
    const RedisOptions &options() const { return m_options; }
    /// The URL with the password masked, for logs and the console.
    QString displayUrl() const { return m_displayUrl; }
    /// The last connection-level error (cleared when a connection is established).
    std::optional<RedisError> lastError() const { return m_lastError; }
    /// Commands sent and waiting for their reply, plus commands queued while Connecting.
    int pendingCount() const { return int(m_inFlight.size() + m_queue.size()); }

    /// Sends `argv` (binary-safe). `done` (may be empty) gets the reply, or a RedisError:
    /// a top-level error reply from the server arrives as kind Server/Auth/NoScript.
    /// `timeout` 0 means RedisOptions::commandTimeout.
    void command(const QList<QByteArray> &argv, RedisCallback done,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds { 0 });

    /// Registers a Lua script under `name` and returns its SHA1 (lowercase hex). Nothing is
    /// sent: the first evalScript() loads it when the server does not know it yet.
    QByteArray loadScript(const QString &name, const QByteArray &source);
    /// EVALSHA of the script registered as `name`. On NOSCRIPT it sends SCRIPT LOAD and the
    /// EVALSHA again (so the retried call completes after commands issued after it). An
    /// unknown name, or a second NOSCRIPT, fails with kind NoScript; a script that does not
    /// compile fails with the server's error from SCRIPT LOAD.
    void evalScript(const QString &name, const QList<QByteArray> &keys,
                    const QList<QByteArray> &args, RedisCallback done,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds { 0 });

    static QString stateName(State state);

Q_SIGNALS:
    void stateChanged(sluice::RedisClient::State state);
    /// Connection-level failures: each failed attempt (so about once per reconnect delay
    /// during an outage), a lost or reset connection, bad options. Emitted after
    /// stateChanged. Failed commands are reported to their callbacks only.
    void errorOccurred(const sluice::RedisError &error);

private:
    class Parser;
    struct Pending
    {
        RedisCallback done;
        QDeadlineTimer deadline { QDeadlineTimer::Forever };
        std::chrono::milliseconds timeout { 0 }; ///< what `deadline` was made from
        QByteArray wire; ///< the encoded command while it waits in the queue
        bool internal = false; ///< AUTH/SELECT of the handshake: dropped, never reported
    };
    struct Script
    {
        QByteArray sha;
        QByteArray source;
    };
    void sendScriptLoad(const Script &script);

    void startAttempt();
    void onTransportReady();
    void onHandshakeReply(bool isAuth, const RedisResult &result);
    void onHandshakeDone();
    void onReadyRead();
    void onTransportError(const QString &reason);
    void onConnectTimeout();
    void onTimeoutTimer();
    /// Ends the connection (or the attempt) because of `cause`, schedules the next attempt
    /// and fails the pending commands; `culprit` (a timed-out command) gets `cause` itself.
    void dropConnection(const RedisError &cause, std::optional<Pending> culprit = std::nullopt);
    void closeTransport();
    void send(Pending pending);
    void armTimeout(const QDeadlineTimer &deadline);
    void deliverLater(RedisCallback done, RedisResult result);
    void setState(State state);
    std::chrono::milliseconds effectiveTimeout(std::chrono::milliseconds timeout) const;

    RedisOptions m_options;
    std::optional<RedisUrl> m_url; ///< nullopt when the options are invalid
    std::optional<QString> m_problem;
    QString m_displayUrl;
    State m_state = State::Disconnected;
    QIODevice *m_device = nullptr; ///< child; the transport of the current attempt
    std::unique_ptr<Parser> m_parser;
    quint64 m_generation = 0; ///< bumped whenever a transport is closed
    std::deque<Pending> m_inFlight; ///< sent, in order; replies match the front
    std::deque<Pending> m_queue; ///< waiting for the handshake (Connecting only)
    int m_handshakeLeft = 0;
    int m_failures = 0; ///< failed attempts in a row
    QStringList m_tlsErrors; ///< certificate problems reported during the handshake
    std::optional<RedisError> m_lastError;
    QHash<QString, Script> m_scripts;
    QTimer m_retryTimer;
    QTimer m_connectTimer;
    QTimer m_timeoutTimer;
    QDeadlineTimer m_timeoutAt;
};

} // namespace sluice
