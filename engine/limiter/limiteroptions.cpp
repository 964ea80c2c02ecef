#include "limiteroptions.h"

#include <QStringList>

namespace sluice {

std::optional<QString> LimiterOptions::problem() const
{
    if (caps.empty())
        return QStringLiteral("at least one rate cap is needed (e.g. 600/min)");
    for (const RateRule &cap : caps) {
        if (cap.limit <= 0 || cap.window.count() <= 0)
            return QStringLiteral("rate cap %1 must have a count and a window above zero")
                .arg(cap.toString());
    }
    if (!(safetyFactor > 0.0 && safetyFactor <= 1.0))
        return QStringLiteral("the safety factor must be above 0 and at most 1 (got %1)")
            .arg(safetyFactor);
    if (penaltyBase.count() <= 0 || penaltyCap < penaltyBase)
        return QStringLiteral(
            "the 429 penalty must start above 0 ms and its cap must not be below its start");
    if (!(decreaseFactor > 0.0 && decreaseFactor < 1.0))
        return QStringLiteral("the decrease factor after a 429 must be between 0 and 1 (got %1)")
            .arg(decreaseFactor);
    if (!(minRateFactor > 0.0 && minRateFactor <= 1.0))
        return QStringLiteral("the minimum rate factor must be above 0 and at most 1 (got %1)")
            .arg(minRateFactor);
    if (recoveryPerSecond < 0.0)
        return QStringLiteral("the recovery per second must not be negative");
    if (instancesHint < 1)
        return QStringLiteral("the expected number of instances must be at least 1");
    if (!(fallbackShare > 0.0 && fallbackShare <= 1.0))
        return QStringLiteral("the fallback share must be above 0 and at most 1 (got %1)")
            .arg(fallbackShare);
    return std::nullopt;
}

QString LimiterOptions::describe() const
{
    QStringList parts;
    for (const RateRule &cap : caps)
        parts.append(cap.toString());
    return parts.join(QStringLiteral(" + "))
        + QStringLiteral(" at %1%").arg(qRound(safetyFactor * 100));
}

} // namespace sluice
