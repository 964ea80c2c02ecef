#include "alert.h"

#include "core/jsontext.h"

#include <QDateTime>
#include <QRegularExpression>
#include <QUrl>

namespace sluice {

Q_LOGGING_CATEGORY(lcAlerts, "sluice.alerts")

namespace {

constexpr std::array<const char *, 7> kDayNames { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };

int dayIndex(const QString &name)
{
    for (size_t i = 0; i < kDayNames.size(); ++i)
        if (name.compare(QLatin1String(kDayNames[i]), Qt::CaseInsensitive) == 0)
            return int(i);
    return -1;
}

QString fromStd(const std::string &s)
{
    return QString::fromStdString(s);
}

} // namespace

QByteArray alertKindName(AlertKind kind)
{
    switch (kind) {
    case AlertKind::BreakerOpen:
        return "breaker_open";
    case AlertKind::DispatchPaused:
        return "dispatch_paused";
    case AlertKind::DeadLetters:
        return "dead_letters";
    case AlertKind::CampaignMissing:
        return "campaign_missing";
    case AlertKind::DrainSlow:
        return "drain_slow";
    case AlertKind::RateLimited:
        return "rate_limited";
    case AlertKind::IntakeFailing:
        return "intake_failing";
    case AlertKind::IntakeSilent:
        return "intake_silent";
    case AlertKind::PlanLow:
        return "plan_low";
    case AlertKind::RedisFallback:
        return "redis_fallback";
    }
    return "unknown";
}

std::optional<AlertKind> alertKindFromName(const QByteArray &name)
{
    for (AlertKind kind : kAllAlertKinds)
        if (alertKindName(kind) == name)
            return kind;
    return std::nullopt;
}

QByteArray alertSeverityName(AlertSeverity severity)
{
    switch (severity) {
    case AlertSeverity::Info:
        return "info";
    case AlertSeverity::Warning:
        return "warning";
    case AlertSeverity::Critical:
        return "critical";
    }
    return "warning";
}

std::optional<AlertSeverity> alertSeverityFromName(const QByteArray &name)
{
    for (AlertSeverity s : { AlertSeverity::Info, AlertSeverity::Warning, AlertSeverity::Critical })
        if (alertSeverityName(s) == name)
            return s;
    return std::nullopt;
}

QByteArray AlertEvent::stateName(State state)
{
    return state == State::Firing ? "firing" : "resolved";
}

QString AlertEvent::line() const
{
    return QStringLiteral("%1 %2 (%3)%4: %5")
        .arg(state == State::Firing ? QStringLiteral("FIRING") : QStringLiteral("RESOLVED"),
             QString::fromLatin1(alertKindName(kind)),
             QString::fromLatin1(alertSeverityName(severity)),
             instanceLocal ? QStringLiteral(" [instance-local: Redis unreachable]") : QString(),
             summary);
}

nlohmann::json AlertEvent::toJson() const
{
    return {
        { "kind", alertKindName(kind).toStdString() },
        { "state", stateName(state).toStdString() },
        { "severity", alertSeverityName(severity).toStdString() },
        { "summary", summary.toStdString() },
        { "detail", detail },
        { "at",
          QDateTime::fromMSecsSinceEpoch(atMs, Qt::UTC).toString(Qt::ISODateWithMs).toStdString() },
        { "instance", instance.toStdString() },
        { "scope", instanceLocal ? "instance" : "fleet" },
        { "text", QStringLiteral("[Sluice %1] %2").arg(instance, line()).toStdString() },
    };
}

std::optional<AlertEvent> AlertEvent::fromJson(const nlohmann::json &json)
{
    if (!json.is_object())
        return std::nullopt;
    auto text = [&json](const char *key) {
        const auto it = json.find(key);
        return it != json.end() && it->is_string() ? fromStd(it->get<std::string>()) : QString();
    };
    AlertEvent e;
    const auto kind = alertKindFromName(text("kind").toUtf8());
    const auto severity = alertSeverityFromName(text("severity").toUtf8());
    const QString state = text("state");
    const QDateTime at = QDateTime::fromString(text("at"), Qt::ISODateWithMs);
    if (!kind || !severity
        || (state != QLatin1String("firing") && state != QLatin1String("resolved"))
        || !at.isValid())
        return std::nullopt;
    e.kind = *kind;
    e.severity = *severity;
    e.state = state == QLatin1String("firing") ? State::Firing : State::Resolved;
    e.summary = text("summary");
    e.atMs = at.toMSecsSinceEpoch();
    e.instance = text("instance");
    e.instanceLocal = text("scope") == QLatin1String("instance");
    if (const auto it = json.find("detail"); it != json.end() && it->is_object())
        e.detail = *it;
    return e;
}

std::optional<AlertEvent> AlertEvent::fromJsonText(const QByteArray &text)
{
    return fromJson(parseJson(text));
}

std::optional<AlertHours> AlertHours::parse(const QString &text, QString *error)
{
    auto fail = [error](const QString &why) -> std::optional<AlertHours> {
        if (error)
            *error = why;
        return std::nullopt;
    };
    AlertHours h;
    const QString t = text.trimmed();
    if (t.compare(QLatin1String("always"), Qt::CaseInsensitive) == 0) {
        h.days.fill(true);
        h.from = QTime(0, 0);
        h.to = QTime(0, 0);
        return h;
    }
    const QStringList parts = t.split(QLatin1Char(' '), Qt::SkipEmptyParts);
    if (parts.size() != 2)
        return fail(QStringLiteral("'%1' is not DAYS HH:MM-HH:MM (e.g. \"Mon-Fri 08:00-18:00\")")
                        .arg(text));
    h.days.fill(false);
    if (parts[0].compare(QLatin1String("daily"), Qt::CaseInsensitive) == 0) {
        h.days.fill(true);
    } else {
        for (const QString &item : parts[0].split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            const QStringList range = item.split(QLatin1Char('-'));
            const int a = dayIndex(range.value(0));
            const int b = range.size() == 2 ? dayIndex(range[1]) : a;
            if (a < 0 || b < 0 || range.size() > 2)
                return fail(
                    QStringLiteral("'%1' is not a day or a range of days (Mon..Sun)").arg(item));
            for (int d = a;; d = (d + 1) % 7) {
                h.days[size_t(d)] = true;
                if (d == b)
                    break;
            }
        }
    }
    static const QRegularExpression span(QStringLiteral("^(\\d\\d):(\\d\\d)-(\\d\\d):(\\d\\d)$"));
    const QRegularExpressionMatch m = span.match(parts[1]);
    if (!m.hasMatch())
        return fail(QStringLiteral("'%1' is not HH:MM-HH:MM").arg(parts[1]));
    const int fh = m.captured(1).toInt(), fm = m.captured(2).toInt();
    const int th = m.captured(3).toInt(), tm = m.captured(4).toInt();
    if (fh > 23 || fm > 59 || th > 24 || tm > 59 || (th == 24 && tm != 0))
        return fail(QStringLiteral("'%1' is not a time of day").arg(parts[1]));
    h.from = QTime(fh, fm);
    h.to = th == 24 ? QTime(0, 0) : QTime(th, tm);
    return h;
}

QString AlertHours::text() const
{
    QStringList days;
    for (size_t i = 0; i < this->days.size(); ++i)
        if (this->days[i])
            days << QString::fromLatin1(kDayNames[i]);
    return QStringLiteral("%1 %2-%3 (%4)")
        .arg(days.size() == 7 ? QStringLiteral("daily") : days.join(QLatin1Char(',')),
             from.toString(QStringLiteral("HH:mm")),
             to == QTime(0, 0) ? QStringLiteral("24:00") : to.toString(QStringLiteral("HH:mm")),
             QString::fromUtf8(zone.id()));
}

std::optional<qint64> AlertHours::stretchStart(qint64 atMs) const
{
    const QDateTime local = QDateTime::fromMSecsSinceEpoch(atMs, zone);
    const QTime now = local.time();
    const bool allDay = from == to && from == QTime(0, 0);
    const bool overnight = to < from && to != QTime(0, 0);
    // The day the stretch began: today, or yesterday for the small hours of an overnight one.
    QDate day = local.date();
    if (allDay) {
        // Whole days: the stretch began at the first of the run of chosen days up to today,
        // and has no start at all when every day is chosen.
        if (!days[size_t(day.dayOfWeek() - 1)])
            return std::nullopt;
        if (std::all_of(days.begin(), days.end(), [](bool d) { return d; }))
            return 0;
        while (days[size_t(day.addDays(-1).dayOfWeek() - 1)])
            day = day.addDays(-1);
        return QDateTime(day, QTime(0, 0), zone).toMSecsSinceEpoch();
    }
    if (overnight) {
        if (now < to)
            day = day.addDays(-1);
        else if (now < from)
            return std::nullopt;
    } else {
        const bool toMidnight = to == QTime(0, 0);
        if (now < from || (!toMidnight && now >= to))
            return std::nullopt;
    }
    if (!days[size_t(day.dayOfWeek() - 1)])
        return std::nullopt;
    return QDateTime(day, from, zone).toMSecsSinceEpoch();
}

bool AlertHours::contains(qint64 atMs) const
{
    return stretchStart(atMs).has_value();
}

std::optional<QString> AlertOptions::problem() const
{
    for (const QString &url : urls) {
        const QUrl u(url, QUrl::StrictMode);
        if (!u.isValid()
            || (u.scheme() != QLatin1String("http") && u.scheme() != QLatin1String("https"))
            || u.host().isEmpty())
            return QStringLiteral("--alert-url %1 is not an http(s) URL").arg(maskedAlertUrl(url));
    }
    if (interval < kMinInterval)
        return QStringLiteral("--alert-interval must be at least %1ms").arg(kMinInterval.count());
    if (deadLettersGrowth < 1)
        return QStringLiteral("--alert-dead-letters must be at least 1");
    if (rateLimited429 < 1)
        return QStringLiteral("--alert-rate-limited must be at least 1");
    return std::nullopt;
}

QString maskedAlertUrl(const QString &url)
{
    const QUrl u(url);
    if (!u.isValid() || u.host().isEmpty())
        return QStringLiteral("(an alert URL)");
    QString shown = u.scheme() + QStringLiteral("://") + u.host();
    if (u.port() > 0)
        shown += QLatin1Char(':') + QString::number(u.port());
    return shown + QStringLiteral("/…");
}

} // namespace sluice
