#pragma once

#include "core/clock.h"
#include "gcra.h"
#include "limiteroptions.h"

#include <QByteArray>
#include <QObject>
#include <QTimer>

#include <functional>
#include <memory>

namespace sluice {

class RedisClient;
struct ApiResult;

/// A limiter's answer to one caller.
struct LimiterGrant
{
    bool allowed = false;
    std::chrono::milliseconds wait { 0 }; ///< when refused
    /// When the slot was granted, Unix ms on the limiter's clock (Redis TIME when shared), so
    /// sends from every machine line up in the audit.
    qint64 grantedAtMs = 0;
    bool degraded = false; ///< decided locally because Redis was unreachable
    double rateFactor = 1.0; ///< the AIMD factor in force
};

/// The rate limiter every Sluice instance shares through Redis: one Lua script decides
/// atomically for all of them (resources/lua/limiter_acquire.lua, the same GCRA as Gcra), and
/// 429s open a shared penalty and slow everyone down (limiter_report.lua). Take the slot
/// immediately before the HTTP request, never when a job is fetched.
///
/// When Redis cannot be reached, decisions fall back to an in-process LocalRateLimiter at
/// budget / instances × fallbackShare, degradedChanged() says so, and the next successful
/// Redis decision ends the fallback. "instances" is the number last seen alive in Redis
/// (announcePresence), instancesHint until then.
class SharedRateLimiter : public QObject
{
    Q_OBJECT
public:
    /// `redis` must outlive the limiter. `key` is the Redis hash that holds the shared state.
    /// `clock` (optional) replaces Redis TIME for tests; it must then be Unix-epoch based.
    SharedRateLimiter(RedisClient *redis, QByteArray key, const LimiterOptions &options,
                      const Clock *clock = nullptr, QObject *parent = nullptr);
    ~SharedRateLimiter() override;

    /// One decision, now.
    void tryAcquire(std::function<void(const LimiterGrant &)> done);
    /// Waits (on the event loop, never blocking) until a slot is granted, then calls `go`.
    void acquire(std::function<void(const LimiterGrant &)> go);
    /// Every upstream answer comes back here: a 429 penalises all instances, a success resets
    /// the back-off. Other outcomes are the breaker's business.
    void report(const ApiResult &result, const LimiterGrant &grant);
    /// The upstream told its own pace (Close's RateLimit header): no instance is granted a
    /// slot for `gap` from now. Not a failure: no penalty, no slow-down. Ignored while the
    /// limiter runs on its local fallback.
    void pace(std::chrono::milliseconds gap);

    /// Keeps `instance` in the fleet's presence set `key` (instance -> last seen, Redis time)
    /// every `interval`, and counts the instances seen within three intervals: that count
    /// sizes the fallback share, so N instances cut off from Redis together stay within the
    /// budget without anyone setting --instances-hint.
    void announcePresence(QByteArray key, const QString &instance,
                          std::chrono::milliseconds interval = std::chrono::seconds { 5 });
    /// Instances last seen alive (instancesHint until the first count).
    int fleetSize() const { return m_fleetSize; }
    /// Sizes the fallback by a count made elsewhere (another limiter's announcePresence); kept
    /// as it is while the limiter runs on its fallback.
    void setFleetSize(int n);
    /// The share of the budget this instance paces at while Redis is away.
    double fallbackShare() const;

    bool degraded() const { return m_degraded; }
    const LimiterOptions &options() const { return m_options; }
    /// The safe rate the caps allow, per second (the tightest cap × safety factor).
    double configuredPerSecond() const;
    /// configuredPerSecond() × the factor last seen (AIMD after 429s).
    double effectivePerSecond() const { return configuredPerSecond() * m_lastFactor; }

Q_SIGNALS:
    void degradedChanged(bool degraded, const QString &reason);
    void effectiveRateChanged(double perSecond);
    void fleetSizeChanged(int instances);

private:
    qint64 nowMs() const;
    LimiterGrant decideLocally();
    void setDegraded(bool degraded, const QString &reason);
    void setFactor(double factor);
    void announce();

    RedisClient *m_redis;
    QByteArray m_key;
    LimiterOptions m_options;
    std::vector<PacedRule> m_rules;
    const Clock *m_clock;
    SteadyClock m_steady;
    std::unique_ptr<LocalRateLimiter> m_fallback;
    bool m_degraded = false;
    double m_lastFactor = 1.0;
    int m_fleetSize = 1;
    QByteArray m_presenceKey;
    QByteArray m_instance;
    std::chrono::milliseconds m_presenceInterval { 5'000 };
    QTimer *m_presenceTimer = nullptr;
};

} // namespace sluice
