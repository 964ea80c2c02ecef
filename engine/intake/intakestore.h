#pragma once

#include "intakebatch.h"
#include "intakeoptions.h"
#include "redis/rediserror.h"
#include "spool.h"
#include "store/rediskeys.h"

#include <QHash>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class Metrics;
class MetricCounter;
class MetricGauge;
class RedisClient;
struct IntakeBatch;

/// Where an accepted intake request goes: Redis, by one atomic Lua script (stream entries,
/// task hash, task index, event-id and Close-task markers, journal), or, while Redis is
/// unreachable, the local Spool (fsync'd), which drains into Redis in order whenever the
/// client becomes Connected. It knows nothing of HTTP: the server maps its outcomes to
/// answers.
///
/// Group commit: requests that arrive while a write is in flight (or in the same event-loop
/// turn) go to Redis together, up to kMaxGroup in one intake_enqueue_group call, when that
/// write returns. At low load each request is written at once; under load the round trips and
/// script starts are shared, and each request is still answered only after Redis stored it.
///
/// Every outcome but Unavailable means the request is durable. The script refuses a task id,
/// event id or Close task id it has already stored, so a replayed spool line never
/// duplicates; a request whose dedupe key waits in the spool is a Duplicate too.
class IntakeStore : public QObject
{
    Q_OBJECT
public:
    enum class Outcome {
        Stored, ///< in Redis
        Duplicate, ///< seen before (in Redis or in the spool): nothing stored
        Spooled, ///< Redis unreachable: in the local spool, replayed later
        Unavailable, ///< neither: not stored
    };

    struct Result
    {
        Outcome outcome = Outcome::Unavailable;
        /// Stored/Spooled: the new task; Duplicate: the task that holds the first delivery.
        QString taskId;
        qint64 leads = 0; ///< Stored/Spooled: entries queued for delivery
        qint64 deadLettered = 0; ///< Stored: leads dead-lettered at intake
        /// Unavailable: why, in words (no secrets).
        QString detail;
        /// Unavailable because Redis answered something this version does not understand (a
        /// server fault), not because it was unreachable or refused the write.
        bool fault = false;
    };
    using Done = std::function<void(const Result &)>;

    /// `redis` is not owned and must outlive the store. The store's series go into `metrics`.
    IntakeStore(const IntakeOptions &options, RedisClient *redis, Metrics &metrics,
                QObject *parent = nullptr);
    ~IntakeStore() override;

    /// Opens the spool (a failure is logged; Redis alone still works), adopts spools whose
    /// process is gone and starts draining.
    void open();
    /// Stores `batch` and calls `done` once: at once when the spool or the spooled-duplicate
    /// check decides, otherwise when Redis has answered.
    void store(IntakeBatch batch, Done done);

    /// Entries of a task that waits in the spool, or nullopt.
    std::optional<int> spooledLeads(const QString &taskId) const;
    bool redisConnected() const;
    const Spool &spool() const { return m_spool; }
    /// True while spooled requests are being replayed into Redis.
    bool draining() const { return m_draining; }
    /// Requests in one group-commit call at most.
    static constexpr size_t kMaxGroup = 64;

Q_SIGNALS:
    /// The spool became empty after a drain.
    void spoolDrained();

private:
    struct Pending;
    void storeInRedis(IntakeBatch batch, Done done);
    void flushGroup();
    void writeGroup(std::vector<Pending> group);
    void settleGroup(std::vector<Pending> &group, const RedisResult &result);
    Result resultOf(const RedisReply &reply, const IntakeBatch &batch);
    Result spool(const IntakeBatch &batch);
    void drainSpool();
    void drainNext();
    /// Moves the lines of spools in the same directory whose process is gone (their lock is
    /// free) into this one, then removes them: whichever process runs drains them all.
    void adoptOrphanSpools();
    void rememberSpooled(const IntakeBatch &batch);
    void forgetSpooled(const QByteArray &line);
    void updateDepth();

    QString m_spoolPath;
    RedisKeys m_keys;
    qint64 m_retentionSeconds;
    bool m_journal;
    QPointer<RedisClient> m_redis;
    Spool m_spool;
    bool m_draining = false;
    QTimer m_drainRetry;
    QTimer m_adoptTimer; ///< looks for spools left by processes that died meanwhile
    /// Pending spool lines by dedupe key and by task id (task -> entries), so a duplicate
    /// delivery while Redis is down is recognised and a spooled task has a status.
    QHash<QString, QString> m_spooledDedupe;
    QHash<QString, int> m_spooledTasks;

    std::vector<Pending> m_waiting; ///< requests for the next group write
    int m_writesInFlight = 0;
    bool m_flushQueued = false;

    MetricCounter &m_spooled;
    MetricCounter &m_drained;
    MetricCounter &m_replayDuplicates;
    MetricGauge &m_spoolDepth;
    MetricGauge &m_redisUp;
};

} // namespace sluice
