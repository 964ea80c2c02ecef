#include "circuitbreaker.h"

#include <QRandomGenerator>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>

namespace sluice {

using std::chrono::milliseconds;

namespace {

/// How soon a caller refused in HALF_OPEN (all trials out) should ask again: the trials
/// usually answer within a second.
constexpr milliseconds halfOpenRetryHint { 1000 };

/// The stored form: one flat map, every field always written, times in ms on the caller's
/// timeline. Bump `format` when a field changes meaning.
namespace field {
const QByteArray format = QByteArrayLiteral("format");
const QByteArray state = QByteArrayLiteral("state");
const QByteArray generation = QByteArrayLiteral("generation");
const QByteArray since = QByteArrayLiteral("since_ms");
const QByteArray openings = QByteArrayLiteral("openings");
const QByteArray openUntil = QByteArrayLiteral("open_until_ms");
const QByteArray forceReason = QByteArrayLiteral("force_reason");
const QByteArray forceSince = QByteArrayLiteral("force_since_ms");
const QByteArray forceUntil = QByteArrayLiteral("force_until_ms");
const QByteArray trialPermits = QByteArrayLiteral("trial_permits");
const QByteArray trialCalls = QByteArrayLiteral("trial_calls");
const QByteArray trialFailures = QByteArrayLiteral("trial_failures");
const QByteArray trialSlowCalls = QByteArrayLiteral("trial_slow_calls");
const QByteArray trialLastPermit = QByteArrayLiteral("trial_last_permit_ms");
const QByteArray windowType = QByteArrayLiteral("window_type");
const QByteArray window = QByteArrayLiteral("window");
} // namespace field

const QByteArray currentFormat = QByteArrayLiteral("1");

QByteArray windowTypeName(BreakerWindowType type)
{
    return type == BreakerWindowType::CountBased ? QByteArrayLiteral("count")
                                                 : QByteArrayLiteral("time");
}

/// "50%", "66.7%"
QString formatPercent(double value)
{
    QString text = QString::number(std::round(value * 10.0) / 10.0, 'f', 1);
    if (text.endsWith(QStringLiteral(".0")))
        text.chop(2);
    return text + u'%';
}

QString rateText(const QString &name, double rate, double threshold)
{
    return name + u' ' + formatPercent(rate) + (rate >= threshold ? u" >= " : u" < ")
        + formatPercent(threshold);
}

double sanitizedUnit(double value)
{
    if (std::isnan(value))
        return 0.5;
    return std::clamp(value, 0.0, 1.0);
}

/// Reads an integer field; an absent one is `fallback`, an unreadable one an error.
template<typename T>
bool readNumber(const CircuitBreaker::Fields &fields, const QByteArray &key, T &out, QString &error)
{
    const auto it = fields.constFind(key);
    if (it == fields.constEnd())
        return true;
    bool ok = false;
    if constexpr (std::is_same_v<T, quint64>)
        out = it->toULongLong(&ok);
    else if constexpr (std::is_same_v<T, qint64>)
        out = it->toLongLong(&ok);
    else
        out = it->toInt(&ok); // out of int's range is unreadable, not truncated
    if (!ok)
        error = QStringLiteral("the breaker field \"%1\" is not a number: \"%2\"")
                    .arg(QString::fromLatin1(key), QString::fromUtf8(*it));
    return ok;
}

} // namespace

QString breakerStateName(BreakerState state)
{
    switch (state) {
    case BreakerState::Closed:
        return QStringLiteral("closed");
    case BreakerState::Open:
        return QStringLiteral("open");
    case BreakerState::HalfOpen:
        return QStringLiteral("half_open");
    case BreakerState::ForcedOpen:
        return QStringLiteral("forced_open");
    case BreakerState::ForcedClosed:
        return QStringLiteral("forced_closed");
    }
    return QStringLiteral("unknown");
}

std::optional<BreakerState> breakerStateFromName(QStringView name)
{
    for (BreakerState state : { BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen,
                                BreakerState::ForcedOpen, BreakerState::ForcedClosed }) {
        if (name == breakerStateName(state))
            return state;
    }
    return std::nullopt;
}

bool isOpenState(BreakerState state)
{
    return state == BreakerState::Open || state == BreakerState::ForcedOpen;
}

QString BreakerTransition::describe() const
{
    return breakerStateName(from) + QStringLiteral(" -> ") + breakerStateName(to)
        + QStringLiteral(": ") + reason;
}

milliseconds breakerOpenWait(const BreakerOptions &options, int opening, double unitRandom)
{
    const double cap = double(options.openWaitCap.count());
    const double grown
        = std::min(cap,
                   double(options.openWaitBase.count())
                       * std::pow(options.openWaitMultiplier, double(std::max(opening, 1) - 1)));
    const double spread = 1.0 + options.openWaitJitter * (2.0 * sanitizedUnit(unitRandom) - 1.0);
    return milliseconds { std::max<qint64>(1, std::llround(std::min(cap, grown * spread))) };
}

CircuitBreaker::CircuitBreaker(BreakerOptions options, Random random)
    : m_options(options)
    , m_random(std::move(random))
    , m_window(BreakerWindow::fromOptions(m_options))
{
    if (!m_random)
        m_random = [] { return QRandomGenerator::global()->generateDouble(); };
}

BreakerDecision CircuitBreaker::allow(milliseconds now)
{
    update(now);
    BreakerDecision decision;
    decision.generation = m_generation;
    decision.state = m_state;
    switch (m_state) {
    case BreakerState::Closed:
    case BreakerState::ForcedClosed:
        decision.permitted = true;
        break;
    case BreakerState::Open:
        decision.retryAfter = std::max(milliseconds { 1 }, m_openUntil - now);
        break;
    case BreakerState::ForcedOpen:
        decision.retryAfter = std::max(milliseconds { 1 }, m_force->until - now);
        break;
    case BreakerState::HalfOpen: {
        const milliseconds lostAt = m_lastTrialPermitAt + m_options.halfOpenTrialTimeout;
        if (m_trialPermits > m_trials.calls && now >= lostAt)
            m_trialPermits = m_trials.calls; // the outstanding trials are presumed lost
        if (m_trialPermits < m_options.halfOpenTrialCalls) {
            ++m_trialPermits;
            m_lastTrialPermitAt = now;
            decision.permitted = true;
        } else {
            decision.retryAfter
                = std::clamp(m_lastTrialPermitAt + m_options.halfOpenTrialTimeout - now,
                             milliseconds { 1 }, halfOpenRetryHint);
        }
        break;
    }
    }
    return decision;
}

void CircuitBreaker::record(milliseconds now, quint64 generation, BreakerOutcome outcome,
                            milliseconds duration)
{
    update(now);
    if (generation != m_generation)
        return; // permitted under an earlier state: no evidence about this one
    const bool failure = outcome == BreakerOutcome::Failure;
    const bool slow = isSlow(duration);
    switch (m_state) {
    case BreakerState::Closed:
    case BreakerState::ForcedClosed:
        if (outcome == BreakerOutcome::Ignored)
            return;
        m_window.record(now, failure, slow);
        if (m_state == BreakerState::Closed)
            judgeWindow(now);
        return;
    case BreakerState::HalfOpen:
        if (outcome == BreakerOutcome::Ignored) {
            if (m_trialPermits > m_trials.calls)
                --m_trialPermits; // give the permit back for another trial
            return;
        }
        ++m_trials.calls;
        m_trials.failures += failure ? 1 : 0;
        m_trials.slowCalls += slow ? 1 : 0;
        // A trial presumed lost may still answer after its permit was handed out again.
        m_trialPermits = std::max(m_trialPermits, m_trials.calls);
        if (m_trials.calls >= m_options.halfOpenTrialCalls)
            judgeTrials(now);
        return;
    case BreakerState::Open:
    case BreakerState::ForcedOpen:
        return; // nothing is permitted in these states, so nothing can match their generation
    }
}

void CircuitBreaker::record(milliseconds now, quint64 generation, CallOutcome outcome,
                            milliseconds latency)
{
    record(now, generation, breakerOutcomeFor(outcome), latency);
}

void CircuitBreaker::update(milliseconds now)
{
    if (m_force && now >= m_force->until)
        endForce(now, QStringLiteral("force expired: ") + m_force->reason);
    if (m_state == BreakerState::Open && now >= m_openUntil)
        enterHalfOpen(now,
                      QStringLiteral("open wait of %1 over")
                          .arg(formatBreakerDuration(m_openUntil - m_since)));
}

std::optional<QString> CircuitBreaker::forceOpen(milliseconds now, const QString &reason,
                                                 milliseconds until)
{
    return setForce(now, BreakerState::ForcedOpen, reason, until);
}

std::optional<QString> CircuitBreaker::forceClosed(milliseconds now, const QString &reason,
                                                   milliseconds until)
{
    return setForce(now, BreakerState::ForcedClosed, reason, until);
}

void CircuitBreaker::clearForce(milliseconds now, const QString &why)
{
    update(now);
    if (!m_force)
        return;
    endForce(now, QStringLiteral("force cleared: ") + why);
}

std::optional<milliseconds> CircuitBreaker::openUntil() const
{
    if (m_state == BreakerState::Open)
        return m_openUntil;
    return std::nullopt;
}

BreakerMetrics CircuitBreaker::metrics(milliseconds now) const
{
    switch (m_state) {
    case BreakerState::Closed:
    case BreakerState::ForcedClosed:
        return m_window.metrics(now);
    case BreakerState::HalfOpen:
        return m_trials;
    case BreakerState::Open:
    case BreakerState::ForcedOpen:
        break;
    }
    return {};
}

std::vector<BreakerTransition> CircuitBreaker::takeTransitions()
{
    return std::exchange(m_transitions, {});
}

void CircuitBreaker::transition(milliseconds now, BreakerState to, const QString &reason)
{
    BreakerTransition change { m_state, to, now, reason, m_generation };
    if (to != m_state) {
        ++m_generation;
        m_since = now;
        m_state = to;
    }
    change.generation = m_generation;
    m_transitions.push_back(std::move(change));
}

void CircuitBreaker::judgeWindow(milliseconds now)
{
    const BreakerMetrics seen = m_window.metrics(now);
    if (seen.calls < m_options.minimumCalls)
        return;
    const bool failing = seen.failureRatePercent() >= m_options.failureRateThresholdPercent;
    const bool slow = seen.slowCallRatePercent() >= m_options.slowCallRateThresholdPercent;
    if (!failing && !slow)
        return;
    QString why;
    if (failing)
        why = rateText(QStringLiteral("failure rate"), seen.failureRatePercent(),
                       m_options.failureRateThresholdPercent);
    if (slow)
        why += (why.isEmpty() ? QString() : QStringLiteral(" and "))
            + rateText(QStringLiteral("slow-call rate"), seen.slowCallRatePercent(),
                       m_options.slowCallRateThresholdPercent);
    why += QStringLiteral(" over %1 calls").arg(seen.calls);
    if (m_options.windowType == BreakerWindowType::TimeBased)
        why += QStringLiteral(" in the last %1 s").arg(m_options.windowDuration.count());
    open(now, why);
}

void CircuitBreaker::judgeTrials(milliseconds now)
{
    const BreakerMetrics &seen = m_trials;
    const bool failing = seen.failureRatePercent() >= m_options.failureRateThresholdPercent;
    const bool slow = seen.slowCallRatePercent() >= m_options.slowCallRateThresholdPercent;
    const QString rates = rateText(QStringLiteral("failure rate"), seen.failureRatePercent(),
                                   m_options.failureRateThresholdPercent)
        + QStringLiteral(", ")
        + rateText(QStringLiteral("slow-call rate"), seen.slowCallRatePercent(),
                   m_options.slowCallRateThresholdPercent)
        + QStringLiteral(" over %1 trial calls").arg(seen.calls);
    if (failing || slow) {
        open(now, QStringLiteral("trials failed: ") + rates);
        return;
    }
    m_openings = 0;
    m_window.clear();
    m_trials = {};
    m_trialPermits = 0;
    transition(now, BreakerState::Closed, QStringLiteral("trials passed: ") + rates);
}

void CircuitBreaker::open(milliseconds now, const QString &why)
{
    ++m_openings;
    const milliseconds wait = breakerOpenWait(m_options, m_openings, m_random());
    m_openUntil = now + wait;
    m_window.clear();
    m_trials = {};
    m_trialPermits = 0;
    transition(now, BreakerState::Open,
               why
                   + QStringLiteral("; open %1 (opening %2)")
                         .arg(formatBreakerDuration(wait))
                         .arg(m_openings));
}

void CircuitBreaker::enterHalfOpen(milliseconds now, const QString &why)
{
    m_openUntil = milliseconds { 0 };
    m_window.clear();
    m_trials = {};
    m_trialPermits = 0;
    m_lastTrialPermitAt = now;
    transition(now, BreakerState::HalfOpen,
               why + QStringLiteral("; %1 trial calls").arg(m_options.halfOpenTrialCalls));
}

void CircuitBreaker::endForce(milliseconds now, const QString &why)
{
    const BreakerState was = m_state;
    m_force.reset();
    if (was == BreakerState::ForcedOpen) {
        enterHalfOpen(now, why);
        return;
    }
    // Forced closed: resume with the window measured under the force, and judge it.
    m_openings = 0;
    transition(now, BreakerState::Closed, why);
    judgeWindow(now);
}

std::optional<QString> CircuitBreaker::setForce(milliseconds now, BreakerState to,
                                                const QString &reason, milliseconds until)
{
    if (reason.trimmed().isEmpty())
        return QStringLiteral("forcing the breaker needs a reason");
    if (until <= now)
        return QStringLiteral("a forced state must end after now (it would end %1 ago)")
            .arg(formatBreakerDuration(now - until));
    update(now);
    if (m_state != to) {
        m_window.clear();
        m_trials = {};
        m_trialPermits = 0;
        m_openUntil = milliseconds { 0 };
    }
    m_force = BreakerForce { reason, now, until };
    transition(
        now, to,
        QStringLiteral("forced %1 for %2: %3")
            .arg(to == BreakerState::ForcedOpen ? QStringLiteral("open") : QStringLiteral("closed"),
                 formatBreakerDuration(until - now), reason));
    return std::nullopt;
}

bool CircuitBreaker::isSlow(milliseconds duration) const
{
    return duration >= m_options.slowCallDuration;
}

CircuitBreaker::Fields CircuitBreaker::saveState() const
{
    const auto number = [](qint64 value) { return QByteArray::number(value); };
    Fields fields;
    fields.insert(field::format, currentFormat);
    fields.insert(field::state, breakerStateName(m_state).toLatin1());
    fields.insert(field::generation, QByteArray::number(m_generation));
    fields.insert(field::since, number(m_since.count()));
    fields.insert(field::openings, number(m_openings));
    fields.insert(field::openUntil, number(m_openUntil.count()));
    fields.insert(field::forceReason, m_force ? m_force->reason.toUtf8() : QByteArray());
    fields.insert(field::forceSince, number(m_force ? m_force->since.count() : 0));
    fields.insert(field::forceUntil, number(m_force ? m_force->until.count() : 0));
    fields.insert(field::trialPermits, number(m_trialPermits));
    fields.insert(field::trialCalls, number(m_trials.calls));
    fields.insert(field::trialFailures, number(m_trials.failures));
    fields.insert(field::trialSlowCalls, number(m_trials.slowCalls));
    fields.insert(field::trialLastPermit, number(m_lastTrialPermitAt.count()));
    fields.insert(field::windowType, windowTypeName(m_window.type()));
    fields.insert(field::window, m_window.save());
    return fields;
}

std::optional<QString> CircuitBreaker::restoreState(const Fields &fields)
{
    if (fields.value(field::format) != currentFormat)
        return QStringLiteral("the breaker state has format \"%1\", expected \"%2\"")
            .arg(QString::fromUtf8(fields.value(field::format)),
                 QString::fromLatin1(currentFormat));
    const std::optional<BreakerState> state
        = breakerStateFromName(QString::fromUtf8(fields.value(field::state)));
    if (!state)
        return QStringLiteral("the breaker state \"%1\" is unknown")
            .arg(QString::fromUtf8(fields.value(field::state)));

    QString error;
    quint64 generation = 0;
    qint64 since = 0, openUntil = 0, forceSince = 0, forceUntil = 0, lastPermit = 0;
    int openings = 0, permits = 0;
    BreakerMetrics trials;
    if (!readNumber(fields, field::generation, generation, error)
        || !readNumber(fields, field::since, since, error)
        || !readNumber(fields, field::openings, openings, error)
        || !readNumber(fields, field::openUntil, openUntil, error)
        || !readNumber(fields, field::forceSince, forceSince, error)
        || !readNumber(fields, field::forceUntil, forceUntil, error)
        || !readNumber(fields, field::trialPermits, permits, error)
        || !readNumber(fields, field::trialCalls, trials.calls, error)
        || !readNumber(fields, field::trialFailures, trials.failures, error)
        || !readNumber(fields, field::trialSlowCalls, trials.slowCalls, error)
        || !readNumber(fields, field::trialLastPermit, lastPermit, error))
        return error;
    if (openings < 0 || permits < 0 || trials.calls < 0 || trials.failures < 0
        || trials.slowCalls < 0 || trials.failures > trials.calls
        || trials.slowCalls > trials.calls)
        return QStringLiteral("the breaker's counters are inconsistent (openings %1, trials "
                              "%2 permitted, %3 counted, %4 failed, %5 slow)")
            .arg(openings)
            .arg(permits)
            .arg(trials.calls)
            .arg(trials.failures)
            .arg(trials.slowCalls);

    std::optional<BreakerForce> force;
    if (*state == BreakerState::ForcedOpen || *state == BreakerState::ForcedClosed) {
        const QString reason = QString::fromUtf8(fields.value(field::forceReason));
        if (reason.trimmed().isEmpty() || !fields.contains(field::forceUntil))
            return QStringLiteral("the breaker is stored as %1 without a reason and an expiry")
                .arg(breakerStateName(*state));
        force = BreakerForce { reason, milliseconds { forceSince }, milliseconds { forceUntil } };
    }

    BreakerWindow window = BreakerWindow::fromOptions(m_options);
    if (fields.value(field::windowType) == windowTypeName(window.type())) {
        if (std::optional<QString> problem = window.restore(fields.value(field::window)))
            return problem;
    } // else: stored under another window type; start empty

    m_state = *state;
    m_generation = generation;
    m_since = milliseconds { since };
    m_openings = openings;
    m_openUntil = milliseconds { openUntil };
    m_force = std::move(force);
    m_window = std::move(window);
    m_trialPermits = std::max(permits, trials.calls);
    m_trials = trials;
    m_lastTrialPermitAt = milliseconds { lastPermit };
    return std::nullopt;
}

} // namespace sluice
