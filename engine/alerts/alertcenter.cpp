#include "alertcenter.h"

#include "alertsender.h"
#include "core/jsontext.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QDateTime>
#include <QLoggingCategory>
#include <QPointer>

namespace sluice {

namespace {

const QString kEvaluateScript = QStringLiteral("alerts_evaluate");
constexpr int kLogCap = 1000;

} // namespace

AlertCenter::AlertCenter(AlertOptions options, AlertCenterServices services, QObject *parent)
    : QObject(parent)
    , m_rules(options, QDateTime::currentMSecsSinceEpoch())
    , m_services(std::move(services))
    , m_sender(std::make_unique<AlertSender>(options))
{
    m_timer.setInterval(int(options.interval.count()));
    connect(&m_timer, &QTimer::timeout, this, &AlertCenter::evaluate);
    if (m_services.redis)
        m_services.redis->loadScript(kEvaluateScript, bundledLuaScript(kEvaluateScript));
    for (const QString &url : options.urls)
        qCInfo(lcAlerts).noquote() << "alerts go to" << maskedAlertUrl(url);
}

AlertCenter::~AlertCenter()
{
    if (m_services.gauges)
        for (auto &g : *m_services.gauges)
            g.store(0);
}

void AlertCenter::start()
{
    m_timer.start();
    evaluate();
}

void AlertCenter::stop()
{
    m_timer.stop();
}

AlertEvent AlertCenter::resolutionOf(const AlertEvent &firing, qint64 nowMs) const
{
    AlertEvent r = firing;
    r.state = AlertEvent::State::Resolved;
    r.summary
        = QStringLiteral("Cleared after %1: %2").arg(spanText(nowMs - firing.atMs), firing.summary);
    r.atMs = nowMs;
    r.instance = m_services.instance;
    return r;
}

AlertEvent AlertCenter::eventFor(const AlertCondition &c, qint64 nowMs) const
{
    AlertEvent e;
    e.kind = c.kind;
    e.state = AlertEvent::State::Firing;
    e.severity = c.severity;
    e.summary = c.summary;
    e.detail = c.detail;
    e.atMs = nowMs;
    e.instance = m_services.instance;
    return e;
}

void AlertCenter::evaluate()
{
    if (m_evaluating || !m_services.read)
        return;
    m_evaluating = true;
    QPointer<AlertCenter> self(this);
    m_services.read([self](AlertReading reading) {
        if (!self)
            return;
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        self->decide(self->m_rules.evaluate(now, reading));
    });
}

void AlertCenter::decide(const std::vector<AlertCondition> &conditions)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    std::map<AlertKind, AlertEvent> holding;
    for (const AlertCondition &c : conditions)
        holding.emplace(c.kind, eventFor(c, now));

    RedisClient *redis = m_services.redis;
    if (!redis || redis->state() != RedisClient::State::Connected) {
        decideAlone(holding);
        return;
    }
    QList<QByteArray> args {
        m_services.keys.alerts(), m_services.instance.toUtf8(), QByteArray::number(now),
        QByteArray::number(std::max<qint64>(1000, 4 * qint64(m_rules.options().interval.count()))),
        QByteArray::number(kLogCap)
    };
    for (AlertKind kind : kAllAlertKinds) {
        const auto it = holding.find(kind);
        args << alertKindName(kind) << (it != holding.end() ? "1" : "0")
             << (it != holding.end() ? jsonBytes(it->second.toJson()) : QByteArray());
    }
    QPointer<AlertCenter> self(this);
    redis->evalScript(kEvaluateScript, {}, args, [self, holding](RedisResult r) {
        if (!self)
            return;
        if (!r.ok()) {
            qCWarning(lcAlerts).noquote()
                << "cannot settle alerts with the fleet:" << r.error().describe()
                << "- deciding alone";
            self->decideAlone(holding);
            return;
        }
        self->settled(holding, r.value());
    });
}

void AlertCenter::decideAlone(const std::map<AlertKind, AlertEvent> &holding)
{
    for (const auto &[kind, event] : holding) {
        if (m_localActive.count(kind) || m_fleetActive.count(kind))
            continue; // already told (by this instance alone, or by the fleet before Redis left)
        AlertEvent e = event;
        e.instanceLocal = true;
        m_localActive[kind] = e;
        remember(e);
        announce(e);
    }
    for (auto it = m_localActive.begin(); it != m_localActive.end();) {
        if (holding.count(it->first)) {
            ++it;
            continue;
        }
        const AlertEvent e = resolutionOf(it->second, QDateTime::currentMSecsSinceEpoch());
        it = m_localActive.erase(it);
        remember(e);
        announce(e);
    }
    m_evaluating = false;
    ++m_evaluations;
    publishGauges();
    Q_EMIT changed();
}

