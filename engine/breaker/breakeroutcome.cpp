#include "breakeroutcome.h"

#include "core/apicall.h"

namespace sluice {

BreakerOutcome breakerOutcomeFor(CallOutcome outcome)
{
    switch (outcome) {
    case CallOutcome::Success:
        return BreakerOutcome::Success;
    case CallOutcome::Transient:
    case CallOutcome::ErrorInBody:
        return BreakerOutcome::Failure;
    case CallOutcome::RateLimited:
    case CallOutcome::Permanent:
        return BreakerOutcome::Ignored;
    }
    return BreakerOutcome::Failure; // an unknown value is a bug upstream; do not hide it
}

QString breakerOutcomeName(BreakerOutcome outcome)
{
    switch (outcome) {
    case BreakerOutcome::Success:
        return QStringLiteral("success");
    case BreakerOutcome::Failure:
        return QStringLiteral("failure");
    case BreakerOutcome::Ignored:
        return QStringLiteral("ignored");
    }
    return QStringLiteral("unknown");
}

} // namespace sluice
