#include "dispatcheroptions.h"

namespace sluice {

std::optional<QString> DispatcherOptions::problem() const
{
    if (keyNamespace.isEmpty())
        return QStringLiteral("the key namespace is empty");
    if (consumerName.contains(QLatin1Char(' ')))
        return QStringLiteral("the consumer name must not contain spaces");
    if (coalescingWindow.count() < 0 || coalescingWindow.count() > 60'000)
        return QStringLiteral("the coalescing window must be 0..60000 ms");
    if (maxBatch < 1 || maxBatch > 1000)
        return QStringLiteral("the batch size must be 1..1000 leads (Instantly's bulk limit)");
    if (lookupBatch < 1 || lookupBatch > 200)
        return QStringLiteral("the lookup batch must be 1..200 Close leads (a search page)");
    if (lookupWindow.count() < 0 || lookupWindow.count() > 10'000)
        return QStringLiteral("the lookup window must be 0..10000 ms");
    if (lookupHold.count() < 0 || lookupHold.count() > 60'000)
        return QStringLiteral("the lookup hold must be 0..60000 ms");
    if (blockTime.count() < 1 || blockTime.count() > 60'000)
        return QStringLiteral("the block time must be 1..60000 ms");
    if (claimIdleTimeout.count() < 1)
        return QStringLiteral("the claim idle timeout must be positive");
    // The heartbeat renews held entries from maintenance, every claim-idle / 3 at best: an
    // entry must not look abandoned between two renewals of a live consumer.
    if (maintenanceInterval.count() > 0 && claimIdleTimeout < 3 * maintenanceInterval)
        return QStringLiteral("the claim idle timeout (%1 ms) must be at least 3 maintenance "
                              "intervals (%2 ms)")
            .arg(claimIdleTimeout.count())
            .arg(3 * maintenanceInterval.count());
    if (maintenanceInterval.count() > 0 && livenessTimeout < 3 * maintenanceInterval)
        return QStringLiteral("the liveness timeout (%1 ms) must be at least 3 maintenance "
                              "intervals (%2 ms)")
            .arg(livenessTimeout.count())
            .arg(3 * maintenanceInterval.count());
    if (parkedRecheck.count() < 100)
        return QStringLiteral("the parked-campaign recheck must be at least 100 ms");
    if (maintenanceInterval.count() < 1)
        return QStringLiteral("the maintenance interval must be positive");
    if (maxRequestsInFlight < 1 || maxRequestsInFlight > 6)
        return QStringLiteral("requests in flight must be 1 to 6 (Qt opens at most 6 "
                              "connections to a host)");
    if (maxInFlight < maxBatch)
        return QStringLiteral("the in-flight limit must be at least the batch size");
    if (retryBase.count() < 1 || retryCap < retryBase)
        return QStringLiteral("the retry base must be positive and not above the cap");
    if (maxAttempts < 1)
        return QStringLiteral("the maximum number of attempts must be at least 1");
    return std::nullopt;
}

QString skipIfName(SkipIf skip)
{
    switch (skip) {
    case SkipIf::InCampaign:
        return QStringLiteral("in-campaign");
    case SkipIf::InWorkspace:
        return QStringLiteral("in-workspace");
    case SkipIf::None:
        break;
    }
    return QStringLiteral("none");
}

std::optional<SkipIf> skipIfFromName(const QString &name)
{
    for (SkipIf s : { SkipIf::None, SkipIf::InCampaign, SkipIf::InWorkspace })
        if (name.compare(skipIfName(s), Qt::CaseInsensitive) == 0)
            return s;
    return std::nullopt;
}

QString deliveryModeName(DeliveryMode mode)
{
    return mode == DeliveryMode::Bulk ? QStringLiteral("bulk") : QStringLiteral("single");
}

} // namespace sluice
