#include "spantext.h"

#include <algorithm>

namespace sluice {

QString spanText(qint64 ms)
{
    const qint64 s = std::max<qint64>(0, ms / 1000);
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 min").arg(s / 60);
    if (s < 86'400)
        return s % 3600 >= 60 ? QStringLiteral("%1 h %2 min").arg(s / 3600).arg(s % 3600 / 60)
                              : QStringLiteral("%1 h").arg(s / 3600);
    return s % 86'400 >= 3600 ? QStringLiteral("%1 d %2 h").arg(s / 86'400).arg(s % 86'400 / 3600)
                              : QStringLiteral("%1 d").arg(s / 86'400);
}

} // namespace sluice
