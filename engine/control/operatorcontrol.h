#pragma once

#include "core/result.h"
#include "queue/leadreason.h"
#include "queue/queuedlead.h"
#include "queue/rediskeys.h"
#include "redis/rediserror.h"

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

/// What an operator does to the whole fleet, through Redis so every instance (and every
/// console) sees it: pause and resume dispatching, force the breaker open or closed (with a
/// reason), and look at and retry the dead letters.
class OperatorControl : public QObject
{
    Q_OBJECT
public:
    OperatorControl(RedisClient *redis, RedisKeys keys, SharedBreaker *breaker,
                    QObject *parent = nullptr);

    /// Dispatchers stop taking new leads (in-flight ones finish) until resumed. A blank
    /// reason is refused.
    std::optional<QString> pause(const QString &reason,
                                 std::function<void(std::optional<RedisError>)> done = {});
    void resume(std::function<void(std::optional<RedisError>)> done = {});
    /// The pause reason, or nullopt when dispatching runs.
    void pausedReason(std::function<void(Result<std::optional<QString>, RedisError>)> done);

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

private:
    RedisClient *m_redis;
    RedisKeys m_keys;
    SharedBreaker *m_breaker;
};

} // namespace sluice
