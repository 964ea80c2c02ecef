#pragma once

#include "control/operatorcontrol.h"
#include "queue/parkedcampaigns.h"
#include "store/rediskeys.h"

#include <QElapsedTimer>
#include <QMutex>
#include <QObject>
#include <QTimer>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace sluice {

class Metrics;
class RedisClient;

/// What the whole fleet is doing about leads it cannot deliver, as read from Redis: the pause,
/// the parked campaigns and the dead letters per reason.
struct FleetSnapshot
{
    bool known = false; ///< read from Redis at least once (else everything below is default)
    PauseState pause;
    std::vector<ParkedCampaign> parked;
    std::vector<DeadLetterCount> deadLetters;

    qint64 parkedLeads() const;
    qint64 deadLetterTotal() const;
    qint64 deadLetterCount(LeadReason code) const;
};

struct FleetStatusOptions
{
    /// A snapshot younger than this is answered as it is; an older one is read again first.
    std::chrono::milliseconds maxAge { 1000 };
    /// How long a caller waits for that read before it gets the older snapshot.
    std::chrono::milliseconds wait { 300 };
};

/// The fleet's state for /healthz and /metrics, read from Redis so every instance reports the
/// same thing (not only what its own dispatchers saw), and cached so a scrape or a health
/// probe costs Redis at most one read a second. Never blocks: callers get the snapshot
/// through a callback, at once when it is fresh, else after one shared read (or after
/// FleetStatusOptions::wait with the older one, when Redis is slow or gone).
class FleetStatus : public QObject
{
    Q_OBJECT
public:
    /// `redis` must outlive this.
    FleetStatus(RedisClient *redis, RedisKeys keys, FleetStatusOptions options = {},
                QObject *parent = nullptr);
    ~FleetStatus() override;

    /// Calls `use` (on this thread, from the event loop or at once) with a fresh snapshot.
    void withFresh(std::function<void(const FleetSnapshot &)> use);
    /// The latest snapshot, however old.
    FleetSnapshot snapshot() const;

    /// Registers sluice_dispatch_paused{cause}, sluice_instantly_remaining_in_plan,
    /// sluice_parked_campaigns, sluice_parked_leads and sluice_dead_letters{reason} in
    /// `metrics`. The gauges read the latest snapshot; they stay valid (reading the last one)
    /// if `metrics` outlives this.
    void registerMetrics(Metrics &metrics);

private:
    struct Shared;
    void refresh();
    void answerWaiters();

    RedisClient *m_redis;
    RedisKeys m_keys;
    FleetStatusOptions m_options;
    OperatorControl m_control;
    std::shared_ptr<Shared> m_shared;
    QElapsedTimer m_age; ///< since the last completed read; invalid before the first
    bool m_reading = false;
    std::vector<std::function<void(const FleetSnapshot &)>> m_waiters;
    QTimer m_waitTimer;
};

} // namespace sluice
