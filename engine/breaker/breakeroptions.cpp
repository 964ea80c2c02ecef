#include "breakeroptions.h"

#include <cmath>

namespace sluice {

namespace {

constexpr int maxWindowCalls = 10'000;
constexpr std::chrono::seconds maxWindowDuration { 3600 };
constexpr int maxTrialCalls = 1000;

bool isPercent(double value)
{
    return value > 0.0 && value <= 100.0; // also false for NaN
}

QString percent(double value)
{
    return QString::number(value, 'g', 4) + u'%';
}

} // namespace

std::optional<QString> BreakerOptions::problem() const
{
    switch (windowType) {
    case BreakerWindowType::CountBased:
        if (windowCalls < 1 || windowCalls > maxWindowCalls)
            return QStringLiteral("the count window must hold 1 to %1 calls (got %2)")
                .arg(maxWindowCalls)
                .arg(windowCalls);
        if (minimumCalls > windowCalls)
            return QStringLiteral("the minimum number of calls (%1) must not exceed the count "
                                  "window (%2 calls), or the breaker could never open")
                .arg(minimumCalls)
                .arg(windowCalls);
        break;
    case BreakerWindowType::TimeBased:
        if (windowDuration.count() < 1 || windowDuration > maxWindowDuration)
            return QStringLiteral("the time window must last 1 to %1 s (got %2 s)")
                .arg(maxWindowDuration.count())
                .arg(windowDuration.count());
        break;
    }
    if (minimumCalls < 1)
        return QStringLiteral("the minimum number of calls must be at least 1 (got %1)")
            .arg(minimumCalls);
    if (!isPercent(failureRateThresholdPercent))
        return QStringLiteral(
                   "the failure rate threshold must be above 0% and at most 100% (got %1)")
            .arg(failureRateThresholdPercent);
    if (!isPercent(slowCallRateThresholdPercent))
        return QStringLiteral(
                   "the slow-call rate threshold must be above 0% and at most 100% (got %1)")
            .arg(slowCallRateThresholdPercent);
    if (slowCallDuration.count() <= 0)
        return QStringLiteral("the slow-call duration must be above 0 ms");
    if (openWaitBase.count() <= 0)
        return QStringLiteral("the open wait must be above 0 ms");
    if (openWaitCap < openWaitBase)
        return QStringLiteral("the open wait cap (%1) must not be below the open wait (%2)")
            .arg(formatBreakerDuration(openWaitCap), formatBreakerDuration(openWaitBase));
    if (!(openWaitMultiplier >= 1.0) || !std::isfinite(openWaitMultiplier))
        return QStringLiteral("the open wait multiplier must be at least 1 (got %1)")
            .arg(openWaitMultiplier);
    if (!(openWaitJitter >= 0.0 && openWaitJitter < 1.0))
        return QStringLiteral("the open wait jitter must be at least 0 and below 1 (got %1)")
            .arg(openWaitJitter);
    if (halfOpenTrialCalls < 1 || halfOpenTrialCalls > maxTrialCalls)
        return QStringLiteral("the number of trial calls in half-open must be 1 to %1 (got %2)")
            .arg(maxTrialCalls)
            .arg(halfOpenTrialCalls);
    if (halfOpenTrialTimeout.count() <= 0)
        return QStringLiteral("the half-open trial timeout must be above 0 ms");
    return std::nullopt;
}

QString BreakerOptions::describe() const
{
    const QString window = windowType == BreakerWindowType::CountBased
        ? QStringLiteral("last %1 calls").arg(windowCalls)
        : QStringLiteral("calls of the last %1 s").arg(windowDuration.count());
    return window
        + QStringLiteral(" (judged from %1), failure >= %2, slow >= %3 at %4, open %5 ×%6 up to "
                         "%7 ±%8, %9 trial calls")
              .arg(QString::number(minimumCalls), percent(failureRateThresholdPercent),
                   percent(slowCallRateThresholdPercent), formatBreakerDuration(slowCallDuration),
                   formatBreakerDuration(openWaitBase), QString::number(openWaitMultiplier, 'g', 4),
                   formatBreakerDuration(openWaitCap), percent(openWaitJitter * 100.0),
                   QString::number(halfOpenTrialCalls));
}

QString formatBreakerDuration(std::chrono::milliseconds duration)
{
    const qint64 ms = duration.count();
    if (ms > -1000 && ms < 1000)
        return QStringLiteral("%1 ms").arg(ms);
    if (ms % 1000 == 0)
        return QStringLiteral("%1 s").arg(ms / 1000);
    QString seconds = QString::number(double(ms) / 1000.0, 'f', 3);
    while (seconds.endsWith(u'0'))
        seconds.chop(1);
    return seconds + QStringLiteral(" s");
}

} // namespace sluice
