#include "redisurl.h"

#include <QHostAddress>
#include <QStringList>
#include <QUrl>

#include <optional>

namespace sluice {

namespace {

const QString kMask = QStringLiteral("\u2022\u2022\u2022\u2022");

bool isDigits(const QString &s)
{
    if (s.isEmpty())
        return false;
    for (const QChar c : s)
        if (c < QLatin1Char('0') || c > QLatin1Char('9'))
            return false;
    return true;
}

bool isHostName(const QString &s)
{
    for (const QChar c : s) {
        const bool ok = (c >= QLatin1Char('a') && c <= QLatin1Char('z'))
            || (c >= QLatin1Char('A') && c <= QLatin1Char('Z'))
            || (c >= QLatin1Char('0') && c <= QLatin1Char('9')) || c == QLatin1Char('.')
            || c == QLatin1Char('-') || c == QLatin1Char('_');
        if (!ok)
            return false;
    }
    return !s.isEmpty();
}

std::optional<int> parseDb(const QString &s)
{
    if (!isDigits(s) || s.size() > 9)
        return std::nullopt;
    return s.toInt();
}

QString quoted(const QString &s)
{
    return QLatin1Char('\'') + s + QLatin1Char('\'');
}

} // namespace

Result<RedisUrl, QString> RedisUrl::parse(const QString &input)
{
    const auto fail = [](const QString &why) {
        return Result<RedisUrl, QString>(QStringLiteral("invalid Redis URL: ") + why);
    };
    const QString text = input.trimmed();
    if (text.isEmpty())
        return fail(QStringLiteral("it is empty"));
    const qsizetype schemeEnd = text.indexOf(QLatin1String("://"));
    if (schemeEnd < 0)
        return fail(QStringLiteral("no scheme (expected redis://host:port/db, rediss://... or "
                                   "unix:///path/to/socket)"));

    RedisUrl url;
    const QString scheme = text.left(schemeEnd).toLower();
    if (scheme == QLatin1String("redis"))
        url.transport = Transport::Tcp;
    else if (scheme == QLatin1String("rediss"))
        url.transport = Transport::Tls;
    else if (scheme == QLatin1String("unix"))
        url.transport = Transport::Unix;
    else
        return fail(QStringLiteral("unsupported scheme %1 (expected redis, rediss or unix)")
                        .arg(quoted(text.left(schemeEnd))));

    QString rest = text.mid(schemeEnd + 3);
    // The last '@' ends the user info, so nothing after it can be part of the password and
    // every later message may quote what it found.
    const qsizetype at = rest.lastIndexOf(QLatin1Char('@'));
    if (at >= 0) {
        const QString userInfo = rest.left(at);
        rest = rest.mid(at + 1);
        const qsizetype colon = userInfo.indexOf(QLatin1Char(':'));
        if (colon < 0)
            return fail(QStringLiteral("a user name without a password (write "
                                       "redis://:password@host for a password alone)"));
        url.user = QUrl::fromPercentEncoding(userInfo.left(colon).toUtf8());
        url.password = QUrl::fromPercentEncoding(userInfo.mid(colon + 1).toUtf8());
        if (url.password.isEmpty())
            return fail(QStringLiteral("the password after ':' is empty"));
    }

    if (rest.contains(QLatin1Char('#')))
        return fail(QStringLiteral("a fragment ('#...') is not allowed after the host"));
    QString query;
    const qsizetype questionMark = rest.indexOf(QLatin1Char('?'));
    if (questionMark >= 0) {
        query = rest.mid(questionMark + 1);
        rest = rest.left(questionMark);
    }

    std::optional<int> dbFromPath;
    if (url.transport == Transport::Unix) {
        if (rest.isEmpty())
            return fail(QStringLiteral("no socket path (expected unix:///path/to/socket)"));
        if (!rest.startsWith(QLatin1Char('/')))
            return fail(QStringLiteral("socket path %1 is not absolute (expected "
                                       "unix:///path/to/socket)")
                            .arg(quoted(rest)));
        url.socketPath = rest;
    } else {
        QString hostPort = rest;
        const qsizetype slash = rest.indexOf(QLatin1Char('/'));
        if (slash >= 0) {
            hostPort = rest.left(slash);
            const QString dbText = rest.mid(slash + 1);
            if (!dbText.isEmpty()) {
                dbFromPath = parseDb(dbText);
                if (!dbFromPath)
                    return fail(
                        QStringLiteral("database %1 is not a number from 0").arg(quoted(dbText)));
            }
        }
        QString portText;
        if (hostPort.startsWith(QLatin1Char('['))) {
            const qsizetype close = hostPort.indexOf(QLatin1Char(']'));
            if (close < 0)
                return fail(QStringLiteral("IPv6 address without a closing ']'"));
            url.host = hostPort.mid(1, close - 1);
            const QString after = hostPort.mid(close + 1);
            if (!after.isEmpty() && !after.startsWith(QLatin1Char(':')))
                return fail(
                    QStringLiteral("unexpected %1 after the IPv6 address").arg(quoted(after)));
            if (after == QLatin1String(":"))
                return fail(QStringLiteral("the port after ':' is empty"));
            portText = after.mid(1);
            if (QHostAddress(url.host).protocol() != QAbstractSocket::IPv6Protocol)
                return fail(QStringLiteral("%1 is not an IPv6 address").arg(quoted(url.host)));
        } else {
            const qsizetype colon = hostPort.indexOf(QLatin1Char(':'));
            if (colon >= 0 && hostPort.indexOf(QLatin1Char(':'), colon + 1) >= 0)
                return fail(QStringLiteral("an IPv6 address must be written in brackets, like "
                                           "redis://[::1]:6379"));
            url.host = colon < 0 ? hostPort : hostPort.left(colon);
            if (colon >= 0) {
                portText = hostPort.mid(colon + 1);
                if (portText.isEmpty())
                    return fail(QStringLiteral("the port after ':' is empty"));
            }
            if (url.host.isEmpty())
                return fail(QStringLiteral("no host (expected redis://host:port/db)"));
            if (!isHostName(url.host))
                return fail(
                    QStringLiteral("host %1 is not a valid host name").arg(quoted(url.host)));
        }
        if (!portText.isEmpty()) {
            const int port = isDigits(portText) && portText.size() <= 5 ? portText.toInt() : 0;
            if (port < 1 || port > 65535)
                return fail(QStringLiteral("port %1 is not a number from 1 to 65535")
                                .arg(quoted(portText)));
            url.port = quint16(port);
        }
    }

    if (dbFromPath)
        url.db = *dbFromPath;
    if (!query.isEmpty()) {
        const QStringList pairs = query.split(QLatin1Char('&'), Qt::SkipEmptyParts);
        for (const QString &pair : pairs) {
            const qsizetype eq = pair.indexOf(QLatin1Char('='));
            const QString key = eq < 0 ? pair : pair.left(eq);
            const QString value = eq < 0 ? QString() : pair.mid(eq + 1);
            if (key != QLatin1String("db"))
                return fail(
                    QStringLiteral("unknown parameter %1 (only db is supported)").arg(quoted(key)));
            const std::optional<int> db = parseDb(value);
            if (!db)
                return fail(
                    QStringLiteral("database %1 is not a number from 0").arg(quoted(value)));
            if (dbFromPath && *dbFromPath != *db)
                return fail(QStringLiteral("two different databases, in the path and in ?db="));
            url.db = *db;
        }
    }
    return url;
}

QString RedisUrl::toDisplayString() const
{
    QString out;
    switch (transport) {
    case Transport::Tcp:
        out = QStringLiteral("redis://");
        break;
    case Transport::Tls:
        out = QStringLiteral("rediss://");
        break;
    case Transport::Unix:
        out = QStringLiteral("unix://");
        break;
    }
    if (!password.isEmpty())
        out += user + QLatin1Char(':') + kMask + QLatin1Char('@');
    if (transport == Transport::Unix) {
        out += socketPath;
        if (db != 0)
            out += QStringLiteral("?db=") + QString::number(db);
        return out;
    }
    if (host.contains(QLatin1Char(':')))
        out += QLatin1Char('[') + host + QLatin1Char(']');
    else
        out += host;
    out += QLatin1Char(':') + QString::number(port) + QLatin1Char('/') + QString::number(db);
    return out;
}

QString maskRedisUrl(const QString &text)
{
    const auto parsed = RedisUrl::parse(text);
    if (parsed)
        return parsed->toDisplayString();
    const qsizetype at = text.lastIndexOf(QLatin1Char('@'));
    if (at < 0)
        return text;
    const qsizetype schemeEnd = text.indexOf(QLatin1String("://"));
    const qsizetype start = schemeEnd >= 0 && schemeEnd < at ? schemeEnd + 3 : 0;
    return text.left(start) + kMask + text.mid(at);
}

} // namespace sluice
