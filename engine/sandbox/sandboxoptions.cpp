#include "sandboxoptions.h"

namespace sluice {

namespace {

bool isProbability(double p)
{
    return p >= 0.0 && p <= 1.0;
}

} // namespace

std::optional<QString> FaultOptions::problem() const
{
    if (latency.count() < 0)
        return QStringLiteral("latency must be >= 0 ms");
    if (hangDuration.count() < 0)
        return QStringLiteral("hang duration must be >= 0 ms");
    if (!isProbability(errorRate))
        return QStringLiteral("error rate must be between 0 and 1");
    if (!isProbability(hangRate))
        return QStringLiteral("hang rate must be between 0 and 1");
    if (!isProbability(bodyErrorRate))
        return QStringLiteral("body-error rate must be between 0 and 1");
    if (errorRate + hangRate + bodyErrorRate > 1.0)
        return QStringLiteral("error, hang and body-error rates add up to more than 1");
    return std::nullopt;
}

std::optional<QString> SandboxOptions::problem() const
{
    if (apiKey.isEmpty())
        return QStringLiteral("the Instantly API key must not be empty");
    if (perSecond <= 0)
        return QStringLiteral("the per-second limit must be > 0");
    if (perMinute <= 0)
        return QStringLiteral("the per-minute limit must be > 0");
    if (logCapacity <= 0)
        return QStringLiteral("the request-log capacity must be > 0");
    return faults.problem();
}

} // namespace sluice
