#pragma once

#include "breaker/breakeroptions.h"
#include "breaker/circuitbreaker.h"
#include "close/closeclient.h"
#include "instantly/instantlytypes.h"
#include "limiter/limiteroptions.h"
#include "queue/dispatcher.h"
#include "queue/dispatcheroptions.h"
#include "redis/redisoptions.h"

#include <QMutex>
#include <QObject>
#include <QThread>

#include <chrono>
#include <optional>
#include <vector>

namespace sluice {

class Metrics;

/// Everything the delivery side is configured with.
struct DeliverySettings
{
    RedisOptions redis;
    QString ns = QStringLiteral("default"); ///< Redis key namespace
    QString instance; ///< consumer name prefix, unique per process; "-<n>" is appended
    InstantlyOptions instantly;
    CloseOptions close;
    LimiterOptions limiter;
    std::vector<RateRule> closeCaps { { 10, std::chrono::milliseconds { 1000 } } };
    BreakerOptions breaker;
    DispatcherOptions dispatcher; ///< for every worker; consumerName and keyNamespace are set
    int workers = 1;

    std::optional<QString> problem() const;
};

/// What the delivery side looks like now; copied out under a lock, so any thread may read it.
struct DeliverySnapshot
{
    bool running = false;
    std::vector<DispatcherSnapshot> dispatchers;
    BreakerState breaker = BreakerState::Closed;
    double configuredPerSecond = 0;
    double effectivePerSecond = 0;
    bool limiterDegraded = false;
    QString redisState;
    qint64 upstreamRequests = 0; ///< Instantly and Close, since start
    qint64 upstreamRateLimited = 0; ///< 429 answers among them

    /// Sums over the dispatchers.
    qint64 delivered() const;
    int inFlight() const;
};

/// The delivery half of Sluice (dispatchers, shared limiter and breaker, API clients and a
/// Redis connection of its own) on a thread of its own, so webhook acknowledgements and the
/// console's drawing never wait behind upstream answers, Lua scripts or JSON of 1000-lead
/// batches. Every API request goes through a gate: sends take breaker permit and limiter slot
/// in the dispatcher; campaign lookups (every page) and Close lookups go through UpstreamGates
/// on their transports, Close with its own shared budget.
///
/// Metrics (optional, thread-safe) gets the delivery series: upstream requests by API and
/// status, 429s, delivered/skipped/failed/dead/retried, breaker state, effective rate.
class DeliveryEngine : public QObject
{
    Q_OBJECT
public:
    explicit DeliveryEngine(DeliverySettings settings, Metrics *metrics = nullptr,
                            QObject *parent = nullptr);
    /// Stops (see stop()) if still running.
    ~DeliveryEngine() override;

    /// Starts the thread and everything on it; blocks until it has started or refused, and
    /// returns why it refused.
    std::optional<QString> start();
    /// Stops dispatching: leads not sent are handed back, requests in flight are answered and
    /// settled, then the thread ends. Blocks the caller up to `timeout`; returns false when
    /// the dispatchers did not finish in time (their leads are reclaimed later, nothing lost).
    bool stop(std::chrono::milliseconds timeout = std::chrono::seconds { 15 });
    bool isRunning() const;

    DeliverySnapshot snapshot() const;
    const DeliverySettings &settings() const { return m_settings; }

Q_SIGNALS:
    /// Emitted on the owner's thread, at most a few times a second.
    void snapshotChanged();
    /// Something a human should look at (unsafe Redis configuration, limiter fallback).
    void warningRaised(const QString &message);
    /// A dispatcher refused to run on the data in Redis (newer schema) and stopped; headless
    /// use exits on it.
    void refused(const QString &why);

private:
    class Core;
    friend class Core;
    void publish(const DeliverySnapshot &snapshot);
    void shutDownThread();

    DeliverySettings m_settings;
    Metrics *m_metrics;
    QThread m_thread;
    Core *m_core = nullptr; ///< lives on m_thread
    mutable QMutex m_mutex;
    DeliverySnapshot m_snapshot;
};

} // namespace sluice
