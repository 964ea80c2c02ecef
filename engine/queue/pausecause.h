#pragma once

#include <QByteArray>

#include <optional>

namespace sluice {

/// Why the fleet's dispatching is paused (the control hash's `paused_cause`). An operator's
/// pause ends only by hand; the others end by themselves once a probe passes.
enum class PauseCause {
    Operator, ///< by hand (console, `sluice pause`): resumed by hand
    InstantlyKeyRejected, ///< Instantly answered 401/403: the key is wrong or lacks a scope
    CloseKeyRejected, ///< Close answered 401/403 to a lookup
    PlanExhausted, ///< Instantly's remaining_in_plan reached 0
};

/// "operator", "instantly_key_rejected", "close_key_rejected", "plan_exhausted"
QByteArray pauseCauseName(PauseCause cause);
/// The cause of a stored name; a pause without one (older data) is an operator's.
PauseCause pauseCauseFromName(const QByteArray &name);

} // namespace sluice
