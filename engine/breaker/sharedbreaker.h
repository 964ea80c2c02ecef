#pragma once

#include "circuitbreaker.h"
#include "core/clock.h"

#include <QObject>
#include <QTimer>

namespace sluice {

class RedisClient;

/// The circuit breaker every Sluice instance shares through Redis. Each instance keeps a
/// replica (a CircuitBreaker) that answers allow() at once, without a round trip; every
/// transition it makes (an opening, a trial result, a force) is written to the Redis hash
/// `key` with a new version and appended to the stream `key:transitions`. Every instance polls
/// the version (every `pollInterval`, 500 ms by default) and adopts a newer state, so all of
/// them, and the console, agree within a second, and a restarted process starts from what
/// was stored. Concurrent writers: the last one wins, which is harmless here because both
/// move towards the same conclusion from the same evidence.
///
/// Times on the shared timeline are Unix ms (the wall clock, unless a test injects a clock).
/// When Redis is unreachable the replica goes on deciding alone and catches up later.
class SharedBreaker : public QObject
{
    Q_OBJECT
public:
    SharedBreaker(RedisClient *redis, QByteArray key, const BreakerOptions &options,
                  const Clock *clock = nullptr, QObject *parent = nullptr,
                  std::chrono::milliseconds pollInterval = std::chrono::milliseconds { 500 });

    BreakerDecision allow();
    void record(const BreakerDecision &permit, CallOutcome outcome,
                std::chrono::milliseconds latency);

    /// Manual control, for every instance: refused (with the reason why) for a blank reason or
    /// an expiry in the past. Logged in the transitions stream like any other change.
    std::optional<QString> forceOpen(const QString &reason, std::chrono::milliseconds duration);
    std::optional<QString> forceClosed(const QString &reason, std::chrono::milliseconds duration);
    void clearForce(const QString &why);

    BreakerState state();
    const CircuitBreaker &replica() const { return m_breaker; }
    /// True once the stored state (if any) has been read at start.
    bool synced() const { return m_synced; }

Q_SIGNALS:
    /// Any change, made here or adopted from another instance.
    void stateChanged(sluice::BreakerState state, const QString &reason);

private:
    std::chrono::milliseconds now() const;
    void publish();
    void writeState();
    void poll();
    void adopt(const CircuitBreaker::Fields &fields, qint64 version);

    RedisClient *m_redis;
    QByteArray m_key;
    const Clock *m_clock;
    CircuitBreaker m_breaker;
    qint64 m_version = 0; ///< the stored version our replica reflects
    bool m_synced = false;
    bool m_polling = false;
    bool m_writing = false; ///< a write is in flight: the next one waits for its version
    bool m_dirty = false; ///< the replica changed while a write was in flight
    std::vector<BreakerTransition> m_unlogged; ///< logged with the write that stores them
    QTimer m_poll;
};

} // namespace sluice
