#pragma once

#include "queue/leadreason.h"
#include "store/rediskeys.h"

#include <QByteArray>
#include <QObject>
#include <QString>

#include <chrono>
#include <functional>
#include <vector>

namespace sluice {

class RedisClient;

/// How one stream entry ends (or pauses) in dispatch_settle.lua. The Lua side names the same
/// values as constants (KIND_* there); settlementToken() is the one mapping between them.
enum class Settlement {
    Delivered, ///< Instantly created it (or it was confirmed in the campaign)
    Skipped, ///< already delivered: nothing sent
    Failed, ///< failed for good, counted, no dead letter
    Dead, ///< dead letter, with the reason
    Retry, ///< back to the retries zset until its not-before time
    Park, ///< waits for its campaign to appear (parked:<campaign name>)
};

/// The token dispatch_settle.lua reads: "ok", "skip", "fail", "dead", "retry", "park".
QByteArray settlementToken(Settlement kind);

/// The upstream request an outcome came from, for the lead journal.
struct SettledRequest
{
    int number = 0; ///< this lead's attempt number; 0 = no request was made
    int status = 0;
    qint64 latencyMs = 0;
    qint64 waitMs = 0;
    QByteArray breaker;
    int leads = 0;
};

/// One entry's settlement.
struct SettleRecord
{
    QByteArray entryId;
    Settlement kind = Settlement::Failed;
    QString taskId;
    QByteArray member; ///< delivered-set member ("<campaign id>|<email>"), may be empty
    QString reason;
    qint64 retryAtMs = 0;
    int attempt = 0;
    QString identity; ///< the journal's name for the lead; empty: not journalled
    QString campaign; ///< campaign name
    SettledRequest request;
    LeadReason code = LeadReason::Unknown; ///< Dead and Park: why, as a code
    /// Retry: the request may have been applied (a timeout, a 5xx, an unreadable 2xx), so the
    /// campaign is listed for the lead before it is sent again.
    bool uncertain = false;
};

/// Runs dispatch_settle.lua for a dispatcher: the bookkeeping of settled entries (delivered
/// set, progress counters, retry or dead letter, XACK and XDEL) in one atomic step per chunk.
class Settler : public QObject
{
    Q_OBJECT
public:
    /// `retention`: how long the delivered set keeps a member (DispatcherOptions).
    Settler(RedisClient *redis, RedisKeys keys, QByteArray consumer,
            std::chrono::milliseconds retention, QObject *parent = nullptr);

    /// Loads the script on `redis` (once per client).
    static void loadScript(RedisClient *redis);

    /// `done` gets each chunk's records and whether Redis applied them (on failure nothing
    /// happened: the entries stay pending and are reclaimed later). Called once per chunk.
    using Done = std::function<void(const std::vector<SettleRecord> &, const QString &error)>;
    void settle(std::vector<SettleRecord> records, Done done);

private:
    void settleChunk(std::vector<SettleRecord> records, Done done);

    RedisClient *m_redis;
    RedisKeys m_keys;
    QByteArray m_consumer;
    std::chrono::milliseconds m_retention;
};

} // namespace sluice
