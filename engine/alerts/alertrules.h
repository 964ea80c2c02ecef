#pragma once

#include "alert.h"

#include <QString>

#include <optional>
#include <utility>
#include <vector>

namespace sluice {

/// What the alert rules look at, read once per evaluation. Plain values, so the rules are
/// pure logic on an injected clock and are tested with stepped readings (tst_alertrules).
struct AlertReading
{
    bool delivering = false; ///< the delivery figures below are known
    QString breakerState = QStringLiteral("closed"); ///< breakerStateName()
    bool breakerOpen = false; ///< open or forced open
    bool limiterFallback = false; ///< the limiter could not reach Redis and runs locally

    bool fleetKnown = false; ///< the pause, parked and dead-letter figures were read
    std::optional<QString> pausedReason; ///< the fleet's pause; nullopt: dispatching runs
    QString pauseCause; ///< pauseCauseName()
    qint64 pausedSinceMs = 0;
    /// Dead letters made within AlertOptions::deadLettersWithin, per reason code, fleet-wide
    /// (counted from the dead-letter stream); nullopt when not read.
    std::optional<std::vector<std::pair<QString, qint64>>> recentDeadLetters;
    bool recentDeadLettersCapped = false; ///< the read stopped at its cap: "at least" these
    std::vector<std::pair<QString, qint64>> parked; ///< per campaign, fleet-wide
    qint64 remainingInPlan = -1; ///< -1 unknown

    bool forecastKnown = false;
    qint64 backlog = 0;
    double drainPerSecond = 0;
    std::optional<qint64> timeToDrainMs; ///< nullopt: nothing drains it
    qint64 unexplained429 = 0; ///< within the last minute

    bool listening = false; ///< this instance has an intake
    qint64 intakeAccepted = 0; ///< ever, this instance
    /// Refused or failed, ever, this instance: 5xx (unavailable, misconfigured) and
    /// signature failures, with the count of each.
    qint64 intakeUnavailable = 0;
    qint64 intakeMisconfigured = 0;
    qint64 intakeBadSignature = 0;
    /// The newest request the intake stored, fleet-wide (Unix ms); nullopt: none known.
    std::optional<qint64> lastIntakeMs;
};

/// Which conditions hold, from successive readings. Stateful only where a condition is about
/// time the reading does not hold (failures lasting); everything else is the reading itself.
/// `evaluate` returns the conditions that hold at `nowMs` (Unix ms).
class AlertRules
{
public:
    /// `startedMs`: when this instance began watching (silence is counted from then at most).
    AlertRules(AlertOptions options, qint64 startedMs);

    std::vector<AlertCondition> evaluate(qint64 nowMs, const AlertReading &reading);
    const AlertOptions &options() const { return m_options; }

private:
    std::optional<AlertCondition> deadLetters(const AlertReading &r) const;
    std::optional<AlertCondition> intakeFailing(qint64 nowMs, const AlertReading &r);
    std::optional<AlertCondition> intakeSilent(qint64 nowMs, const AlertReading &r) const;

    AlertOptions m_options;
    qint64 m_startedMs = 0;
    // intake_failing: the streak of failures (first and latest), and the last total seen.
    qint64 m_failuresSeen = -1;
    qint64 m_streakStartMs = 0;
    qint64 m_lastFailureMs = 0;
};

} // namespace sluice
