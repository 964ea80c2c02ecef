#include "sharedbreaker.h"

#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QPointer>

namespace sluice {

using std::chrono::milliseconds;

SharedBreaker::SharedBreaker(RedisClient *redis, QByteArray key, const BreakerOptions &options,
                             const Clock *clock, QObject *parent, milliseconds pollInterval)
    : QObject(parent)
    , m_redis(redis)
    , m_key(std::move(key))
    , m_clock(clock)
    , m_breaker(options)
{
    m_redis->loadScript(QStringLiteral("breaker_publish"),
                        bundledLuaScript(QStringLiteral("breaker_publish")));
    connect(&m_poll, &QTimer::timeout, this, &SharedBreaker::poll);
    m_poll.start(pollInterval);
    poll();
}

milliseconds SharedBreaker::now() const
{
    return m_clock ? m_clock->now() : milliseconds { fleetClockMs() };
}

BreakerDecision SharedBreaker::allow()
{
    const BreakerDecision decision = m_breaker.allow(now());
    publish();
    return decision;
}

void SharedBreaker::record(const BreakerDecision &permit, CallOutcome outcome, milliseconds latency)
{
    m_breaker.record(now(), permit.generation, outcome, latency);
    publish();
}

std::optional<QString> SharedBreaker::forceOpen(const QString &reason, milliseconds duration)
{
    const milliseconds t = now();
    auto problem = m_breaker.forceOpen(t, reason, t + duration);
    publish();
    return problem;
}

std::optional<QString> SharedBreaker::forceClosed(const QString &reason, milliseconds duration)
{
    const milliseconds t = now();
    auto problem = m_breaker.forceClosed(t, reason, t + duration);
    publish();
    return problem;
}

void SharedBreaker::clearForce(const QString &why)
{
    m_breaker.clearForce(now(), why);
    publish();
}

BreakerState SharedBreaker::state()
{
    m_breaker.update(now());
    publish();
    return m_breaker.state();
}

void SharedBreaker::publish()
{
    const std::vector<BreakerTransition> transitions = m_breaker.takeTransitions();
    if (transitions.empty())
        return;
    for (const BreakerTransition &t : transitions) {
        qInfo("breaker %s: %s", m_key.constData(), qPrintable(t.describe()));
        Q_EMIT stateChanged(t.to, t.reason);
        m_unlogged.push_back(t);
    }
    writeState();
}

void SharedBreaker::writeState()
{
    // One write at a time: each is based on the version the previous one produced, so two
    // quick transitions of this instance do not refuse each other.
    if (m_writing) {
        m_dirty = true;
        return;
    }
    m_writing = true;
    m_dirty = false;
    QList<QByteArray> args { QByteArray::number(m_version),
                             QByteArray::number(qsizetype(m_unlogged.size())) };
    for (const BreakerTransition &t : m_unlogged) {
        args << breakerStateName(t.from).toUtf8() << breakerStateName(t.to).toUtf8()
             << QByteArray::number(qint64(t.at.count())) << t.reason.toUtf8();
    }
    std::vector<BreakerTransition> sent;
    sent.swap(m_unlogged);
    const CircuitBreaker::Fields fields = m_breaker.saveState();
    for (auto it = fields.cbegin(); it != fields.cend(); ++it) {
        args.append(it.key());
        args.append(it.value());
    }
    QPointer<SharedBreaker> self(this);
    m_redis->evalScript(QStringLiteral("breaker_publish"), { m_key, m_key + ":transitions" }, args,
                        [self, sent = std::move(sent)](RedisResult r) mutable {
                            if (!self)
                                return;
                            self->m_writing = false;
                            if (!r.ok()) {
                                // Redis away: the replica goes on alone, and the poll writes (and
                                // logs) its state once Redis answers again.
                                sent.insert(sent.end(), self->m_unlogged.begin(),
                                            self->m_unlogged.end());
                                self->m_unlogged.swap(sent);
                                self->m_dirty = true;
                                return;
                            }
                            const qint64 stored = r.value().integer();
                            if (stored <= 0) {
                                self->m_dirty = false;
                                self->poll(); // somebody else's newer state wins
                                return;
                            }
                            self->m_version = stored;
                            if (self->m_dirty)
                                self->writeState();
                        });
}

void SharedBreaker::poll()
{
    if (m_dirty && !m_writing) {
        writeState();
        return;
    }
    if (m_polling)
        return;
    m_polling = true;
    QPointer<SharedBreaker> self(this);
    m_redis->command({ "HGET", m_key, "version" }, [self](RedisResult r) {
        if (!self)
            return;
        if (!r.ok()) {
            self->m_polling = false;
            return;
        }
        const qint64 version = r.value().bytes().toLongLong();
        if (version <= self->m_version) {
            self->m_polling = false;
            self->m_synced = true;
            return;
        }
        self->m_redis->command({ "HGETALL", self->m_key }, [self](RedisResult all) {
            if (!self)
                return;
            self->m_polling = false;
            if (!all.ok())
                return;
            CircuitBreaker::Fields fields;
            const auto &items = all.value().elements();
            for (size_t i = 0; i + 1 < items.size(); i += 2)
                fields.insert(items[i].bytes(), items[i + 1].bytes());
            const qint64 stored = fields.take("version").toLongLong();
            self->adopt(fields, stored);
        });
    });
}

void SharedBreaker::adopt(const CircuitBreaker::Fields &fields, qint64 version)
{
    const BreakerState before = m_breaker.state();
    if (auto problem = m_breaker.restoreState(fields)) {
        qWarning("breaker %s: ignoring stored state: %s", m_key.constData(), qPrintable(*problem));
        m_version = version; // do not retry the same bad state forever
        m_synced = true;
        return;
    }
    m_breaker.takeTransitions(); // another instance logged these already
    m_version = version;
    m_synced = true;
    if (m_breaker.state() != before) {
        const QString reason = m_breaker.isForced()
            ? m_breaker.force()->reason
            : QStringLiteral("adopted from another instance");
        Q_EMIT stateChanged(m_breaker.state(), reason);
    }
}

} // namespace sluice

#include "moc_sharedbreaker.cpp" // NOLINT(bugprone-suspicious-include)
