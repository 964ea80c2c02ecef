#pragma once

#include "breakeroptions.h"
#include "breakeroutcome.h"
#include "breakerwindow.h"

#include <QByteArray>
#include <QHash>
#include <QString>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace sluice {

/// The states an operator sees. The forced ones are set by hand and win over the automatic
/// three until they expire or are cleared.
enum class BreakerState {
    Closed,
    Open,
    HalfOpen,
    ForcedOpen,
    ForcedClosed,
};

/// "closed", "open", "half_open", "forced_open", "forced_closed" (also the stored form)
QString breakerStateName(BreakerState state);
std::optional<BreakerState> breakerStateFromName(QStringView name);
/// Open, ForcedOpen: calls are refused (HalfOpen refuses only beyond its trials).
bool isOpenState(BreakerState state);

/// One change of state, for the log, the console and (later) every other instance.
struct BreakerTransition
{
    BreakerState from = BreakerState::Closed;
    BreakerState to = BreakerState::Closed;
    std::chrono::milliseconds at { 0 };
    QString reason; ///< "failure rate 62.5% >= 50% over 16 calls; open 5 s (opening 1)"
    quint64 generation = 0; ///< the breaker's generation from this transition on

    /// "closed -> open: failure rate 62.5% >= 50% over 16 calls; open 5 s (opening 1)"
    QString describe() const;
};

/// The answer to "may I call the service now?".
struct BreakerDecision
{
    bool permitted = false;
    std::chrono::milliseconds retryAfter { 0 }; ///< when refused: ask again after this long
    /// Pass it back to record(): an outcome from an earlier generation is not evidence about
    /// the current state.
    quint64 generation = 0;
    BreakerState state = BreakerState::Closed;
};

/// A state set by hand.
struct BreakerForce
{
    QString reason;
    std::chrono::milliseconds since { 0 };
    std::chrono::milliseconds until { 0 }; ///< the force ends at this time (exclusive)
};

/// resilience4j's circuit breaker as pure logic: no clock, timer, network or Redis. Every call
/// takes `now` (ms on the caller's timeline) and time-driven changes (an open wait that ended,
/// a force that expired) happen on the next call that passes a later `now`; update() applies
/// them without asking for anything.
///
/// CLOSED judges its sliding window after every counted call: once it holds minimumCalls,
/// a failure rate or slow-call rate at or above its threshold opens the breaker. OPEN refuses
/// for a wait that grows per consecutive opening (see breakerOpenWait), then HALF_OPEN hands
/// out halfOpenTrialCalls permits; when all their outcomes are in, a rate at or above a
/// threshold opens it again (longer), else it closes and the growth starts over. Every state
/// change starts a new generation with an empty window; outcomes of calls permitted in an
/// earlier generation are dropped, so a 30 s timeout from before the opening cannot fail a
/// trial.
///
/// Forcing (open or closed, with a reason and an expiry) suspends the automatic machine. The
/// window is emptied when the force begins and keeps measuring the calls made under it (the
/// console can show what the automatic machine would see), but nothing is judged. When the
/// force ends, forced-open resumes in HALF_OPEN (trials before full traffic; the opening count
/// is kept), and forced-closed resumes in CLOSED with the window it measured, judged at once:
/// a service still failing is cut off immediately, and the growth starts over.
///
/// The whole state round-trips through a flat map (saveState / restoreState) for a Redis
/// hash. Times in it are absolute on the caller's timeline, so a breaker shared by several
/// processes or kept across restarts must be fed one timeline they all share (Redis TIME or
/// the wall clock), not a process's steady clock. Not thread-safe: one owner thread.
class CircuitBreaker
{
public:
    /// Returns a value in [0, 1) for the jitter; tests pass a fixed sequence.
    using Random = std::function<double()>;
    using Fields = QHash<QByteArray, QByteArray>;

    /// `options` must be valid (BreakerOptions::problem()). Without `random`,
    /// QRandomGenerator::global() supplies the jitter.
    explicit CircuitBreaker(BreakerOptions options = {}, Random random = {});

