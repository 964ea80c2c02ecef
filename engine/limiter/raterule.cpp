#include "raterule.h"

#include <QRegularExpression>

#include <algorithm>

namespace sluice {

using std::chrono::milliseconds;

QString RateRule::toString() const
{
    const qint64 ms = window.count();
    if (ms == 1000)
        return QStringLiteral("%1/s").arg(limit);
    if (ms == 60'000)
        return QStringLiteral("%1/min").arg(limit);
    if (ms == 3'600'000)
        return QStringLiteral("%1/h").arg(limit);
    if (ms % 1000 == 0)
        return QStringLiteral("%1/%2s").arg(limit).arg(ms / 1000);
    return QStringLiteral("%1/%2ms").arg(limit).arg(ms);
}

Result<RateRule, QString> parseRateRule(const QString &text)
{
    static const QRegularExpression re(
        QStringLiteral(
            "^\\s*(\\d+)\\s*/\\s*(\\d*)\\s*(ms|s|sec|second|m|min|minute|h|hr|hour)\\s*$"),
        QRegularExpression::CaseInsensitiveOption);
    const QRegularExpressionMatch m = re.match(text);
    if (!m.hasMatch())
        return QStringLiteral("'%1' is not a rate; write it like 600/min, 10/s or 5/250ms")
            .arg(text);
    bool ok = false;
    const qint64 limit = m.captured(1).toLongLong(&ok);
    if (!ok || limit <= 0 || limit > 1'000'000)
        return QStringLiteral("'%1': the count must be between 1 and 1000000").arg(text);
    qint64 multiple = 1;
    if (!m.captured(2).isEmpty()) {
        multiple = m.captured(2).toLongLong(&ok);
        if (!ok || multiple <= 0)
            return QStringLiteral("'%1': the window must be longer than zero").arg(text);
    }
    const QString unit = m.captured(3).toLower();
    qint64 unitMs = 1;
    if (unit == QLatin1String("ms"))
        unitMs = 1;
    else if (unit.startsWith(QLatin1Char('s')))
        unitMs = 1000;
    else if (unit.startsWith(QLatin1Char('m')))
        unitMs = 60'000;
    else
        unitMs = 3'600'000;
    const qint64 windowMs = multiple * unitMs;
    if (windowMs > 24LL * 3'600'000)
        return QStringLiteral("'%1': windows longer than a day are not supported").arg(text);
    return RateRule { int(limit), milliseconds { windowMs } };
}

int capWithin(const std::vector<RateRule> &rules, std::chrono::milliseconds window)
{
    qint64 cap = 0;
    for (const RateRule &rule : rules) {
        const qint64 w = std::max<qint64>(1, rule.window.count());
        const qint64 bound = qint64(rule.limit) * ((window.count() + w - 1) / w);
        cap = cap == 0 ? bound : std::min(cap, bound);
    }
    return int(cap);
}

} // namespace sluice
