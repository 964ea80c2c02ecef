#pragma once

#include "core/result.h"
#include "redisreply.h"

#include <QByteArray>
#include <QMetaType>
#include <QString>

#include <functional>

namespace sluice {

/// Why a Redis call or connection failed. The kind says what the caller may assume about the
/// command: NotConnected means it was certainly not executed (safe to spool or retry);
/// ConnectionLost and Timeout mean it was sent and may or may not have run.
struct RedisError
{
    enum class Kind {
        NotConnected, ///< not sent: no connection, the attempt failed, or the queue is full
        ConnectionLost, ///< sent, then the connection dropped before the reply
        Timeout, ///< no reply in time (the connection is then reset), or connect took too long
        Server, ///< the server answered with an error: ERR, WRONGTYPE, BUSY, READONLY, ...
        Auth, ///< AUTH was refused, or the server wants one (NOAUTH, WRONGPASS)
        Tls, ///< TLS handshake or certificate verification failed
        Protocol, ///< the bytes from the server are not RESP; the connection is reset
        NoScript, ///< no such script: unknown name, or EVALSHA failed even after SCRIPT LOAD
        Usage, ///< the call itself is wrong (empty command, invalid options); nothing was sent
    };

    Kind kind = Kind::NotConnected;
    QString message; ///< what went wrong, for people; never contains a password
    QByteArray code; ///< for Server/Auth/NoScript: the error's first word ("WRONGTYPE")

    /// "Server error: WRONGTYPE Operation against a key holding the wrong kind of value"
    QString describe() const;

    /// Classifies an error reply from the server ("NOSCRIPT No matching script...").
    static RedisError fromServerReply(const QByteArray &text);
};

QString redisErrorKindName(RedisError::Kind kind);

/// The outcome of one command: the reply, or why there is none.
using RedisResult = Result<RedisReply, RedisError>;
/// Called exactly once per command, always from the event loop (never from inside the call
/// that issued the command).
using RedisCallback = std::function<void(RedisResult)>;

} // namespace sluice

Q_DECLARE_METATYPE(sluice::RedisError)
