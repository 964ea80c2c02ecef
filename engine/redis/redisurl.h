#pragma once

#include "core/result.h"

#include <QString>

namespace sluice {

/// Where and how to reach Redis, as written in a URL:
///   redis://[[user]:password@]host[:port][/db]     plain TCP, port 6379 by default
///   rediss://[[user]:password@]host[:port][/db]    TLS (managed Redis: Heroku, the clouds)
///   unix://[[user]:password@]/path/to/socket[?db=N]
/// `?db=N` is accepted for every scheme. User and password may be percent-encoded; the
/// password is everything between the first ':' and the last '@', so '@', '/' and '#' in
/// it need not be. A user without a password is refused: it is almost always a password
/// that lost its ':'.
struct RedisUrl
{
    enum class Transport { Tcp, Tls, Unix };

    Transport transport = Transport::Tcp;
    QString host = QStringLiteral("127.0.0.1"); ///< Tcp and Tls; IPv6 without brackets
    quint16 port = 6379; ///< Tcp and Tls
    QString socketPath; ///< Unix: absolute path
    QString user; ///< empty: Redis's default user
    QString password; ///< empty: no AUTH
    int db = 0; ///< SELECTed on connect when not 0

    /// Parses `text`, or says what is wrong with it. Messages never contain the password.
    static Result<RedisUrl, QString> parse(const QString &text);

    /// The URL with the password masked, for logs and the console:
    /// "rediss://app:••••@db.example.com:6380/2".
    QString toDisplayString() const;
};

/// `text` with any password masked, even when it does not parse as a Redis URL. For logging
/// a URL that came from the user before (or instead of) parsing it.
QString maskRedisUrl(const QString &text);

} // namespace sluice
