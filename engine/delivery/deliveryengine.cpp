#include "deliveryengine.h"

#include "breaker/sharedbreaker.h"
#include "close/closegate.h"
#include "instantly/instantlyclient.h"
#include "limiter/sendaudit.h"
#include "limiter/sharedratelimiter.h"
#include "net/upstreamgate.h"
#include "redis/fleetclock.h"
#include "redis/redisclient.h"
#include "store/rediskeys.h"
#include "telemetry/metrics.h"

#include <QEventLoop>
#include <QLoggingCategory>
#include <QPointer>
#include <QSemaphore>
#include <QTimer>

#include <memory>

namespace sluice {

Q_LOGGING_CATEGORY(lcDelivery, "sluice.delivery")

using std::chrono::milliseconds;

std::optional<QString> DeliverySettings::problem() const
{
    if (workers < 1 || workers > 64)
        return QStringLiteral("workers must be 1..64, not %1").arg(workers);
    if (instantly.apiKey.isEmpty())
        return QStringLiteral("no Instantly API key");
    if (auto p = redis.problem())
        return QStringLiteral("Redis: %1").arg(*p);
    if (auto p = limiter.problem())
        return p;
    if (auto p = breaker.problem())
        return QStringLiteral("breaker: %1").arg(*p);
    if (closeCaps.empty())
        return QStringLiteral("the Close budget needs at least one cap");
    DispatcherOptions d = dispatcher;
    d.keyNamespace = ns;
    return d.problem();
}

qint64 DeliverySnapshot::delivered() const
{
    qint64 n = 0;
    for (const DispatcherSnapshot &d : dispatchers)
        n += d.succeeded;
    return n;
}

int DeliverySnapshot::inFlight() const
{
    int n = 0;
    for (const DispatcherSnapshot &d : dispatchers)
        n += d.inFlight;
    return n;
}

/// Everything on the delivery thread. Made there, destroyed there.
class DeliveryEngine::Core : public QObject
{
public:
    Core(DeliveryEngine *owner, DeliverySettings settings, Metrics *metrics)
        : m_owner(owner)
        , m_settings(std::move(settings))
        , m_metrics(metrics)
        , m_publishTimer(this) // a child, so it moves to the delivery thread with us
    { }

    std::optional<QString> start();
    void stop(std::function<void()> done);

private:
    void countRequest(const QByteArray &api, const ApiResult &result);
    void publish();
    void registerMetrics();

