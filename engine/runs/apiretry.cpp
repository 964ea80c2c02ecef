#include "apiretry.h"

#include <algorithm>

namespace sluice {

using std::chrono::milliseconds;

std::optional<QString> ApiRetryOptions::problem() const
{
    if (maxAttempts < 1 || maxAttempts > 20)
        return QStringLiteral("retry attempts must be 1..20, not %1").arg(maxAttempts);
    if (baseDelay.count() < 0 || maxDelay < baseDelay)
        return QStringLiteral("retry delays must satisfy 0 <= base (%1 ms) <= max (%2 ms)")
            .arg(baseDelay.count())
            .arg(maxDelay.count());
    return std::nullopt;
}

bool ApiRetryOptions::retryable(const ApiResult &result)
{
    return result.outcome == CallOutcome::RateLimited || result.outcome == CallOutcome::Transient;
}

milliseconds ApiRetryOptions::delay(int failedAttempts, const ApiResult &result) const
{
    if (result.retryAfter)
        return std::min(*result.retryAfter, maxDelay);
    milliseconds wait = baseDelay;
    for (int i = 1; i < failedAttempts && wait < maxDelay; ++i)
        wait *= 2;
    return std::min(wait, maxDelay);
}

} // namespace sluice
