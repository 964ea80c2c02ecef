#pragma once

#include "core/result.h"
#include "queue/leadreason.h"
#include "queue/pausecause.h"
#include "redis/rediserror.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"

#include <QObject>
#include <QString>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class RedisClient;
class SharedBreaker;

/// One dead-lettered lead, as the console lists it.
struct DeadLetter
{
    QByteArray entryId;
    QueuedLead lead;
    QString reason;
    LeadReason code = LeadReason::Unknown;
    qint64 deadMs = 0;
};

/// How many dead letters have one reason code, and when the newest of them came.
struct DeadLetterCount
{
    LeadReason code = LeadReason::Unknown;
    qint64 count = 0;
    qint64 newestMs = 0; ///< Unix ms
};

/// The fleet's pause as the control hash holds it, with the plan's last known room.
struct PauseState
{
    std::optional<QString> reason; ///< nullopt: dispatching runs
    PauseCause cause = PauseCause::Operator;
    qint64 sinceMs = 0; ///< Unix ms the pause began; 0 when not paused (or not known)
    qint64 remainingInPlan = -1; ///< Instantly's remaining_in_plan, last seen; -1 unknown
};

/// What an operator does to the whole fleet, through Redis so every instance (and every
/// console) sees it: pause and resume dispatching, force the breaker open or closed (with a
/// reason), and look at and retry the dead letters.
class OperatorControl : public QObject
{
    Q_OBJECT
public:
    /// `breaker` may be nullptr for a caller that never forces it (the command line).
    OperatorControl(RedisClient *redis, RedisKeys keys, SharedBreaker *breaker,
                    QObject *parent = nullptr);

    /// Dispatchers stop taking new leads (in-flight ones finish) until resumed. A blank
    /// reason is refused.
    std::optional<QString> pause(const QString &reason,
                                 std::function<void(std::optional<RedisError>)> done = {});
    void resume(std::function<void(std::optional<RedisError>)> done = {});
    /// The pause reason, or nullopt when dispatching runs.
    void pausedReason(std::function<void(Result<std::optional<QString>, RedisError>)> done);
    /// The pause (reason, cause, since) and the plan's remaining_in_plan, in one read.
    void pauseState(std::function<void(Result<PauseState, RedisError>)> done);

    /// Forces the shared breaker; refused (with why) for a blank reason or no duration.
    std::optional<QString> forceBreakerOpen(const QString &reason,
                                            std::chrono::milliseconds duration);
    std::optional<QString> forceBreakerClosed(const QString &reason,
                                              std::chrono::milliseconds duration);
    void clearBreakerForce(const QString &why);

    /// The newest `count` dead letters, newest first.
    void deadLetters(int count,
                     std::function<void(Result<std::vector<DeadLetter>, RedisError>)> done);
    /// Moves up to `max` dead letters back into the queue; `done` gets how many.
    void retryDeadLetters(int max, std::function<void(Result<int, RedisError>)> done);
    /// Moves one dead letter back into the queue; `done` gets 1, or 0 when it is gone.
    void retryDeadLetter(const QByteArray &entryId,
                         std::function<void(Result<int, RedisError>)> done);

    /// The dead letters per reason code, in allLeadReasons() order, only codes with any.
    /// Counted in Redis by one script, memoised there against the stream's length and last id
    /// (resources/lua/dead_counts.lua): O(1) while nothing changed, never a round trip per
    /// letter.
    void
    deadLetterCounts(std::function<void(Result<std::vector<DeadLetterCount>, RedisError>)> done);
    /// The newest `count` dead letters with one reason code, newest first.
    void
    deadLettersWithReason(LeadReason code, int count,
                          std::function<void(Result<std::vector<DeadLetter>, RedisError>)> done);
    /// Moves up to `max` dead letters with this reason code (oldest first) back into the
    /// queue, and out of their tasks' dead counters; `done` gets how many.
    void retryDeadLettersWithReason(LeadReason code, int max,
                                    std::function<void(Result<int, RedisError>)> done);
    /// Moves these dead letters back into the queue; ids that are gone (or not entry ids)
    /// are skipped. `done` gets how many moved.
    void retryDeadLetters(const std::vector<QByteArray> &entryIds,
                          std::function<void(Result<int, RedisError>)> done);
    /// Refused (returns why) for a blank who or why. Each discarded lead gets a journal event
    /// kind "discarded" with who, when and why, and the entry is kept in a capped stream
    /// RedisKeys::discardedDeadLetters() (nothing is deleted without a trace). Ids that are
    /// gone are skipped; `done` gets how many were discarded.
    std::optional<QString> discardDeadLetters(const std::vector<QByteArray> &entryIds,
                                              const QString &who, const QString &why,
                                              std::function<void(Result<int, RedisError>)> done);

    /// The discarded stream keeps about this many entries (the newest).
    static constexpr int kDiscardedKept = 10'000;

private:
    RedisClient *m_redis;
    RedisKeys m_keys;
    SharedBreaker *m_breaker;
};

} // namespace sluice
