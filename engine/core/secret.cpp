#include "secret.h"

namespace sluice {

QString maskSecret(const QString &secret)
{
    static const QString dots = QStringLiteral("\u2022\u2022\u2022\u2022");
    if (secret.isEmpty())
        return QStringLiteral("(not set)");
    if (secret.size() <= 8)
        return dots;
    return dots + secret.right(4);
}

} // namespace sluice
