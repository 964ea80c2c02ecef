#include "statusreport.h"

#include "core/jsontext.h"
#include "redis/redisclient.h"

#include <QDateTime>
#include <QStringList>

#include <memory>

namespace sluice {

namespace {

/// An instance not heard from for this long is not listed.
constexpr qint64 kForgetMs = 3600'000;
/// One not heard from for this long is listed as silent.
constexpr qint64 kSilentMs = 30'000;

QString clockText(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss"));
}

QString numberOr(const nlohmann::json &o, const char *key, const QString &none, int decimals = 0)
{
    const auto it = o.find(key);
    if (it == o.end() || !it->is_number())
        return none;
    return decimals > 0 ? QString::number(it->get<double>(), 'f', decimals)
                        : QString::number(it->get<qint64>());
}

} // namespace

nlohmann::json StatusReport::toJson() const
{
    nlohmann::json alerts = nlohmann::json::array();
    for (const AlertEvent &e : firing)
        alerts.push_back(e.toJson());
    nlohmann::json log = nlohmann::json::array();
    for (const AlertEvent &e : recent)
        log.push_back(e.toJson());
    return {
        { "at",
          QDateTime::fromMSecsSinceEpoch(atMs, Qt::UTC).toString(Qt::ISODateWithMs).toStdString() },
        { "queued", queued },
        { "paused",
          pausedReason ? nlohmann::json(pausedReason->toStdString()) : nlohmann::json(nullptr) },
        { "pause_cause",
          pausedReason ? nlohmann::json(pauseCause.toStdString()) : nlohmann::json(nullptr) },
        { "remaining_in_plan",
          remainingInPlan >= 0 ? nlohmann::json(remainingInPlan) : nlohmann::json(nullptr) },
        { "instances", instances },
        { "alerts", alerts },
        { "recent_alerts", log },
    };
}

QString StatusReport::text() const
{
    QStringList out;
    out << QStringLiteral("Queue: %1 lead(s) in the stream; dispatching %2")
               .arg(queued)
               .arg(pausedReason ? QStringLiteral("PAUSED (%1): %2").arg(pauseCause, *pausedReason)
                                 : QStringLiteral("runs"));
    if (remainingInPlan >= 0)
        out << QStringLiteral("Instantly plan: room for %1 more lead(s)").arg(remainingInPlan);
    out << QString();
    if (instances.empty()) {
        out << QStringLiteral("No instance has reported in the last hour (a serve or console "
                              "writes its figures every few seconds while it delivers).");
    } else {
        out << QStringLiteral("%1 %2 %3 %4 %5 %6 %7")
                   .arg(QStringLiteral("instance"), -28)
                   .arg(QStringLiteral("breaker"), -10)
                   .arg(QStringLiteral("rate/s"), 7)
                   .arg(QStringLiteral("backlog"), 8)
                   .arg(QStringLiteral("drains in"), 10)
                   .arg(QStringLiteral("left/min"), 9)
                   .arg(QStringLiteral("429?"), 5);
        for (const nlohmann::json &i : instances) {
            const qint64 at = i.value("at", qint64(0));
            QString drains = QStringLiteral("-");
            const auto ttd = i.find("time_to_drain_ms");
            if (i.value("backlog", qint64(0)) > 0)
                drains = ttd != i.end() && ttd->is_number() ? spanText(ttd->get<qint64>())
                                                            : QStringLiteral("never");
            QString name = QString::fromStdString(i.value("instance", std::string("?")));
            if (atMs - at > kSilentMs)
                name += QStringLiteral(" (silent %1)").arg(spanText(atMs - at));
            out << QStringLiteral("%1 %2 %3 %4 %5 %6 %7")
                       .arg(name, -28)
                       .arg(QString::fromStdString(i.value("breaker", std::string("-"))), -10)
                       .arg(numberOr(i, "effective_per_second", QStringLiteral("-"), 1), 7)
                       .arg(numberOr(i, "backlog", QStringLiteral("-")), 8)
                       .arg(drains, 10)
                       .arg(numberOr(i, "budget_left_this_minute", QStringLiteral("-")), 9)
                       .arg(numberOr(i, "unexplained_429", QStringLiteral("0")), 5);
        }
        const nlohmann::json &newest = instances.front();
        const auto last = newest.find("last_lead_at_ms");
        if (last != newest.end() && last->is_number() && newest.value("backlog", qint64(0)) > 0)
            out << QStringLiteral("The backlog's last lead is expected at %1.")
                       .arg(clockText(last->get<qint64>()));
    }
    out << QString();
    if (firing.empty()) {
        out << QStringLiteral("Alerts: none firing.");
    } else {
        out << QStringLiteral("Alerts firing:");
        for (const AlertEvent &e : firing)
            out << QStringLiteral("  %1 %2 since %3 (%4): %5")
                       .arg(QString::fromLatin1(alertSeverityName(e.severity)).toUpper(), -8)
                       .arg(QString::fromLatin1(alertKindName(e.kind)), clockText(e.atMs),
                            e.instance, e.summary);
    }
    if (!recent.empty()) {
        out << QStringLiteral("Latest alert events:");
        for (const AlertEvent &e : recent)
            out << QStringLiteral("  %1 %2 %3")
                       .arg(clockText(e.atMs), QString::fromLatin1(AlertEvent::stateName(e.state)),
                            QString::fromLatin1(alertKindName(e.kind)));
    }
    return out.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

void readStatusReport(RedisClient *redis, const RedisKeys &keys,
                      std::function<void(std::optional<StatusReport>, QString error)> done)
{
    auto report = std::make_shared<StatusReport>();
    auto error = std::make_shared<QString>();
    report->atMs = QDateTime::currentMSecsSinceEpoch();
    auto failed = [error](const RedisResult &r) {
        if (!r.ok() && error->isEmpty())
            *error = r.error().describe();
        return !r.ok();
    };
    redis->command({ "XLEN", keys.leads() }, [report, failed](RedisResult r) {
        if (!failed(r))
            report->queued = r.value().integer();
    });
    redis->command({ "HMGET", keys.control(), "paused", "paused_cause", "remaining_in_plan" },
                   [report, failed](RedisResult r) {
                       if (failed(r) || r.value().elements().size() != 3)
                           return;
                       const auto &e = r.value().elements();
                       if (e[0].isString())
                           report->pausedReason = QString::fromUtf8(e[0].bytes());
                       report->pauseCause = e[1].isString() ? QString::fromUtf8(e[1].bytes())
                                                            : QStringLiteral("operator");
                       if (e[2].isString())
                           report->remainingInPlan = e[2].bytes().toLongLong();
                   });
    redis->command({ "HGETALL", keys.statuses() }, [report, failed](RedisResult r) {
        if (failed(r))
            return;
        const auto &e = r.value().elements();
        for (size_t i = 0; i + 1 < e.size(); i += 2) {
            auto status = parseJson(e[i + 1].bytes());
            if (status.is_object() && report->atMs - status.value("at", qint64(0)) < kForgetMs)
                report->instances.push_back(std::move(status));
        }
        std::sort(report->instances.begin(), report->instances.end(),
                  [](const nlohmann::json &a, const nlohmann::json &b) {
                      return a.value("at", qint64(0)) > b.value("at", qint64(0));
                  });
    });
    QList<QByteArray> get { "MGET" };
    for (AlertKind kind : kAllAlertKinds)
        get << keys.alert(alertKindName(kind));
    redis->command(get, [report, failed](RedisResult r) {
        if (failed(r))
            return;
        for (const RedisReply &v : r.value().elements())
            if (v.isString())
                if (auto e = AlertEvent::fromJsonText(v.bytes()))
                    report->firing.push_back(*e);
    });
    redis->command({ "XREVRANGE", keys.alertLog(), "+", "-", "COUNT", "10" },
                   [report, error, failed, done](RedisResult r) {
                       if (!failed(r)) {
                           for (const RedisReply &entry : r.value().elements()) {
                               const auto &f = entry.at(1).elements();
                               for (size_t i = 0; i + 1 < f.size(); i += 2)
                                   if (f[i].bytes() == "event")
                                       if (auto e = AlertEvent::fromJsonText(f[i + 1].bytes()))
                                           report->recent.push_back(*e);
                           }
                       }
                       if (!error->isEmpty())
                           done(std::nullopt, *error);
                       else
                           done(*report, QString());
                   });
}

} // namespace sluice
