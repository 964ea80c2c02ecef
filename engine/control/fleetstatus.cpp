#include "fleetstatus.h"

#include "queue/pausecause.h"
#include "redis/redisclient.h"
#include "telemetry/metrics.h"

#include <QMutexLocker>
#include <QPointer>

namespace sluice {

qint64 FleetSnapshot::parkedLeads() const
{
    qint64 total = 0;
    for (const ParkedCampaign &p : parked)
        total += p.leads;
    return total;
}

qint64 FleetSnapshot::deadLetterTotal() const
{
    qint64 total = 0;
    for (const DeadLetterCount &d : deadLetters)
        total += d.count;
    return total;
}

qint64 FleetSnapshot::deadLetterCount(LeadReason code) const
{
    for (const DeadLetterCount &d : deadLetters)
        if (d.code == code)
            return d.count;
    return 0;
}

/// The snapshot, shared with the gauges (which may be read on another thread, and after this
/// object is gone).
struct FleetStatus::Shared
{
    mutable QMutex mutex;
    FleetSnapshot snapshot;

    FleetSnapshot get() const
    {
        QMutexLocker lock(&mutex);
        return snapshot;
    }
};

FleetStatus::FleetStatus(RedisClient *redis, RedisKeys keys, FleetStatusOptions options,
                         QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_keys(keys)
    , m_options(options)
    , m_control(redis, std::move(keys), nullptr)
    , m_shared(std::make_shared<Shared>())
{
    m_waitTimer.setSingleShot(true);
    connect(&m_waitTimer, &QTimer::timeout, this, &FleetStatus::answerWaiters);
}

FleetStatus::~FleetStatus() = default;

FleetSnapshot FleetStatus::snapshot() const
{
    return m_shared->get();
}

void FleetStatus::withFresh(std::function<void(const FleetSnapshot &)> use)
{
    const bool fresh
        = m_age.isValid() && m_age.elapsed() < std::chrono::milliseconds(m_options.maxAge).count();
    // Without a connection a read would only fail (or queue): answer with what is known.
    if (fresh || m_redis->state() != RedisClient::State::Connected) {
        use(snapshot());
        return;
    }
    m_waiters.push_back(std::move(use));
    if (!m_waitTimer.isActive())
        m_waitTimer.start(m_options.wait);
    if (!m_reading)
        refresh();
}

void FleetStatus::refresh()
{
    m_reading = true;
    // Three reads in flight at once; each part that fails keeps its older value.
    struct Join
    {
        FleetSnapshot next;
        bool anyRead = false;
        int pending = 3;
    };
    auto join = std::make_shared<Join>();
    join->next = snapshot();
    QPointer<FleetStatus> self(this);
    const auto finished = [self, join] {
        if (--join->pending > 0 || !self)
            return;
        self->m_reading = false;
        if (join->anyRead) {
            join->next.known = true;
            {
                QMutexLocker lock(&self->m_shared->mutex);
                self->m_shared->snapshot = join->next;
            }
            self->m_age.start();
        }
        self->answerWaiters();
    };
    m_control.pauseState([join, finished](Result<PauseState, RedisError> r) {
        if (r.ok()) {
            join->next.pause = r.value();
            join->anyRead = true;
        }
        finished();
    });
    m_control.deadLetterCounts(
        [join, finished](Result<std::vector<DeadLetterCount>, RedisError> r) {
            if (r.ok()) {
                join->next.deadLetters = r.value();
                join->anyRead = true;
            }
            finished();
        });
    ParkedCampaigns::list(m_redis, m_keys, [join, finished](std::vector<ParkedCampaign> parked) {
        // list() answers an empty list on errors too; the other two tell whether Redis spoke.
        join->next.parked = std::move(parked);
        finished();
    });
}

void FleetStatus::answerWaiters()
{
    m_waitTimer.stop();
    const FleetSnapshot now = snapshot();
    auto waiters = std::exchange(m_waiters, {});
    for (const auto &use : waiters)
        use(now);
}

void FleetStatus::registerMetrics(Metrics &metrics)
{
    const std::shared_ptr<const Shared> shared = m_shared;
    for (PauseCause cause : { PauseCause::Operator, PauseCause::InstantlyKeyRejected,
                              PauseCause::CloseKeyRejected, PauseCause::PlanExhausted }) {
        metrics.addGaugeCallback(
            "sluice_dispatch_paused",
            "1 while the fleet's dispatching is paused, by cause (from Redis: every instance "
            "reports the fleet)",
            [shared, cause] {
                const FleetSnapshot s = shared->get();
                return s.pause.reason && s.pause.cause == cause ? 1.0 : 0.0;
            },
            { { "cause", pauseCauseName(cause) } });
    }
    metrics.addGaugeCallback("sluice_instantly_remaining_in_plan",
                             "Leads left in the Instantly plan, last seen (-1: not known yet)",
                             [shared] { return double(shared->get().pause.remainingInPlan); });
    metrics.addGaugeCallback("sluice_parked_campaigns",
                             "Campaigns not found in Instantly that have leads waiting for them",
                             [shared] { return double(shared->get().parked.size()); });
    metrics.addGaugeCallback("sluice_parked_leads",
                             "Leads waiting for their campaign to appear in Instantly",
                             [shared] { return double(shared->get().parkedLeads()); });
    for (LeadReason reason : allLeadReasons()) {
        metrics.addGaugeCallback(
            "sluice_dead_letters", "Dead letters waiting for an operator, by reason code",
            [shared, reason] { return double(shared->get().deadLetterCount(reason)); },
            { { "reason", leadReasonCode(reason) } });
    }
}

} // namespace sluice

#include "moc_fleetstatus.cpp" // NOLINT(bugprone-suspicious-include)
