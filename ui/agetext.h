#pragma once

#include <QCoreApplication>
#include <QDateTime>
#include <QString>

#include <algorithm>

namespace sluice {

/// "42 s", "7 min", "3 h 5 min", "2 d 4 h": a span of `ms`, short enough for a table cell.
inline QString spanText(qint64 ms)
{
    const qint64 s = std::max<qint64>(0, ms / 1000);
    auto tr = [](const char *text) { return QCoreApplication::translate("ageText", text); };
    if (s < 60)
        return tr("%1 s").arg(s);
    if (s < 3600)
        return tr("%1 min").arg(s / 60);
    if (s < 86400)
        return s % 3600 >= 60 ? tr("%1 h %2 min").arg(s / 3600).arg(s % 3600 / 60)
                              : tr("%1 h").arg(s / 3600);
    return tr("%1 d %2 h").arg(s / 86400).arg(s % 86400 / 3600);
}

/// How long ago `thenMs` (Unix ms) was, as spanText. "—" when unknown (0).
inline QString ageText(qint64 thenMs, qint64 nowMs)
{
    return thenMs <= 0 ? QStringLiteral("—") : spanText(nowMs - thenMs);
}

/// "2026-12-07 06:54:21" in local time, for tooltips beside an age.
inline QString timestampText(qint64 ms)
{
    return ms <= 0
        ? QString()
        : QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
}

} // namespace sluice
