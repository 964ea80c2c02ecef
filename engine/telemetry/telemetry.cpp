#include "telemetry.h"

#include "core/clock.h"
#include "redis/redisclient.h"

#include <QPointer>

namespace sluice {

Telemetry::Telemetry(TelemetrySources sources, size_t historySeconds, QObject *parent)
    : QObject(parent)
    , m_sources(std::move(sources))
    , m_samples(historySeconds)
{
    m_timer.setInterval(1000);
    connect(&m_timer, &QTimer::timeout, this, &Telemetry::sample);
}

void Telemetry::start()
{
    m_timer.start();
    sample();
}

void Telemetry::stop()
{
    m_timer.stop();
}

void Telemetry::sample()
{
    const std::optional<DeliveryReading> reading = m_sources.delivery();
    if (!reading)
        return;
    const DeliveryReading &s = *reading;
    TelemetrySample t;
    t.atMs = wallClockMs();
    if (m_lastRequests >= 0) {
        t.sent = int(std::max<qint64>(0, s.upstreamRequests - m_lastRequests));
        t.rateLimited = int(std::max<qint64>(0, s.upstreamRateLimited - m_lastRateLimited));
    }
    m_lastRequests = s.upstreamRequests;
    m_lastRateLimited = s.upstreamRateLimited;
    t.effectivePerSecond = s.effectivePerSecond;
    t.configuredPerSecond = s.configuredPerSecond;
    t.breaker = s.breaker;
    t.queueDepth = m_queueDepth;
    t.inFlight = s.inFlight;
    t.delivered = s.delivered;
    if (m_auditKnown) {
        t.fleetSent = m_auditSent;
        t.fleetRateLimited = m_auditRateLimited;
        const qint64 minuteAgo = t.atMs - 60'000;
        for (auto it = m_instancesSeen.begin(); it != m_instancesSeen.end();)
            it = it.value() < minuteAgo ? m_instancesSeen.erase(it) : std::next(it);
        t.fleetInstances = int(m_instancesSeen.size());
    }
    m_auditSent = 0;
    m_auditRateLimited = 0;
    m_upstreamTotal += t.upstream();
    m_upstreamLimitedTotal += t.upstreamRateLimited();
    {
        // Every second, from the first: its zero totals are the baseline the requests of the
        // first minute are counted from. The queue reads 0 until Redis has answered once.
        ForecastSample f;
        f.backlog = std::max<qint64>(0, t.queueDepth);
        f.settledTotal = t.delivered;
        f.requestsTotal = m_upstreamTotal;
        f.rateLimitedTotal = m_upstreamLimitedTotal;
        f.effectivePerSecond = t.effectivePerSecond;
        f.capPerMinute = s.capPerMinute;
        m_forecaster.add(t.atMs, f);
    }
    m_samples.push(t);
    readBatches();
    readAudit();
    Q_EMIT sampled();
}

void Telemetry::readBatches()
{
    RedisClient *redis = m_sources.redis();
    if (!redis || m_reading || redis->state() != RedisClient::State::Connected)
        return;
    m_reading = true;
    QPointer<Telemetry> self(this);
    const RedisKeys keys = m_sources.keys();
    redis->command({ "XLEN", keys.leads() }, [self](RedisResult r) {
        if (self && r.ok())
            self->m_queueDepth = r.value().integer();
    });
    // The newest tasks; the unfinished ones among them are the active batches.
    redis->command({ "ZREVRANGE", keys.tasks(), "0", "49" }, [self, redis, keys](RedisResult ids) {
        if (!self)
            return;
        if (!ids.ok() || ids.value().elements().empty()) {
            self->m_batches.clear();
            self->m_reading = false;
            return;
        }
        auto batches = std::make_shared<std::vector<TaskProgress>>();
        auto pending = std::make_shared<int>(int(ids.value().elements().size()));
        for (const RedisReply &id : ids.value().elements()) {
            const QString taskId = QString::fromUtf8(id.bytes());
            redis->command({ "HMGET", keys.task(taskId), "state", "campaign", "source", "total",
                             "processed", "succeeded", "skipped", "failed", "dead", "created_ms" },
                           [self, batches, pending, taskId](RedisResult h) {
                               if (!self)
                                   return;
                               if (h.ok() && h.value().elements().size() == 10) {
                                   const auto &e = h.value().elements();
                                   const QByteArray state = e[0].bytes();
                                   if (state == "queued" || state == "running") {
                                       TaskProgress b;
                                       b.taskId = taskId;
                                       b.state = QString::fromUtf8(state);
                                       b.campaign = QString::fromUtf8(e[1].bytes());
                                       b.source = QString::fromUtf8(e[2].bytes());
                                       b.total = e[3].bytes().toInt();
                                       b.processed = e[4].bytes().toInt();
                                       b.succeeded = e[5].bytes().toInt();
                                       b.skipped = e[6].bytes().toInt();
                                       b.failed = e[7].bytes().toInt();
                                       b.dead = e[8].bytes().toInt();
                                       b.createdMs = e[9].bytes().toLongLong();
                                       if (batches->size() < 20)
                                           batches->push_back(b);
                                   }
                               }
                               if (--*pending == 0) {
                                   self->m_batches = std::move(*batches);
                                   self->m_reading = false;
                               }
                           });
        }
    });
}

void Telemetry::readAudit()
{
    RedisClient *redis = m_sources.redis();
    if (!redis || m_readingAudit || redis->state() != RedisClient::State::Connected)
        return;
    if (m_auditCursor.isEmpty()) // start from now: the history before is not this console's
        m_auditCursor = QByteArray::number(wallClockMs());
    m_readingAudit = true;
    QPointer<Telemetry> self(this);
    redis->command(
        { "XRANGE", m_sources.keys().audit(), "(" + m_auditCursor, "+", "COUNT", "10000" },
        [self](RedisResult r) {
            if (!self)
                return;
            self->m_readingAudit = false;
            if (!r.ok()) {
                self->m_auditKnown = false;
                return;
            }
            self->m_auditKnown = true;
            const qint64 now = wallClockMs();
            for (const RedisReply &entry : r.value().elements()) {
                self->m_auditCursor = entry.at(0).bytes();
                ++self->m_auditSent;
                const auto &f = entry.at(1).elements();
                for (size_t i = 0; i + 1 < f.size(); i += 2) {
                    if (f[i].bytes() == "status" && f[i + 1].bytes() == "429")
                        ++self->m_auditRateLimited;
                    else if (f[i].bytes() == "instance")
                        self->m_instancesSeen.insert(f[i + 1].bytes(), now);
                }
            }
        });
}

int Telemetry::worstWindow(std::chrono::seconds window) const
{
    const size_t w = size_t(std::max<qint64>(1, window.count()));
    auto sentAt = [this](size_t i) { return m_samples.at(i).upstream(); };
    int worst = 0;
    int sum = 0;
    for (size_t i = 0; i < m_samples.size(); ++i) {
        sum += sentAt(i);
        if (i >= w)
            sum -= sentAt(i - w);
        worst = std::max(worst, sum);
    }
    return worst;
}

QStringList Telemetry::instances() const
{
    QStringList out;
    for (auto it = m_instancesSeen.cbegin(); it != m_instancesSeen.cend(); ++it)
        out.append(QString::fromUtf8(it.key()));
    out.sort();
    return out;
}

int Telemetry::recent(std::chrono::seconds window) const
{
    int sum = 0;
    const size_t n = std::min(m_samples.size(), size_t(std::max<qint64>(0, window.count())));
    for (size_t i = m_samples.size() - n; i < m_samples.size(); ++i)
        sum += m_samples.at(i).sent;
    return sum;
}

} // namespace sluice

#include "moc_telemetry.cpp" // NOLINT(bugprone-suspicious-include)