void AlertCenter::settled(const std::map<AlertKind, AlertEvent> &holding, const RedisReply &reply)
{
    const auto &e = reply.elements();
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    for (size_t i = 0; i + 2 < e.size(); i += 3) {
        const auto kind = alertKindFromName(e[i].bytes());
        if (!kind)
            continue;
        const QByteArray action = e[i + 1].bytes();
        const std::optional<AlertEvent> stored = AlertEvent::fromJsonText(e[i + 2].bytes());
        // What this instance told alone while Redis was away is now the fleet's business.
        const bool toldAlone = m_localActive.erase(*kind) > 0;
        if (action == "fired" && stored) {
            m_fleetActive[*kind] = *stored;
            if (!toldAlone)
                announce(*stored);
        } else if (action == "resolved" && stored) {
            m_fleetActive.erase(*kind);
            m_acks.erase(*kind);
            AlertEvent r = resolutionOf(*stored, now);
            r.detail = { { "fired_at", stored->toJson()["at"] },
                         { "fired_by", stored->instance.toStdString() } };
            r.instanceLocal = false;
            m_services.redis->command({ "XADD", m_services.keys.alertLog(), "MAXLEN", "~",
                                        QByteArray::number(kLogCap), "*", "event",
                                        jsonBytes(r.toJson()) },
                                      [](RedisResult) {});
            announce(r);
        } else if (stored) {
            m_fleetActive[*kind] = *stored;
        } else {
            m_fleetActive.erase(*kind);
            if (toldAlone && !holding.count(*kind)) {
                // Told alone that it fired, and it ended while Redis was away: say so.
                AlertEvent r;
                r.kind = *kind;
                r.state = AlertEvent::State::Resolved;
                r.summary = QStringLiteral("Cleared while Redis was unreachable.");
                r.atMs = now;
                r.instance = m_services.instance;
                r.instanceLocal = true;
                remember(r);
                announce(r);
            }
        }
    }
    if (m_services.status) {
        nlohmann::json status = m_services.status();
        status["at"] = now;
        status["instance"] = m_services.instance.toStdString();
        m_services.redis->command(
            { "HSET", m_services.keys.statuses(), m_services.instance.toUtf8(), jsonBytes(status) },
            [](RedisResult) {});
    }
    if (m_evaluations % 100 == 0)
        pruneStatuses(now);
    readBack();
    m_evaluating = false;
    ++m_evaluations;
    publishGauges();
    Q_EMIT changed();
}

