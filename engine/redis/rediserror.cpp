#include "rediserror.h"

namespace sluice {

QString RedisError::describe() const
{
    return redisErrorKindName(kind) + QStringLiteral(": ") + message;
}

RedisError RedisError::fromServerReply(const QByteArray &text)
{
    RedisError error;
    const qsizetype space = text.indexOf(' ');
    error.code = space < 0 ? text : text.left(space);
    error.message = QString::fromUtf8(text);
    if (error.code == "NOSCRIPT")
        error.kind = Kind::NoScript;
    else if (error.code == "NOAUTH" || error.code == "WRONGPASS"
             || (error.code == "ERR" && text.contains("invalid password")))
        error.kind = Kind::Auth;
    else
        error.kind = Kind::Server;
    return error;
}

QString redisErrorKindName(RedisError::Kind kind)
{
    switch (kind) {
    case RedisError::Kind::NotConnected:
        return QStringLiteral("not connected");
    case RedisError::Kind::ConnectionLost:
        return QStringLiteral("connection lost");
    case RedisError::Kind::Timeout:
        return QStringLiteral("timeout");
    case RedisError::Kind::Server:
        return QStringLiteral("server error");
    case RedisError::Kind::Auth:
        return QStringLiteral("authentication failed");
    case RedisError::Kind::Tls:
        return QStringLiteral("TLS error");
    case RedisError::Kind::Protocol:
        return QStringLiteral("protocol error");
    case RedisError::Kind::NoScript:
        return QStringLiteral("no script");
    case RedisError::Kind::Usage:
        return QStringLiteral("usage error");
    }
    return {};
}

} // namespace sluice
