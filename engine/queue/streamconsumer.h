#pragma once

#include "queue/dispatcheroptions.h"
#include "queue/pausecause.h"
#include "store/rediskeys.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <functional>
#include <optional>

namespace sluice {

class RedisClient;
class RedisReply;

/// One consumer of the dispatchers group on the leads stream: reads new entries (XREADGROUP
/// BLOCK on a Redis client of its own, after first re-reading its own pending entries from a
/// previous run), keeps what it holds from looking abandoned (XCLAIM heartbeat), takes over
/// the entries of dead consumers (XAUTOCLAIM), promotes due retries and follows the fleet's
/// pause flag. It hands each entry to its handler once, and reads no more while it holds
/// maxInFlight entries; the handler's owner gives each back with forget() (settled) or
/// handBack() (not sent, for anyone to take at once).
class StreamConsumer : public QObject
{
    Q_OBJECT
public:
    /// `redis` (commands and scripts) must outlive the consumer. Options used: consumerName,
    /// maxInFlight, maxBatch, blockTime, claimIdleTimeout, maintenanceInterval.
    StreamConsumer(RedisClient *redis, RedisKeys keys, const DispatcherOptions &options,
                   QObject *parent = nullptr);
    ~StreamConsumer() override;

    /// `reclaimed`: taken over from a consumer that stopped (or from this one's earlier run),
    /// so it may have been sent already.
    using Handler = std::function<void(const QByteArray &id, const QList<QByteArray> &fields,
                                       bool reclaimed)>;
    void setHandler(Handler handler) { m_handler = std::move(handler); }

    /// Creates the group when needed, reads the pause flag, then starts reading.
    void start();
    /// Stops reading and maintenance; a read under way finishes (its entries are handed back).
    void stop();
    bool isReading() const { return m_reading; }
    bool isPaused() const { return m_paused; }
    QString pausedReason() const { return m_pausedReason; }
    PauseCause pausedCause() const { return m_pausedCause; }
    /// This process paused the fleet (its flag is being written to Redis): paused at once, so
    /// that the flag's removal, by an operator or a probe anywhere, is seen as a change even if
    /// it comes before the next read of the flag. A read of the flag sent before this call
    /// answers from before the flag was written, and is ignored: it would resume the consumer
    /// until the next read, and let it send in between. Call it after sending the write, on the
    /// same Redis client, so every later read sees the flag.
    void pauseNow(const QString &reason, PauseCause cause);
    int held() const { return int(m_held.size()); }

    /// Reads again if there is room and it is not reading, paused or stopped.
    void readMore();
    /// The entry is settled (or settles itself): no longer held.
    void forget(const QByteArray &id);
    /// Entries not sent: made reclaimable at once, by any consumer.
    void handBack(const QList<QByteArray> &ids);
    /// The fence: which of `ids` this consumer still owns (the others were reclaimed by a
    /// consumer that took it for dead); owned ones have their idle time reset. `done` gets the
    /// lost ids (they are forgotten here already), or nullopt when Redis could not say.
    void confirmOwned(const QList<QByteArray> &ids,
                      std::function<void(std::optional<QList<QByteArray>>)> done);

Q_SIGNALS:
    void pausedChanged(bool paused, const QString &reason);
    void errorNoted(const QString &message);
    /// A read finished (with or without entries).
    void readFinished();
    void heldChanged(int held);
    /// Entries this consumer held were reclaimed by another (it looked dead): they must not
    /// be sent from here.
    void entriesLost(const QList<QByteArray> &ids);

private:
    /// Renews this consumer's heartbeat key (RedisKeys::alive).
    void beat();
    void onEntries(const RedisReply &entries, bool reclaimed);
    void maintain();
    /// Reads the fleet's pause flag; `then` runs after the answer (also when it was ignored).
    void readPauseFlag(std::function<void()> then = {});
    void onPauseFlag(const RedisReply &fields);
    void setPaused(bool paused, const QString &reason);

    RedisClient *m_redis;
    RedisKeys m_keys;
    DispatcherOptions m_options;
    RedisClient *m_blocking = nullptr; ///< child; XREADGROUP BLOCK only
    Handler m_handler;
    bool m_running = false;
    bool m_reading = false;
    bool m_readHistory = true; ///< first read "0": our own pending entries from a previous run
    QByteArray m_historyCursor = "0"; ///< where the next history read starts
    bool m_paused = false;
    QString m_pausedReason;
    PauseCause m_pausedCause = PauseCause::Operator;
    quint64 m_pauseNowCount = 0; ///< pauseNow() calls: reads of the flag sent before one are stale
    QSet<QByteArray> m_held; ///< entry ids handed to the handler and not yet given back
    QByteArray m_claimCursor = "0-0";
    QTimer m_maintenance;
    QElapsedTimer m_sinceHeartbeat;
};

} // namespace sluice
