#include "apicall.h"

#include <QDateTime>

#include <algorithm>

namespace sluice {

using std::chrono::milliseconds;

QString callOutcomeName(CallOutcome outcome)
{
    switch (outcome) {
    case CallOutcome::Success:
        return QStringLiteral("success");
    case CallOutcome::RateLimited:
        return QStringLiteral("rate limited");
    case CallOutcome::Transient:
        return QStringLiteral("transient error");
    case CallOutcome::Permanent:
        return QStringLiteral("permanent error");
    case CallOutcome::ErrorInBody:
        return QStringLiteral("error in a 2xx body");
    }
    return QStringLiteral("unknown");
}

QString ApiResult::describe() const
{
    QString text = endpoint + QStringLiteral(": ");
    if (httpStatus > 0)
        text += QStringLiteral("HTTP %1 ").arg(httpStatus);
    text += callOutcomeName(outcome);
    if (!message.isEmpty())
        text += QStringLiteral(": ") + message;
    return text;
}

std::optional<milliseconds> parseRetryAfter(const QByteArray &value, qint64 nowUnixMs)
{
    const QByteArray trimmed = value.trimmed();
    if (trimmed.isEmpty())
        return std::nullopt;
    bool ok = false;
    const qint64 seconds = trimmed.toLongLong(&ok);
    if (ok)
        return seconds >= 0 ? std::optional(milliseconds { seconds * 1000 }) : std::nullopt;
    const QDateTime when = QDateTime::fromString(QString::fromLatin1(trimmed), Qt::RFC2822Date);
    if (!when.isValid())
        return std::nullopt;
    return milliseconds { std::max<qint64>(0, when.toMSecsSinceEpoch() - nowUnixMs) };
}

} // namespace sluice
