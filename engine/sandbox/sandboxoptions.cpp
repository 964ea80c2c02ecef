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
    if (!isProbability(applyDropRate))
        return QStringLiteral("apply-drop rate must be between 0 and 1");
    if (!isProbability(applyHangRate))
        return QStringLiteral("apply-hang rate must be between 0 and 1");
    if (errorRate + hangRate + bodyErrorRate + applyDropRate + applyHangRate > 1.0)
        return QStringLiteral(
            "error, hang, body-error, apply-drop and apply-hang rates add up to more than 1");
    return std::nullopt;
}

std::optional<QString> CloseFaultOptions::problem() const
{
    if (latency.count() < 0)
        return QStringLiteral("Close latency must be >= 0 ms");
    if (searchRefusedStatus != 0 && searchRefusedStatus != 400 && searchRefusedStatus != 403
        && searchRefusedStatus != 404)
        return QStringLiteral("search_refused_status must be 0 (off), 400, 403 or 404");
    return std::nullopt;
}

SandboxOptions SandboxOptions::documentedInstantlyLimits()
{
    SandboxOptions options;
    options.perSecond = kDocumentedPerSecond;
    options.perMinute = kDocumentedPerMinute;
    return options;
}

QStringList SandboxOptions::closeApiKeys() const
{
    QStringList keys { closeApiKey };
    keys += moreCloseApiKeys;
    return keys;
}

std::optional<QString> SandboxOptions::problem() const
{
    if (apiKey.isEmpty())
        return QStringLiteral("the Instantly API key must not be empty");
    for (const QString &key : closeApiKeys()) {
        if (key.isEmpty())
            return QStringLiteral("a Close API key must not be empty");
    }
    if (perSecond <= 0)
        return QStringLiteral("the per-second limit must be > 0");
    if (perMinute <= 0)
        return QStringLiteral("the per-minute limit must be > 0");
    if (logCapacity <= 0)
        return QStringLiteral("the request-log capacity must be > 0");
    if (remainingInPlan < 0)
        return QStringLiteral("remaining_in_plan must be >= 0");
    for (const auto &[group, limit] : closeLimits) {
        if (limit.perKey <= 0 || limit.perOrg <= 0)
            return QStringLiteral("the Close limits of group '%1' must be > 0").arg(group);
    }
    if (auto problem = closeFaults.problem())
        return problem;
    return faults.problem();
}

QString toString(SameCampaignDuplicates value)
{
    return value == SameCampaignDuplicates::Skip ? QStringLiteral("skip")
                                                 : QStringLiteral("create");
}

std::optional<SameCampaignDuplicates> sameCampaignDuplicatesFromString(const QString &text)
{
    if (text == QLatin1String("create"))
        return SameCampaignDuplicates::Create;
    if (text == QLatin1String("skip"))
        return SameCampaignDuplicates::Skip;
    return std::nullopt;
}

} // namespace sluice
