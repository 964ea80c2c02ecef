#include "pausecause.h"

namespace sluice {

QByteArray pauseCauseName(PauseCause cause)
{
    switch (cause) {
    case PauseCause::InstantlyKeyRejected:
        return "instantly_key_rejected";
    case PauseCause::CloseKeyRejected:
        return "close_key_rejected";
    case PauseCause::PlanExhausted:
        return "plan_exhausted";
    case PauseCause::Operator:
        break;
    }
    return "operator";
}

PauseCause pauseCauseFromName(const QByteArray &name)
{
    for (PauseCause c : { PauseCause::InstantlyKeyRejected, PauseCause::CloseKeyRejected,
                          PauseCause::PlanExhausted })
        if (name == pauseCauseName(c))
            return c;
    return PauseCause::Operator;
}

} // namespace sluice