    DeliveryEngine *m_owner; ///< only publish() and signals, which are thread-safe
    DeliverySettings m_settings;
    Metrics *m_metrics;
    RedisClient *m_redis = nullptr;
    /// One sending client per dispatcher: each bounds its own requests on the wire
    /// (DispatcherOptions::maxRequestsInFlight), so each needs its own connections.
    std::vector<InstantlyClient *> m_sends;
    InstantlyClient *m_lookups = nullptr;
    CloseClient *m_close = nullptr;
    SharedRateLimiter *m_limiter = nullptr;
    SharedBreaker *m_breaker = nullptr;
    SendAudit *m_audit = nullptr;
    UpstreamGate *m_gate = nullptr;
    std::vector<Dispatcher *> m_dispatchers;
    QTimer m_publishTimer;
    bool m_publishPending = false;
    qint64 m_requests = 0;
    qint64 m_rateLimited = 0;
    // Delivery counters are counters in /metrics: bumped by the change since the last look.
    struct Totals
    {
        qint64 succeeded = 0, skipped = 0, failed = 0, dead = 0, retried = 0;
    } m_counted;
    std::shared_ptr<DeliverySnapshot> m_latest = std::make_shared<DeliverySnapshot>();
};

std::optional<QString> DeliveryEngine::Core::start()
{
    const RedisKeys keys(m_settings.ns);
    m_redis = new RedisClient(m_settings.redis, this);
    connect(m_redis, &RedisClient::stateChanged, this, [this] { publish(); });
    m_redis->connectToServer();
    // Shared times (retries, the breaker, pauses) on Redis's clock, whatever ours says.
    new FleetClock(m_redis, std::chrono::seconds { 60 }, {}, this);

    m_lookups = new InstantlyClient(m_settings.instantly, this);
    m_close = new CloseClient(m_settings.close, this);

    m_limiter = new SharedRateLimiter(m_redis, keys.limiter(), m_settings.limiter, nullptr, this);
    // Sizes the share each instance paces at when Redis is away by the fleet last seen alive.
    m_limiter->announcePresence(keys.instances(), m_settings.instance);
    LimiterOptions closeBudget = m_settings.limiter;
    closeBudget.caps = m_settings.closeCaps;
    m_breaker = new SharedBreaker(m_redis, keys.breaker(), m_settings.breaker, nullptr, this);
    m_audit = new SendAudit(m_redis, keys.audit(), m_settings.instance, std::chrono::hours { 24 },
                            this);
    // One gate for every Instantly request of this thread: lookups through their transport,
    // sends through the dispatchers (which fence a batch between admission and request).
    m_gate = new UpstreamGate(m_limiter, m_breaker, m_audit, this);
    m_lookups->transport()->setGate(m_gate);
    // Close limits per endpoint group: one shared limiter per route under --close-rate.
    auto *closeGate = new CloseGate(m_redis, keys.closeLimiter(), closeBudget, this);
    m_close->transport()->setGate(closeGate);
    // Close's groups share the fleet count the Instantly limiter makes (one presence set).
    connect(m_limiter, &SharedRateLimiter::fleetSizeChanged, closeGate, &CloseGate::setFleetSize);

    connect(m_limiter, &SharedRateLimiter::degradedChanged, this,
            [this](bool degraded, const QString &why) {
                if (degraded)
                    Q_EMIT m_owner->warningRaised(QStringLiteral("limiter: %1").arg(why));
                publish();
            });
    connect(m_limiter, &SharedRateLimiter::effectiveRateChanged, this, [this] { publish(); });
    connect(m_breaker, &SharedBreaker::stateChanged, this,
            [](BreakerState state, const QString &reason) {
                qCInfo(lcDelivery).noquote()
                    << "breaker" << breakerStateName(state) << "-" << reason;
            });
    connect(m_breaker, &SharedBreaker::stateChanged, this, [this] { publish(); });
    auto countInstantly = [this](InstantlyClient *client) {
        connect(client, &InstantlyClient::requestFinished, this,
                [this](const ApiResult &r) { countRequest("instantly", r); });
    };
    countInstantly(m_lookups);
    connect(m_close, &CloseClient::requestFinished, this,
            [this](const ApiResult &r) { countRequest("close", r); });

    DispatcherServices services;
    services.redis = m_redis;
    services.lookups = m_lookups;
    services.close = m_close;
    services.limiter = m_limiter;
    services.breaker = m_breaker;
    services.audit = m_audit;
    services.gate = m_gate;
    for (int i = 0; i < m_settings.workers; ++i) {
        DispatcherOptions d = m_settings.dispatcher;
        d.keyNamespace = m_settings.ns;
        d.consumerName = m_settings.instance + QLatin1Char('-') + QString::number(i);
        m_sends.push_back(new InstantlyClient(m_settings.instantly, this));
        countInstantly(m_sends.back());
        services.instantly = m_sends.back();
        auto *dispatcher = new Dispatcher(services, d, this);
        connect(dispatcher, &Dispatcher::warningRaised, this,
                [this](const QString &w) { Q_EMIT m_owner->warningRaised(w); });
        connect(dispatcher, &Dispatcher::snapshotChanged, this, [this] { publish(); });
        connect(dispatcher, &Dispatcher::refused, this, [this](const QString &why) {
            Q_EMIT m_owner->warningRaised(why);
            Q_EMIT m_owner->refused(why);
        });
        if (auto problem = dispatcher->start())
            return problem;
        m_dispatchers.push_back(dispatcher);
    }
    registerMetrics();
    // Snapshots go out at most every 100 ms, however busy the dispatchers are.
    m_publishTimer.setSingleShot(true);
    m_publishTimer.setInterval(100);
    connect(&m_publishTimer, &QTimer::timeout, this, [this] {
        m_publishPending = false;
        DeliverySnapshot s;
        s.running = std::any_of(m_dispatchers.begin(), m_dispatchers.end(),
                                [](Dispatcher *d) { return d->isRunning(); });
        for (Dispatcher *d : m_dispatchers)
            s.dispatchers.push_back(d->snapshot());
        s.breaker = m_breaker->state();
        s.configuredPerSecond = m_limiter->configuredPerSecond();
        s.effectivePerSecond = m_limiter->effectivePerSecond();
        s.limiterDegraded = m_limiter->degraded();
        s.redisState = RedisClient::stateName(m_redis->state());
        s.upstreamRequests = m_requests;
        s.upstreamRateLimited = m_rateLimited;
        if (m_metrics) {
            Totals now;
            for (const DispatcherSnapshot &d : s.dispatchers) {
                now.succeeded += d.succeeded;
                now.skipped += d.skipped;
                now.failed += d.failed;
                now.dead += d.dead;
                now.retried += d.retried;
            }
            const auto bump = [this](const char *name, const char *help, qint64 delta) {
                if (delta > 0)
                    m_metrics->counter(name, help).increment(delta);
            };
            bump("sluice_leads_delivered_total", "Leads Instantly created",
                 now.succeeded - m_counted.succeeded);
            bump("sluice_leads_skipped_total", "Leads already in the campaign",
                 now.skipped - m_counted.skipped);
            bump("sluice_leads_failed_total", "Leads failed permanently (unknown campaign)",
                 now.failed - m_counted.failed);
            bump("sluice_leads_dead_lettered_total", "Leads moved to the dead letters",
                 now.dead - m_counted.dead);
            bump("sluice_leads_retried_total", "Retries scheduled after transient failures",
                 now.retried - m_counted.retried);
            m_counted = now;
        }
        m_owner->publish(s);
    });
    publish();
    return std::nullopt;
}

void DeliveryEngine::Core::registerMetrics()
{
    if (!m_metrics)
        return;
    // Registered at zero so the page lists them before the first lead.
    m_metrics->counter("sluice_leads_delivered_total", "Leads Instantly created");
    m_metrics->counter("sluice_leads_skipped_total", "Leads already in the campaign");
    m_metrics->counter("sluice_leads_failed_total", "Leads failed permanently (unknown campaign)");
    m_metrics->counter("sluice_leads_dead_lettered_total", "Leads moved to the dead letters");
    m_metrics->counter("sluice_leads_retried_total", "Retries scheduled after transient failures");
    m_metrics->counter("sluice_upstream_rate_limited_total", "429 answers from upstream APIs",
                       { { "api", "instantly" } });
    // Gauges read the last published snapshot, under the owner's lock.
    DeliveryEngine *owner = m_owner;
    m_metrics->addGaugeCallback(
        "sluice_breaker_state",
        "Circuit breaker: 0 closed, 1 half-open, 2 open (forced states count as open/closed)",
        [owner] {
            switch (owner->snapshot().breaker) {
            case BreakerState::Open:
            case BreakerState::ForcedOpen:
                return 2.0;
            case BreakerState::HalfOpen:
                return 1.0;
            case BreakerState::Closed:
            case BreakerState::ForcedClosed:
                break;
            }
            return 0.0;
        });
    m_metrics->addGaugeCallback("sluice_limiter_effective_rate",
                                "Requests per second the shared limiter allows now",
                                [owner] { return owner->snapshot().effectivePerSecond; });
    m_metrics->addGaugeCallback("sluice_limiter_degraded",
                                "1 while the limiter decides locally (Redis unreachable)",
                                [owner] { return owner->snapshot().limiterDegraded ? 1.0 : 0.0; });
    m_metrics->addGaugeCallback("sluice_dispatcher_in_flight",
                                "Leads read from the queue and not yet settled",
                                [owner] { return double(owner->snapshot().inFlight()); });
}

void DeliveryEngine::Core::countRequest(const QByteArray &api, const ApiResult &result)
{
    ++m_requests;
    if (result.outcome == CallOutcome::RateLimited) {
        ++m_rateLimited;
        if (m_metrics)
            m_metrics
                ->counter("sluice_upstream_rate_limited_total", "429 answers from upstream APIs",
                          { { "api", api } })
                .increment();
    }
    if (m_metrics) {
        const QByteArray status = result.httpStatus != 0 ? QByteArray::number(result.httpStatus)
            : result.timedOut                            ? QByteArray("timeout")
                                                         : QByteArray("error");
        m_metrics
            ->counter("sluice_upstream_requests_total", "Upstream API requests by answer",
                      { { "api", api }, { "status", status } })
            .increment();
    }
    publish();
}

void DeliveryEngine::Core::publish()
{
    if (!m_publishTimer.isActive())
        m_publishTimer.start();
}

void DeliveryEngine::Core::stop(std::function<void()> done)
{
    auto running = std::make_shared<int>(0);
    auto finish = [this, done] {
        m_publishTimer.stop();
        m_redis->disconnectFromServer();
        done();
    };
    for (Dispatcher *d : m_dispatchers) {
        if (!d->isRunning())
            continue;
        ++*running;
        connect(d, &Dispatcher::stopped, this, [running, finish] {
            if (--*running == 0)
                finish();
        });
    }
    if (*running == 0) {
        finish();
        return;
    }
    for (Dispatcher *d : m_dispatchers)
        d->stop();
}

DeliveryEngine::DeliveryEngine(DeliverySettings settings, Metrics *metrics, QObject *parent)
    : QObject(parent)
    , m_settings(std::move(settings))
    , m_metrics(metrics)
{
    m_thread.setObjectName(QStringLiteral("sluice-delivery"));
}

DeliveryEngine::~DeliveryEngine()
{
    stop();
}

std::optional<QString> DeliveryEngine::start()
{
    if (m_core)
        return QStringLiteral("the delivery engine is already running");
    if (auto problem = m_settings.problem())
        return problem;
    m_core = new Core(this, m_settings, m_metrics);
    m_core->moveToThread(&m_thread);
    m_thread.start();
    std::optional<QString> problem;
    QMetaObject::invokeMethod(
        m_core, [this, &problem] { problem = m_core->start(); }, Qt::BlockingQueuedConnection);
    if (problem)
        shutDownThread();
    return problem;
}

bool DeliveryEngine::stop(milliseconds timeout)
{
    if (!m_core)
        return true;
    auto stopped = std::make_shared<QSemaphore>(0);
    Core *core = m_core;
    QMetaObject::invokeMethod(
        core, [core, stopped] { core->stop([stopped] { stopped->release(); }); },
        Qt::QueuedConnection);
    const bool clean = stopped->tryAcquire(1, int(timeout.count()));
    shutDownThread();
    QMutexLocker lock(&m_mutex);
    m_snapshot.running = false;
    return clean;
}

void DeliveryEngine::shutDownThread()
{
    // Deleted on its own thread while that thread's loop still runs, so its sockets, timers
    // and deferred deletions are all taken down there; then the thread ends.
    Core *core = std::exchange(m_core, nullptr);
    QMetaObject::invokeMethod(
        core, [core] { delete core; }, Qt::BlockingQueuedConnection);
    m_thread.quit();
    m_thread.wait();
}

bool DeliveryEngine::isRunning() const
{
    return m_core != nullptr;
}

DeliverySnapshot DeliveryEngine::snapshot() const
{
    QMutexLocker lock(&m_mutex);
    return m_snapshot;
}

void DeliveryEngine::publish(const DeliverySnapshot &snapshot)
{
    {
        QMutexLocker lock(&m_mutex);
        m_snapshot = snapshot;
    }
    Q_EMIT snapshotChanged(); // queued to the owner's thread by Qt for its receivers there
}

} // namespace sluice

#include "moc_deliveryengine.cpp" // NOLINT(bugprone-suspicious-include)
