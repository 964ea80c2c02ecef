#pragma once

#include "breaker/circuitbreaker.h"
#include "core/result.h"
#include "dispatcheroptions.h"
#include "limiter/sharedratelimiter.h"
#include "queuedlead.h"
#include "redis/rediserror.h"
#include "rediskeys.h"

#include <QByteArray>
#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace sluice {

class CloseClient;
class InstantlyClient;
class RedisClient;
class SendAudit;
class SharedBreaker;
struct ApiResult;

/// What the console shows of one dispatcher. Counts are this instance's since start().
struct DispatcherSnapshot
{
    QString consumer;
    bool running = false;
    bool paused = false;
    QString pausedReason;
    int inFlight = 0; ///< entries read and not yet settled
    int sending = 0; ///< leads in upstream requests right now
    qint64 requests = 0; ///< upstream requests made for leads
    qint64 succeeded = 0;
    qint64 skipped = 0;
    qint64 failed = 0;
    qint64 dead = 0;
    qint64 retried = 0;
    qint64 rateLimited = 0; ///< 429 answers
    QString lastError;
    qint64 lastErrorMs = 0;
};

/// The services a dispatcher uses; all must outlive it. `close` may be null when no entry
/// needs a Close lookup (such entries then go to the dead letters).
struct DispatcherServices
{
    RedisClient *redis = nullptr; ///< commands and scripts (a separate client blocks on reads)
    /// Sends. Not gated: the dispatcher takes breaker permit and limiter slot itself.
    InstantlyClient *instantly = nullptr;
    CloseClient *close = nullptr;
    SharedRateLimiter *limiter = nullptr;
    SharedBreaker *breaker = nullptr;
    SendAudit *audit = nullptr; ///< optional
    /// Campaign lookups (which may page); should have a gate (UpstreamGate) on its transport.
    /// Null: `instantly` is used, ungated.
    InstantlyClient *lookups = nullptr;
};

/// Delivers the leads of the Redis stream to Instantly, exactly once in effect, as one consumer
/// of the dispatchers group; any number of instances share the work.
///
/// Reads with XREADGROUP BLOCK on a RedisClient of its own (made from the shared client's
/// options), reclaims entries of dead consumers with XAUTOCLAIM, and promotes due retries.
/// Per campaign, leads are coalesced (bulk mode) and sent one batch at a time: the breaker is
/// asked first, then the limiter slot is taken immediately before the request. Every outcome
/// is settled by one Lua script per batch (resources/lua/dispatch_settle.lua): delivered set,
/// progress counters, retry or dead letter, XACK and XDEL together. An entry's XACK decides
/// whether it counts, so a replayed or doubly processed entry is never counted twice, and
/// `skip_if_in_campaign` plus the delivered set make a replayed send a no-op.
///
/// Entries held in memory longer than a third of the claim idle timeout are re-claimed by
/// this consumer (XCLAIM JUSTID) so that a long wait (a 429 storm, an open breaker) is not
/// mistaken for a dead consumer.
///
/// Besides the contract's fields, the progress hash gets `last_error` and `last_error_ms`.
class Dispatcher : public QObject
{
    Q_OBJECT
public:
    Dispatcher(const DispatcherServices &services, DispatcherOptions options,
               QObject *parent = nullptr);
    ~Dispatcher() override;

    /// Creates the consumer group when needed, checks the Redis configuration (warnings only)
    /// and starts reading. Returns why it cannot start (bad options, missing services).
    std::optional<QString> start();
    /// Stops reading; leads not yet sent are handed back (made reclaimable at once), requests
    /// in flight finish and are settled; then stopped() is emitted.
    void stop();
    bool isRunning() const { return m_running; }
    QString consumerName() const { return m_options.consumerName; }
    const DispatcherOptions &options() const { return m_options; }
    const RedisKeys &keys() const { return m_keys; }
    DispatcherSnapshot snapshot() const;

