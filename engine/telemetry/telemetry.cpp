#include "telemetry.h"

#include "core/clock.h"
#include "delivery/localengine.h"
#include "redis/redisclient.h"

#include <QPointer>

namespace sluice {

Telemetry::Telemetry(LocalEngine *engine, size_t historySeconds, QObject *parent)
    : QObject(parent)
    , m_engine(engine)
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
    if (!m_engine->delivery())
        return;
    const DeliverySnapshot s = m_engine->delivery()->snapshot();
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
    t.inFlight = s.inFlight();
    t.delivered = s.delivered();
    m_samples.push(t);
    readBatches();
    Q_EMIT sampled();
}

void Telemetry::readBatches()
{
    RedisClient *redis = m_engine->redis();
    if (!redis || m_reading || redis->state() != RedisClient::State::Connected)
        return;
    m_reading = true;
    QPointer<Telemetry> self(this);
    const RedisKeys keys = m_engine->keys();
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
        auto batches = std::make_shared<std::vector<BatchProgress>>();
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
                                       BatchProgress b;
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

int Telemetry::worstWindow(std::chrono::seconds window) const
{
    const size_t w = size_t(std::max<qint64>(1, window.count()));
    int worst = 0;
    int sum = 0;
    for (size_t i = 0; i < m_samples.size(); ++i) {
        sum += m_samples.at(i).sent;
        if (i >= w)
            sum -= m_samples.at(i - w).sent;
        worst = std::max(worst, sum);
    }
    return worst;
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
