#pragma once

#include "core/result.h"
#include "redis/rediserror.h"
#include "runs/run.h"
#include "store/rediskeys.h"

#include <QString>
#include <QStringList>

#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class RedisClient;

/// How much history the ledger keeps.
struct RunLedgerOptions
{
    /// At most this many runs are kept: saving one more drops the oldest (by creation time).
    int keepRuns = 500;

    /// Why these options cannot be used, or nullopt.
    std::optional<QString> problem() const;
};

/// Why a ledger call failed. The message is for people and names the run.
struct LedgerError
{
    enum class Kind {
        NotFound, ///< no run with that id
        Unreadable, ///< stored, but not JSON this version understands as a run record
        Invalid, ///< the call itself is wrong (a record without an id); nothing was sent
        Redis, ///< Redis failed; `redis` says how (the write may or may not have happened)
    };

    Kind kind = Kind::Redis;
    QString message;
    std::optional<RedisError> redis; ///< for Kind::Redis

    QString describe() const { return message; }
};

/// What save() did besides storing the record.
struct RunSaveOutcome
{
    /// Runs dropped to stay within RunLedgerOptions::keepRuns, oldest first. It names the
    /// saved run itself when that run is older than everything the ledger keeps.
    QStringList trimmed;
};

/// A page of the ledger, newest first.
struct RunList
{
    std::vector<RunRecord> runs;
    /// Ids whose stored record could not be read (kept out of `runs`, so one bad record does
    /// not hide the others; callers should say so).
    QStringList unreadable;
    int total = 0; ///< runs in the ledger, whatever the limit
};

/// The run ledger: every load-test run's RunRecord, stored in Redis as JSON under
/// RedisKeys::run(id) and indexed by creation time in RedisKeys::runs(), so runs survive
/// restarts and every Sluice instance sees the same history.
///
/// Saving (insert or update) and removing touch the record and its index in one Lua script,
/// so a listing never finds one without the other. Callbacks come from the client's event
/// loop, never from inside the call; they do not refer to the ledger, so it may be destroyed
/// while calls are pending (destroying the RedisClient drops them, as it always does).
class RunLedger
{
public:
    template<typename T> using Callback = std::function<void(Result<T, LedgerError>)>;

    /// `redis` must outlive the ledger. Invalid `options` are a programming error: check
    /// RunLedgerOptions::problem() where they are read.
    RunLedger(RedisClient *redis, RedisKeys keys, RunLedgerOptions options = {});

    /// Stores `record` (replacing an earlier version of the same run) and trims the ledger to
    /// RunLedgerOptions::keepRuns. The record needs an id and its creation time.
    void save(const RunRecord &record, Callback<RunSaveOutcome> done);
    /// The run `id`; Kind::NotFound ("no run 'X'; `sluice runs` lists them") when there is none.
    void load(const QString &id, Callback<RunRecord> done);
    /// The newest `limit` runs, newest first; `limit` <= 0 means all of them.
    void list(int limit, Callback<RunList> done);
    /// Removes the run `id`; Kind::NotFound when there was none.
    void remove(const QString &id, std::function<void(std::optional<LedgerError>)> done);

    const RunLedgerOptions &options() const { return m_options; }

    /// The message for an unknown run id, the same wherever it is reported.
    static QString notFoundMessage(const QString &id);

private:
    RedisClient *m_redis;
    RedisKeys m_keys;
    RunLedgerOptions m_options;
};

} // namespace sluice
