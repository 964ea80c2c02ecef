#pragma once

#include "core/spantext.h"

#include <QDateTime>
#include <QString>

namespace sluice {

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