    /// May a call go out now? In HALF_OPEN a permit is one of the trial calls.
    BreakerDecision allow(std::chrono::milliseconds now);
    /// The outcome of a call that allow() permitted in `generation`; `duration` decides whether
    /// it was slow. Ignored outcomes count nowhere and give a HALF_OPEN permit back.
    void record(std::chrono::milliseconds now, quint64 generation, BreakerOutcome outcome,
                std::chrono::milliseconds duration);
    /// The same, classified by breakerOutcomeFor().
    void record(std::chrono::milliseconds now, quint64 generation, CallOutcome outcome,
                std::chrono::milliseconds latency);
    /// Applies what time alone changes: a force that expired, an open wait that ended.
    void update(std::chrono::milliseconds now);

    /// Forces the state until `until` (exclusive). Says why not when `reason` is blank or
    /// `until` is not after `now`. Forcing again replaces the reason and the expiry.
    std::optional<QString> forceOpen(std::chrono::milliseconds now, const QString &reason,
                                     std::chrono::milliseconds until);
    std::optional<QString> forceClosed(std::chrono::milliseconds now, const QString &reason,
                                       std::chrono::milliseconds until);
    /// Ends a force early (no-op when not forced).
    void clearForce(std::chrono::milliseconds now, const QString &why);

    /// As of the last call that passed `now`.
    BreakerState state() const { return m_state; }
    bool isForced() const { return m_force.has_value(); }
    const std::optional<BreakerForce> &force() const { return m_force; }
    quint64 generation() const { return m_generation; }
    std::chrono::milliseconds stateSince() const { return m_since; }
    /// When OPEN: the end of the wait.
    std::optional<std::chrono::milliseconds> openUntil() const;
    /// Openings since the breaker last closed: the exponent of the next wait.
    int consecutiveOpenings() const { return m_openings; }
    /// CLOSED and FORCED_CLOSED: the window; HALF_OPEN: the trial calls so far; else empty.
    BreakerMetrics metrics(std::chrono::milliseconds now) const;
    const BreakerOptions &options() const { return m_options; }

    /// The transitions since the last call, oldest first; the list is then empty.
    std::vector<BreakerTransition> takeTransitions();
    bool hasTransitions() const { return !m_transitions.empty(); }

    /// The whole state as a flat map (fields listed in circuitbreaker.cpp), pending
    /// transitions excepted.
    Fields saveState() const;
    /// Loads what saveState() wrote, possibly by another process with other options: a window
    /// of another type starts empty, one of another size keeps what fits. On a malformed map
    /// it says why and changes nothing.
    std::optional<QString> restoreState(const Fields &fields);

private:
    void transition(std::chrono::milliseconds now, BreakerState to, const QString &reason);
    void judgeWindow(std::chrono::milliseconds now);
    void judgeTrials(std::chrono::milliseconds now);
    void open(std::chrono::milliseconds now, const QString &why);
    void enterHalfOpen(std::chrono::milliseconds now, const QString &why);
    void endForce(std::chrono::milliseconds now, const QString &why);
    std::optional<QString> setForce(std::chrono::milliseconds now, BreakerState to,
                                    const QString &reason, std::chrono::milliseconds until);
    bool isSlow(std::chrono::milliseconds duration) const;

    BreakerOptions m_options;
    Random m_random;

    BreakerState m_state = BreakerState::Closed;
    quint64 m_generation = 0;
    std::chrono::milliseconds m_since { 0 };
    int m_openings = 0;
    std::chrono::milliseconds m_openUntil { 0 };
    std::optional<BreakerForce> m_force;
    BreakerWindow m_window;
    // HALF_OPEN
    int m_trialPermits = 0; ///< handed out, outcome pending or counted
    BreakerMetrics m_trials; ///< counted outcomes
    std::chrono::milliseconds m_lastTrialPermitAt { 0 };

    std::vector<BreakerTransition> m_transitions;
};

/// How long the `opening`-th consecutive opening lasts (1 for the first):
/// min(cap, base × multiplier^(opening−1) × (1 + jitter × (2 × unitRandom − 1))), at least
/// 1 ms. `unitRandom` in [0, 1); 0.5 gives the wait without jitter.
std::chrono::milliseconds breakerOpenWait(const BreakerOptions &options, int opening,
                                          double unitRandom);

} // namespace sluice
