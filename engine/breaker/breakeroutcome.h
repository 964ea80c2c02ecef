#pragma once

#include <QString>

namespace sluice {

enum class CallOutcome; // core/apicall.h

/// What one finished call means to the circuit breaker. Slowness is not part of it: the
/// breaker judges it from the call's duration, for successes and failures alike.
enum class BreakerOutcome {
    Success,
    Failure, ///< evidence that the service is unwell
    Ignored, ///< neither: not counted, and a HALF_OPEN trial permit is given back
};

/// The breaker judges the service, not the lead and not our pace:
/// - Success → Success;
/// - Transient (5xx, 408, timeout, connection refused or dropped) → Failure;
/// - ErrorInBody (a 2xx that reports an error) → Failure: the service answered but did not
///   do the work;
/// - RateLimited (429) → Ignored: being told to slow down is the limiter's business, and
///   counting it would open the breaker exactly when the limiter is already backing off;
/// - Permanent (other 4xx, an unreadable answer) → Ignored: a malformed lead or a bad
///   campaign id is the lead's fault, and a batch of bad leads must not cut off good ones.
///   The price: an Instantly outage that answers 4xx would not open the breaker. It still
///   fails those leads visibly (dead letter), which is where an operator would look.
BreakerOutcome breakerOutcomeFor(CallOutcome outcome);

/// "success", "failure", "ignored"
QString breakerOutcomeName(BreakerOutcome outcome);

} // namespace sluice
