#pragma once

#include "core/result.h"
#include "redis/rediserror.h"

#include <QByteArray>
#include <QMap>
#include <QObject>
#include <QString>

#include <chrono>
#include <functional>

namespace sluice {

class RedisClient;
struct ApiResult;

/// What the audit says about a span of time: proof of the limit, not a promise.
struct AuditSummary
{
    int requests = 0;
    int worst1s = 0; ///< most requests sent in any 1 s window
    int worst60s = 0; ///< most requests sent in any 60 s window
    int rateLimited = 0; ///< 429s served by upstream
    QMap<int, int> byStatus; ///< HTTP status (0: no answer) -> count
    QMap<QString, int> byInstance;
    qint64 firstSentMs = 0;
    qint64 lastSentMs = 0;
};

/// Records every real upstream request in a Redis stream shared by all instances (sent time,
/// endpoint, status, latency, instance), trimmed to a retention window, and computes the
/// worst sliding windows over any span from what was really sent.
class SendAudit : public QObject
{
    Q_OBJECT
public:
    SendAudit(RedisClient *redis, QByteArray streamKey, QString instance,
              std::chrono::milliseconds retention = std::chrono::hours { 24 },
              QObject *parent = nullptr);

    /// Recorded at the time the request left (ApiResult::sentAtMs); `grantedAtMs` (the
    /// limiter grant's time) stands in only for a result that has none.
    void record(const ApiResult &result, qint64 grantedAtMs);
    /// Requests sent in [fromMs, toMs] (Unix ms).
    void summarize(qint64 fromMs, qint64 toMs,
                   std::function<void(Result<AuditSummary, RedisError>)> done);

private:
    RedisClient *m_redis;
    QByteArray m_key;
    QString m_instance;
    std::chrono::milliseconds m_retention;
};

} // namespace sluice
