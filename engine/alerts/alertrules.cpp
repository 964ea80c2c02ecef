#include "alertrules.h"

#include <QDateTime>

#include <algorithm>
#include <cmath>

namespace sluice {

namespace {

std::string std8(const QString &s)
{
    return s.toStdString();
}

AlertCondition condition(AlertKind kind, AlertSeverity severity, QString summary,
                         nlohmann::json detail = nlohmann::json::object())
{
    AlertCondition c;
    c.kind = kind;
    c.severity = severity;
    c.summary = std::move(summary);
    c.detail = std::move(detail);
    return c;
}

} // namespace

AlertRules::AlertRules(AlertOptions options, qint64 startedMs)
    : m_options(std::move(options))
    , m_startedMs(startedMs)
{ }

std::vector<AlertCondition> AlertRules::evaluate(qint64 nowMs, const AlertReading &r)
{
    std::vector<AlertCondition> out;
    if (r.delivering && r.breakerOpen) {
        out.push_back(condition(
            AlertKind::BreakerOpen, AlertSeverity::Critical,
            QStringLiteral("The circuit breaker is %1: no lead goes to Instantly until it closes.")
                .arg(r.breakerState),
            { { "breaker", std8(r.breakerState) } }));
    }
    if (r.fleetKnown && r.pausedReason) {
        const bool byHand = r.pauseCause == QLatin1String("operator");
        out.push_back(condition(
            AlertKind::DispatchPaused, byHand ? AlertSeverity::Warning : AlertSeverity::Critical,
            byHand ? QStringLiteral("Dispatching is paused by hand: %1. Leads wait in the queue "
                                    "until someone resumes it.")
                         .arg(*r.pausedReason)
                   : QStringLiteral("Dispatching paused itself (%1): %2")
                         .arg(r.pauseCause, *r.pausedReason),
            { { "reason", std8(*r.pausedReason) },
              { "cause", std8(r.pauseCause) },
              { "since",
                r.pausedSinceMs > 0 ? nlohmann::json(std8(
                    QDateTime::fromMSecsSinceEpoch(r.pausedSinceMs, Qt::UTC).toString(Qt::ISODate)))
                                    : nlohmann::json(nullptr) } }));
    }
    if (auto c = deadLetters(r))
        out.push_back(std::move(*c));
    if (r.fleetKnown && !r.parked.empty()) {
        qint64 leads = 0;
        nlohmann::json campaigns = nlohmann::json::object();
        QStringList names;
        for (const auto &[campaign, n] : r.parked) {
            leads += n;
            campaigns[std8(campaign)] = n;
            names << QStringLiteral("\"%1\"").arg(campaign);
        }
        out.push_back(condition(
            AlertKind::CampaignMissing, AlertSeverity::Warning,
            QStringLiteral("%1 lead(s) are parked: Instantly has no campaign named %2. Create it "
                           "(or fix the Close task's name); parked leads go out when it appears.")
                .arg(leads)
                .arg(names.join(QStringLiteral(", "))),
            { { "parked_leads", leads }, { "campaigns", campaigns } }));
    }
    // A pause or an open breaker stops the drain and has its own alert.
    const bool stopped = (r.fleetKnown && r.pausedReason) || (r.delivering && r.breakerOpen);
    if (r.forecastKnown && r.backlog > 0 && !stopped
        && (!r.timeToDrainMs || *r.timeToDrainMs > m_options.drainWithin.count())) {
        out.push_back(condition(
            AlertKind::DrainSlow, AlertSeverity::Warning,
            r.timeToDrainMs
                ? QStringLiteral("%1 leads wait; at %2 leads/s they take %3 to clear, more than "
                                 "the %4 allowed.")
                      .arg(r.backlog)
                      .arg(r.drainPerSecond, 0, 'f', 1)
                      .arg(spanText(*r.timeToDrainMs), spanText(m_options.drainWithin.count()))
                : QStringLiteral("%1 leads wait and nothing drains them.").arg(r.backlog),
            { { "backlog", r.backlog },
              { "drain_per_second", r.drainPerSecond },
              { "time_to_drain_ms",
                r.timeToDrainMs ? nlohmann::json(*r.timeToDrainMs) : nlohmann::json(nullptr) },
              { "limit_ms", qint64(m_options.drainWithin.count()) } }));
    }
    if (r.forecastKnown && r.unexplained429 >= m_options.rateLimited429) {
        out.push_back(
            condition(AlertKind::RateLimited, AlertSeverity::Warning,
                      QStringLiteral(
                          "Instantly answered 429 %1 time(s) in the last minute while Sluice's own "
                          "requests were under the cap: another key or tool is using the "
                          "workspace's budget.")
                          .arg(r.unexplained429),
                      { { "unexplained_429", r.unexplained429 } }));
    }
    if (auto c = intakeFailing(nowMs, r))
        out.push_back(std::move(*c));
    if (auto c = intakeSilent(nowMs, r))
        out.push_back(std::move(*c));
    if (m_options.planLow > 0 && r.remainingInPlan >= 0 && r.remainingInPlan < m_options.planLow) {
        out.push_back(condition(
            AlertKind::PlanLow,
            r.remainingInPlan == 0 ? AlertSeverity::Critical : AlertSeverity::Warning,
            QStringLiteral("Instantly's plan has room for %1 more lead(s) (alert below %2).")
                .arg(r.remainingInPlan)
                .arg(m_options.planLow),
            { { "remaining_in_plan", r.remainingInPlan }, { "threshold", m_options.planLow } }));
    }
    if (r.delivering && r.limiterFallback) {
        out.push_back(condition(
            AlertKind::RedisFallback, AlertSeverity::Critical,
            QStringLiteral("The rate limiter cannot reach Redis and runs on its local fallback: "
                           "each instance keeps its own share of the cap.")));
    }
    return out;
}

std::optional<AlertCondition> AlertRules::deadLetters(const AlertReading &r) const
{
    if (!r.recentDeadLetters)
        return std::nullopt;
    qint64 growth = 0;
    nlohmann::json byReason = nlohmann::json::object();
    QStringList parts;
    for (const auto &[code, n] : *r.recentDeadLetters) {
        growth += n;
        byReason[std8(code)] = n;
        parts << QStringLiteral("%1 %2").arg(n).arg(code);
    }
    if (growth < m_options.deadLettersGrowth)
        return std::nullopt;
    return condition(
        AlertKind::DeadLetters, AlertSeverity::Warning,
        QStringLiteral("%1%2 lead(s) went to the dead letters within %3 (%4). See the "
                       "Dead letters page or `sluice dead`.")
            .arg(r.recentDeadLettersCapped ? QStringLiteral("at least ") : QString())
            .arg(growth)
            .arg(spanText(m_options.deadLettersWithin.count()), parts.join(QStringLiteral(", "))),
        { { "grew_by", growth },
          { "at_least", r.recentDeadLettersCapped },
          { "within_ms", qint64(m_options.deadLettersWithin.count()) },
          { "by_reason", byReason } });
}

std::optional<AlertCondition> AlertRules::intakeFailing(qint64 nowMs, const AlertReading &r)
{
    if (!r.listening)
        return std::nullopt;
    const qint64 failures = r.intakeUnavailable + r.intakeMisconfigured + r.intakeBadSignature;
    // A streak lasts while failures keep coming: each within a minute of the one before (or of
    // the threshold, when that is shorter).
    const qint64 gap = std::min<qint64>(60'000, m_options.intakeFailingFor.count());
    if (m_failuresSeen >= 0 && failures > m_failuresSeen) {
        if (m_streakStartMs == 0 || nowMs - m_lastFailureMs > gap)
            m_streakStartMs = nowMs;
        m_lastFailureMs = nowMs;
    }
    m_failuresSeen = failures;
    if (m_streakStartMs == 0 || nowMs - m_lastFailureMs > gap) {
        m_streakStartMs = 0;
        return std::nullopt;
    }
    if (nowMs - m_streakStartMs < m_options.intakeFailingFor.count())
        return std::nullopt;
    return condition(
        AlertKind::IntakeFailing, AlertSeverity::Critical,
        QStringLiteral("Webhooks have been failing at the intake for %1 (%2 unavailable, %3 "
                       "misconfigured, %4 bad signature, so far). Close pauses a webhook "
                       "subscription after 3 days of failed deliveries.")
            .arg(spanText(nowMs - m_streakStartMs))
            .arg(r.intakeUnavailable)
            .arg(r.intakeMisconfigured)
            .arg(r.intakeBadSignature),
        { { "failing_for_ms", nowMs - m_streakStartMs },
          { "unavailable", r.intakeUnavailable },
          { "misconfigured", r.intakeMisconfigured },
          { "bad_signature", r.intakeBadSignature },
          { "accepted", r.intakeAccepted } });
}

std::optional<AlertCondition> AlertRules::intakeSilent(qint64 nowMs, const AlertReading &r) const
{
    if (!r.listening || m_options.intakeSilentFor.count() <= 0)
        return std::nullopt;
    const std::optional<qint64> stretch = m_options.hours.stretchStart(nowMs);
    if (!stretch)
        return std::nullopt;
    // Silence counts inside the hours only, and not before this instance was watching.
    const qint64 from = std::max({ *stretch, m_startedMs, r.lastIntakeMs.value_or(0) });
    if (nowMs - from < m_options.intakeSilentFor.count())
        return std::nullopt;
    return condition(
        AlertKind::IntakeSilent, AlertSeverity::Warning,
        QStringLiteral("No webhooks for %1 inside the watched hours (%2). Check that Close's "
                       "webhook subscription is active and points here.")
            .arg(spanText(nowMs - from), m_options.hours.text()),
        { { "silent_for_ms", nowMs - from },
          { "last_intake",
            r.lastIntakeMs ? nlohmann::json(std8(
                QDateTime::fromMSecsSinceEpoch(*r.lastIntakeMs, Qt::UTC).toString(Qt::ISODate)))
                           : nlohmann::json(nullptr) },
          { "hours", std8(m_options.hours.text()) } });
}

} // namespace sluice