void AlertCenter::pruneStatuses(qint64 nowMs)
{
    // Instances gone for a day leave `sluice status`'s hash (it shows the last hour anyway).
    const RedisKeys keys = m_services.keys;
    RedisClient *redis = m_services.redis;
    QPointer<AlertCenter> self(this);
    redis->command({ "HGETALL", keys.statuses() }, [self, redis, keys, nowMs](RedisResult r) {
        if (!self || !r.ok())
            return;
        const auto &e = r.value().elements();
        for (size_t i = 0; i + 1 < e.size(); i += 2) {
            const auto status = parseJson(e[i + 1].bytes());
            if (!status.is_object() || nowMs - status.value("at", qint64(0)) > 24 * 3600'000LL)
                redis->command({ "HDEL", keys.statuses(), e[i].bytes() }, [](RedisResult) {});
        }
    });
}

void AlertCenter::announce(const AlertEvent &event)
{
    if (event.state == AlertEvent::State::Firing && event.severity != AlertSeverity::Info)
        qCWarning(lcAlerts).noquote() << event.line();
    else
        qCInfo(lcAlerts).noquote() << event.line();
    m_sender->send(event);
    Q_EMIT alerted(event);
}

void AlertCenter::remember(const AlertEvent &event, bool news)
{
    m_history.push_back(event);
    while (m_history.size() > kHistory)
        m_history.pop_front();
    if (news)
        Q_EMIT logged(event);
}

void AlertCenter::readBack()
{
    RedisClient *redis = m_services.redis;
    if (m_readingBack || !redis)
        return;
    m_readingBack = true;
    QPointer<AlertCenter> self(this);
    redis->command({ "HGETALL", m_services.keys.alertAcks() }, [self](RedisResult r) {
        if (!self || !r.ok())
            return;
        std::map<AlertKind, AlertAck> acks;
        const auto &e = r.value().elements();
        for (size_t i = 0; i + 1 < e.size(); i += 2) {
            const auto kind = alertKindFromName(e[i].bytes());
            const auto json = parseJson(e[i + 1].bytes());
            if (!kind || !json.is_object())
                continue;
            AlertAck ack;
            ack.by = QString::fromStdString(json.value("by", std::string()));
            ack.atMs = json.value("at_ms", qint64(0));
            acks[*kind] = ack;
        }
        if (acks.size() != self->m_acks.size()
            || !std::equal(acks.begin(), acks.end(), self->m_acks.begin(),
                           [](const auto &a, const auto &b) {
                               return a.first == b.first && a.second.atMs == b.second.atMs;
                           })) {
            self->m_acks = std::move(acks);
            Q_EMIT self->changed();
        }
    });
    // The log: the newest entries at first, then whatever came after the cursor.
    QList<QByteArray> read = m_logCursor.isEmpty()
        ? QList<QByteArray> { "XREVRANGE", m_services.keys.alertLog(), "+", "-", "COUNT", "100" }
        : QList<QByteArray> { "XRANGE", m_services.keys.alertLog(), "(" + m_logCursor, "+", "COUNT",
                              "500" };
    const bool reversed = m_logCursor.isEmpty();
    redis->command(read, [self, reversed](RedisResult r) {
        if (!self)
            return;
        self->m_readingBack = false;
        if (!r.ok())
            return;
        std::vector<RedisReply> entries = r.value().elements();
        if (reversed)
            std::reverse(entries.begin(), entries.end());
        if (reversed && entries.empty())
            self->m_logCursor = "0-0";
        bool any = false;
        for (const RedisReply &entry : entries) {
            self->m_logCursor = entry.at(0).bytes();
            const auto &f = entry.at(1).elements();
            for (size_t i = 0; i + 1 < f.size(); i += 2)
                if (f[i].bytes() == "event")
                    if (auto event = AlertEvent::fromJsonText(f[i + 1].bytes())) {
                        self->remember(*event, !reversed);
                        any = true;
                    }
        }
        if (any)
            Q_EMIT self->changed();
    });
}

void AlertCenter::publishGauges()
{
    if (!m_services.gauges)
        return;
    for (size_t i = 0; i < kAllAlertKinds.size(); ++i)
        (*m_services.gauges)[i].store(isActive(kAllAlertKinds[i]) ? 1 : 0);
}

std::vector<AlertEvent> AlertCenter::active() const
{
    std::vector<AlertEvent> out;
    for (AlertKind kind : kAllAlertKinds) {
        if (auto it = m_fleetActive.find(kind); it != m_fleetActive.end())
            out.push_back(it->second);
        else if (auto local = m_localActive.find(kind); local != m_localActive.end())
            out.push_back(local->second);
    }
    return out;
}

bool AlertCenter::isActive(AlertKind kind) const
{
    return m_fleetActive.count(kind) || m_localActive.count(kind);
}

std::optional<AlertAck> AlertCenter::acknowledged(AlertKind kind) const
{
    const auto it = m_acks.find(kind);
    return it == m_acks.end() ? std::nullopt : std::optional<AlertAck>(it->second);
}

void AlertCenter::acknowledge(AlertKind kind, const QString &who,
                              std::function<void(std::optional<QString>)> done)
{
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (!isActive(kind)) {
        if (done)
            done(tr("%1 is not firing").arg(QString::fromLatin1(alertKindName(kind))));
        return;
    }
    m_acks[kind] = AlertAck { who, now };
    Q_EMIT changed();
    if (!m_services.redis || m_services.redis->state() != RedisClient::State::Connected) {
        if (done)
            done(std::nullopt); // this console's alone while Redis is away
        return;
    }
    const nlohmann::json ack { { "by", who.toStdString() }, { "at_ms", now } };
    m_services.redis->command(
        { "HSET", m_services.keys.alertAcks(), alertKindName(kind), jsonBytes(ack) },
        [done](RedisResult r) {
            if (done)
                done(r.ok() ? std::nullopt : std::optional<QString>(r.error().describe()));
        });
}

} // namespace sluice

#include "moc_alertcenter.cpp" // NOLINT(bugprone-suspicious-include)
