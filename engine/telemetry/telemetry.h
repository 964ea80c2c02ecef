#pragma once

#include "breaker/circuitbreaker.h"
#include "core/ringbuffer.h"
#include "forecaster.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"

#include <QHash>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class RedisClient;

/// The delivery side's counters Telemetry samples each second (a DeliverySnapshot has them).
struct DeliveryReading
{
    qint64 upstreamRequests = 0; ///< since start
    qint64 upstreamRateLimited = 0;
    double effectivePerSecond = 0;
    double configuredPerSecond = 0;
    BreakerState breaker = BreakerState::Closed;
    int inFlight = 0;
    qint64 delivered = 0;
    int capPerMinute = 0; ///< the per-minute cap the limiter keeps; 0 when there is none
};

/// What Telemetry reads, and nothing more: asked at every sample, so an engine that starts
/// or restarts later is seen.
struct TelemetrySources
{
    std::function<std::optional<DeliveryReading>()> delivery; ///< nullopt: not delivering
    std::function<RedisClient *()> redis; ///< may return nullptr
    std::function<RedisKeys()> keys;
};

/// One second of the engine, as the console draws it.
struct TelemetrySample
{
    qint64 atMs = 0; ///< end of the second, Unix ms
    int sent = 0; ///< upstream requests answered in this second (this process)
    int rateLimited = 0; ///< of which 429
    double effectivePerSecond = 0;
    double configuredPerSecond = 0;
    BreakerState breaker = BreakerState::Closed;
    qint64 queueDepth = -1; ///< leads in the stream (read, unread, pending); -1 unknown
    int inFlight = 0; ///< leads held by this process's dispatchers
    qint64 delivered = 0; ///< since start, cumulative
    /// Upstream requests every instance sharing this Redis recorded in the send audit in this
    /// second, and the 429s among them; -1 while unknown (Redis unreachable).
    int fleetSent = -1;
    int fleetRateLimited = 0;
    int fleetInstances = 0; ///< instances that sent anything in the last minute

    /// Requests (and 429s) of the whole fleet when known, else of this process.
    int upstream() const { return fleetSent >= 0 ? fleetSent : sent; }
    int upstreamRateLimited() const { return fleetSent >= 0 ? fleetRateLimited : rateLimited; }
};

/// Samples the engine (through TelemetrySources) once a second into fixed-size history (an hour by
/// default), so the console redraws from snapshots and its memory stays flat over a day. Reads are
/// a copy under the delivery engine's lock and asynchronous Redis commands: the thread it lives on
/// never waits.
class Telemetry : public QObject
{
    Q_OBJECT
public:
    explicit Telemetry(TelemetrySources sources, size_t historySeconds = 3600,
                       QObject *parent = nullptr);

    void start();
    void stop();

    const RingBuffer<TelemetrySample> &samples() const { return m_samples; }
    /// Unfinished batches, newest first (at most 20): the task hashes' state, campaign,
    /// source, counters up to dead, and created_ms (the other fields stay at their defaults).
    const std::vector<TaskProgress> &batches() const { return m_batches; }
    /// Most requests sent in any `window` of the kept history (all instances when the send
    /// audit is readable, else this process).
    int worstWindow(std::chrono::seconds window) const;
    /// Instances whose requests the send audit showed in the last minute.
    QStringList instances() const;
    /// Requests sent in the last `window` (this process).
    int recent(std::chrono::seconds window) const;
    /// The backlog's drain time, the budget left in this minute and the 429s the fleet's own
    /// pace cannot explain, from the samples so far. The drain is measured on this process's
    /// delivered count (the whole fleet's when it is the only instance).
    Forecast forecast() const { return m_forecaster.forecast(); }

Q_SIGNALS:
    /// A new sample (once a second).
    void sampled();

private:
    void sample();
    void readBatches();
    void readAudit();

    TelemetrySources m_sources;
    RingBuffer<TelemetrySample> m_samples;
    std::vector<TaskProgress> m_batches;
    QTimer m_timer;
    qint64 m_lastRequests = -1;
    qint64 m_lastRateLimited = 0;
    qint64 m_queueDepth = -1;
    bool m_reading = false;
    // The send audit, read incrementally: what arrived since the last sample.
    QByteArray m_auditCursor;
    bool m_readingAudit = false;
    bool m_auditKnown = false;
    int m_auditSent = 0;
    int m_auditRateLimited = 0;
    QHash<QByteArray, qint64> m_instancesSeen; ///< instance -> last seen (Unix ms)
    Forecaster m_forecaster;
    qint64 m_upstreamTotal = 0; ///< TelemetrySample::upstream() summed
    qint64 m_upstreamLimitedTotal = 0;
};

} // namespace sluice