    /// Moves up to `maxCount` dead letters back into the stream (attempt reset, counters
    /// fixed). `done` gets how many were moved.
    void retryDead(int maxCount, std::function<void(Result<int, RedisError>)> done);
    static void retryDead(RedisClient *redis, const RedisKeys &keys, int maxCount,
                          std::function<void(Result<int, RedisError>)> done);

Q_SIGNALS:
    void snapshotChanged(const sluice::DispatcherSnapshot &snapshot);
    /// Redis is configured unsafely (eviction, no persistence): a human should look.
    void warningRaised(const QString &message);
    void stopped();

private:
    struct Work
    {
        QByteArray entryId;
        QueuedLead lead;
        QString campaignId;
        QByteArray member; ///< "<campaign id>|<lower-cased email>"
    };
    struct Batch
    {
        QString campaignId;
        std::vector<Work> items;
        qint64 limiterWaitMs = 0; ///< from asking the limiter to its grant
    };
    using BatchPtr = std::shared_ptr<Batch>;
    /// The upstream request an outcome came from, for the lead journal.
    struct Request
    {
        int number = 0; ///< this lead's attempt number; 0 = no request was made
        int status = 0;
        qint64 latencyMs = 0;
        qint64 waitMs = 0;
        QByteArray breaker;
        int leads = 0;
    };
    struct Settle
    {
        QByteArray entryId;
        QByteArray kind; ///< ok, skip, fail, dead, retry
        QString taskId;
        QByteArray member;
        QString reason;
        qint64 retryAtMs = 0;
        int attempt = 0;
        QString identity; ///< the journal's name for the lead
        QString campaign; ///< campaign name
        Request request;
    };

    void checkRedisConfig();
    void readNext();
    void onEntries(const RedisReply &entries);
    void onEntry(const QByteArray &id, const RedisReply &fields);
    void lookup(Work work);
    void resolveCampaign(Work work);
    void lookUpCampaign(const QString &name, int attempt);
    void campaignResolved(const QString &name, const std::optional<QString> &id,
                          const QString &reason);
    void enqueue(Work work);
    void closeBatch(const QString &campaignId);
    void pump();
    void gate(BatchPtr batch);
    void send(BatchPtr batch, const BreakerDecision &permit, const LimiterGrant &grant);
    void onAnswer(BatchPtr batch, const BreakerDecision &permit, const LimiterGrant &grant,
                  const ApiResult &result, const std::vector<int> &createdIndices);
    Settle transientFailure(const Work &work, const QString &reason) const;
    Settle outcome(const Work &work, const char *kind, const QString &reason = {}) const;
    void settle(std::vector<Settle> records);
    /// Journals a request that settles nothing (a 429 puts its leads back in line).
    void journalAttempt(const Batch &batch, const Request &request, const QString &detail);
    void maintain();
    void handBack(const QList<QByteArray> &ids);
    void forget(const QByteArray &entryId);
    void setPaused(bool paused, const QString &reason);
    void noteError(const QString &message);
    void changed();
    void finishStopIfIdle();

    DispatcherServices m_services;
    DispatcherOptions m_options;
    RedisKeys m_keys;
    RedisClient *m_blocking = nullptr; ///< child; XREADGROUP BLOCK only
    bool m_running = false;
    bool m_stopping = false;
    bool m_reading = false;
    bool m_readHistory = true; ///< first read "0": our own pending entries from a previous run
    bool m_paused = false;
    QString m_pausedReason;
    bool m_acquiring = false; ///< one batch at a time waits for breaker and limiter
    int m_sending = 0;
    QSet<QByteArray> m_known; ///< entry ids held in memory (read, not settled)
    QHash<QString, QString> m_campaignIds; ///< name -> id
    QHash<QString, qint64> m_unknownCampaigns; ///< name -> until when (ms) it is known missing
    QHash<QString, std::vector<Work>> m_awaitingCampaign; ///< by campaign name
    QHash<QString, BatchPtr> m_open; ///< coalescing, by campaign id
    QHash<QString, QTimer *> m_openTimers;
    std::deque<BatchPtr> m_queue; ///< closed batches waiting for their turn
    QByteArray m_claimCursor = "0-0";
    QTimer m_maintenance;
    QElapsedTimer m_sinceHeartbeat;
    DispatcherSnapshot m_snapshot;
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::DispatcherSnapshot)
