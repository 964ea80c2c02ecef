#pragma once

#include "core/spantext.h"

#include <QByteArray>
#include <QLoggingCategory>
#include <QString>
#include <QStringList>
#include <QTime>
#include <QTimeZone>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <optional>

namespace sluice {

/// "sluice.alerts": what the alert center decides and what its sender delivers.
Q_DECLARE_LOGGING_CATEGORY(lcAlerts)

/// The conditions Sluice alerts on (issue 17). The names are fixed: receivers match on them.
enum class AlertKind {
    BreakerOpen, ///< "breaker_open": the circuit breaker opened
    DispatchPaused, ///< "dispatch_paused": by hand, for a rejected key, or the plan is used up
    DeadLetters, ///< "dead_letters": dead letters grew by N within M minutes
    CampaignMissing, ///< "campaign_missing": leads are parked waiting for their campaign
    DrainSlow, ///< "drain_slow": the backlog will not clear within T at the current rate
    RateLimited, ///< "rate_limited": 429s while the fleet's own pace was under the cap
    IntakeFailing, ///< "intake_failing": webhooks refused or failing for X minutes
    IntakeSilent, ///< "intake_silent": no webhooks for X minutes inside the configured hours
    PlanLow, ///< "plan_low": Instantly's remaining_in_plan below a threshold
    RedisFallback, ///< "redis_fallback": the limiter runs on its local fallback
};
inline constexpr std::array kAllAlertKinds {
    AlertKind::BreakerOpen,     AlertKind::DispatchPaused, AlertKind::DeadLetters,
    AlertKind::CampaignMissing, AlertKind::DrainSlow,      AlertKind::RateLimited,
    AlertKind::IntakeFailing,   AlertKind::IntakeSilent,   AlertKind::PlanLow,
    AlertKind::RedisFallback,
};
QByteArray alertKindName(AlertKind kind);
std::optional<AlertKind> alertKindFromName(const QByteArray &name);

enum class AlertSeverity { Info, Warning, Critical };
QByteArray alertSeverityName(AlertSeverity severity); ///< "info", "warning", "critical"
std::optional<AlertSeverity> alertSeverityFromName(const QByteArray &name);

/// A condition that holds now, as the rules see it.
struct AlertCondition
{
    AlertKind kind = AlertKind::BreakerOpen;
    AlertSeverity severity = AlertSeverity::Warning;
    QString summary; ///< one line an operator acts on
    nlohmann::json detail = nlohmann::json::object(); ///< the figures behind it
};

/// A condition starting or ending: what every receiver gets (the POST body, the log line, the
/// console's history row).
struct AlertEvent
{
    enum class State { Firing, Resolved };
    AlertKind kind = AlertKind::BreakerOpen;
    State state = State::Firing;
    AlertSeverity severity = AlertSeverity::Warning;
    QString summary;
    nlohmann::json detail = nlohmann::json::object();
    qint64 atMs = 0; ///< Unix ms
    QString instance; ///< the instance that sent it
    /// Redis was unreachable, so this instance decided alone: others may send it too.
    bool instanceLocal = false;

    static QByteArray stateName(State state); ///< "firing", "resolved"
    /// {kind, state, severity, summary, detail, at, instance, scope, text}; `text` is a line
    /// a Slack-style incoming webhook shows as it is.
    nlohmann::json toJson() const;
    static std::optional<AlertEvent> fromJson(const nlohmann::json &json);
    /// From the JSON text Redis holds (the alert keys, the alert log).
    static std::optional<AlertEvent> fromJsonText(const QByteArray &text);
    /// "FIRING breaker_open (critical): ..." for logs and `text`.
    QString line() const;
};

/// The days and hours in which silence at the intake is worth an alert (`intake_silent`).
struct AlertHours
{
    QTime from { 8, 0 };
    QTime to { 18, 0 }; ///< exclusive; earlier than `from` spans midnight
    std::array<bool, 7> days { true, true, true, true, true, false, false }; ///< Monday first
    QTimeZone zone = QTimeZone::systemTimeZone();

    /// "Mon-Fri 08:00-18:00", "Mon,Wed 09:30-17:00", "daily 00:00-24:00", "always".
    static std::optional<AlertHours> parse(const QString &text, QString *error = nullptr);
    QString text() const;
    bool contains(qint64 atMs) const;
    /// When the stretch of hours that holds `atMs` began (Unix ms); nullopt outside the hours.
    std::optional<qint64> stretchStart(qint64 atMs) const;
};

/// The thresholds and destinations of the alerts; every figure has a flag (serveFlagSpecs).
struct AlertOptions
{
    QStringList urls; ///< --alert-url / SLUICE_ALERT_URL: POST targets (secrets: masked)
    std::chrono::milliseconds interval { 5'000 }; ///< how often conditions are evaluated
    static constexpr std::chrono::milliseconds kMinInterval { 100 }; ///< and at most this often
    int deadLettersGrowth = 10; ///< dead_letters: this many more ...
    std::chrono::milliseconds deadLettersWithin { 10 * 60'000 }; ///< ... within this
    std::chrono::milliseconds drainWithin { 60 * 60'000 }; ///< drain_slow beyond this
    int rateLimited429 = 3; ///< rate_limited: unexplained 429s within a minute
    std::chrono::milliseconds intakeFailingFor { 5 * 60'000 };
    std::chrono::milliseconds intakeSilentFor { 60 * 60'000 }; ///< 0: never
    AlertHours hours;
    qint64 planLow = 1000; ///< plan_low below this remaining_in_plan; 0: never
    /// POST retries: the first after this, doubling up to a minute, for at most this long.
    std::chrono::milliseconds retryFirst { 1'000 };
    std::chrono::milliseconds retryFor { 15 * 60'000 };
    std::chrono::milliseconds postTimeout { 10'000 };

    std::optional<QString> problem() const;
};

/// "https://hooks.slack.com/…" : scheme and host only, as a secret URL is shown anywhere.
QString maskedAlertUrl(const QString &url);

} // namespace sluice
