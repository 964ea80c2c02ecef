#include "sharedratelimiter.h"

#include "core/apicall.h"
#include "core/clock.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QPointer>
#include <QTimer>

#include <algorithm>

namespace sluice {

using std::chrono::milliseconds;

namespace {

const QString kAcquire = QStringLiteral("limiter_acquire");
const QString kReport = QStringLiteral("limiter_report");

QByteArray num(double value)
{
    return QByteArray::number(value, 'f', 3);
}

} // namespace

SharedRateLimiter::SharedRateLimiter(RedisClient *redis, QByteArray key,
                                     const LimiterOptions &options, const Clock *clock,
                                     QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_key(std::move(key))
    , m_options(options)
    , m_rules(pacedRules(options.caps, options.safetyFactor))
    , m_clock(clock)
    , m_fleetSize(std::max(1, options.instancesHint))
{
    m_fallback = std::make_unique<LocalRateLimiter>(options, fallbackShare());
    m_redis->loadScript(kAcquire, bundledLuaScript(kAcquire));
    m_redis->loadScript(kReport, bundledLuaScript(kReport));
}

SharedRateLimiter::~SharedRateLimiter() = default;

double SharedRateLimiter::fallbackShare() const
{
    return m_options.fallbackShare / double(std::max(1, m_fleetSize));
}

void SharedRateLimiter::announcePresence(QByteArray key, const QString &instance,
                                         milliseconds interval)
{
    m_presenceKey = std::move(key);
    m_instance = instance.toUtf8();
    m_presenceInterval = std::max(interval, milliseconds { 10 });
    if (!m_presenceTimer) {
        m_presenceTimer = new QTimer(this);
        connect(m_presenceTimer, &QTimer::timeout, this, &SharedRateLimiter::announce);
    }
    m_presenceTimer->start(m_presenceInterval);
    announce();
}

void SharedRateLimiter::announce()
{
    const qint64 now = fleetClockMs();
    const qint64 window = 3 * qint64(m_presenceInterval.count());
    m_redis->command({ "ZADD", m_presenceKey, QByteArray::number(now), m_instance }, {});
    // Gone for a day: forgotten (the set stays small whatever the churn of instance names).
    m_redis->command(
        { "ZREMRANGEBYSCORE", m_presenceKey, "-inf", QByteArray::number(now - 86'400'000) }, {});
    QPointer<SharedRateLimiter> self(this);
    m_redis->command({ "ZCOUNT", m_presenceKey, QByteArray::number(now - window), "+inf" },
                     [self](RedisResult r) {
                         if (self && r.ok() && r.value().integer() > 0)
                             self->setFleetSize(int(r.value().integer()));
                     });
}

void SharedRateLimiter::setFleetSize(int n)
{
    // Kept while degraded: the fallback's pacing state must not reset mid-outage, and the
    // count it started with is the last one seen alive.
    if (n < 1 || n == m_fleetSize || m_degraded)
        return;
    m_fleetSize = n;
    m_fallback = std::make_unique<LocalRateLimiter>(m_options, fallbackShare());
    Q_EMIT fleetSizeChanged(n);
}

double SharedRateLimiter::configuredPerSecond() const
{
    double rate = 1e12;
    for (const RateRule &cap : m_options.caps)
        rate = std::min(rate, cap.perSecond());
    return rate * m_options.safetyFactor;
}

qint64 SharedRateLimiter::nowMs() const
{
    return m_clock ? m_clock->now().count() : 0; // 0: the script reads Redis TIME
}

LimiterGrant SharedRateLimiter::decideLocally()
{
    const milliseconds now = m_clock ? m_clock->now() : m_steady.now();
    const LimiterDecision d = m_fallback->acquire(now);
    LimiterGrant grant;
    grant.allowed = d.allowed;
    grant.wait = d.wait;
    grant.degraded = true;
    grant.grantedAtMs = m_clock ? now.count() : wallClockMs();
    grant.rateFactor = m_fallback->effectiveFactor(now);
    return grant;
}

void SharedRateLimiter::setDegraded(bool degraded, const QString &reason)
{
    if (m_degraded == degraded)
        return;
    m_degraded = degraded;
    Q_EMIT degradedChanged(degraded, reason);
}

void SharedRateLimiter::setFactor(double factor)
{
    if (qFuzzyCompare(factor, m_lastFactor))
        return;
    m_lastFactor = factor;
    Q_EMIT effectiveRateChanged(effectivePerSecond());
}

void SharedRateLimiter::tryAcquire(std::function<void(const LimiterGrant &)> done)
{
    QList<QByteArray> args { QByteArray::number(nowMs()), num(m_options.recoveryPerSecond),
                             QByteArray::number(qsizetype(m_rules.size())) };
    for (const PacedRule &rule : m_rules) {
        args.append(num(rule.intervalMs));
        args.append(num(rule.toleranceMs));
    }
    QPointer<SharedRateLimiter> self(this);
    m_redis->evalScript(kAcquire, { m_key }, args, [self, done = std::move(done)](RedisResult r) {
        if (!self)
            return;
        const RedisReply &reply = r.ok() ? r.value() : RedisReply();
        if (!r.ok() || !reply.isArray() || reply.elements().size() < 4) {
            const QString why = r.ok() ? QStringLiteral("unexpected reply %1").arg(reply.describe())
                                       : r.error().describe();
            self->setDegraded(true,
                              QStringLiteral("Redis unreachable, pacing locally at %1% of "
                                             "the budget: %2")
                                  .arg(qRound(100 * self->fallbackShare()))
                                  .arg(why));
            done(self->decideLocally());
            return;
        }
        self->setDegraded(false, QStringLiteral("Redis is back; pacing is shared again"));
        LimiterGrant grant;
        grant.allowed = reply.at(0).integer() == 1;
        grant.wait = milliseconds { reply.at(1).integer() };
        grant.rateFactor = double(reply.at(2).integer()) / 1e6;
        grant.grantedAtMs = reply.at(3).integer();
        self->setFactor(grant.rateFactor);
        done(grant);
    });
}

void SharedRateLimiter::acquire(std::function<void(const LimiterGrant &)> go)
{
    QPointer<SharedRateLimiter> self(this);
    tryAcquire([self, go = std::move(go)](const LimiterGrant &grant) {
        if (!self)
            return;
        if (grant.allowed) {
            go(grant);
            return;
        }
        // Precise timer: a coarse one may wake up to 5% late and waste slots.
        QTimer::singleShot(std::max(grant.wait, milliseconds { 1 }), Qt::PreciseTimer, self,
                           [self, go] { self->acquire(go); });
    });
}

void SharedRateLimiter::report(const ApiResult &result, const LimiterGrant &grant)
{
    const bool limited = result.outcome == CallOutcome::RateLimited;
    if (!limited && result.outcome != CallOutcome::Success)
        return;
    if (grant.degraded) {
        if (limited)
            m_fallback->reportRateLimited(m_clock ? m_clock->now() : m_steady.now(),
                                          result.retryAfter);
        else
            m_fallback->reportSuccess();
    }
    const QList<QByteArray> args {
        QByteArray::number(nowMs()),
        limited ? QByteArrayLiteral("rate_limited") : QByteArrayLiteral("success"),
        QByteArray::number(grant.grantedAtMs),
        QByteArray::number(result.retryAfter ? result.retryAfter->count() : -1),
        QByteArray::number(m_options.penaltyBase.count()),
        QByteArray::number(m_options.penaltyCap.count()),
        num(m_options.decreaseFactor),
        num(m_options.minRateFactor),
        num(m_options.recoveryPerSecond),
    };
    QPointer<SharedRateLimiter> self(this);
    m_redis->evalScript(kReport, { m_key }, args, [self](RedisResult r) {
        if (self && r.ok() && r.value().isArray())
            self->setFactor(double(r.value().at(1).integer()) / 1e6);
    });
}

void SharedRateLimiter::pace(std::chrono::milliseconds gap)
{
    if (m_degraded || gap.count() <= 0)
        return;
    m_redis->evalScript(kReport, { m_key },
                        { QByteArray::number(nowMs()), QByteArrayLiteral("pace"), "0",
                          QByteArray::number(gap.count()) },
                        {});
}

} // namespace sluice

#include "moc_sharedratelimiter.cpp" // NOLINT(bugprone-suspicious-include)
