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
    if (maintenanceInterval.count() < 1)
        return QStringLiteral("the maintenance interval must be positive");
    if (maxInFlight < maxBatch)
        return QStringLiteral("the in-flight limit must be at least the batch size");
    if (retryBase.count() < 1 || retryCap < retryBase)
        return QStringLiteral("the retry base must be positive and not above the cap");
    if (maxAttempts < 1)
        return QStringLiteral("the maximum number of attempts must be at least 1");
    return std::nullopt;
}

QString deliveryModeName(DeliveryMode mode)
{
    return mode == DeliveryMode::Bulk ? QStringLiteral("bulk") : QStringLiteral("single");
}

} // namespace sluice
