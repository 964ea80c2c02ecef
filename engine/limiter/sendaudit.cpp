#include "sendaudit.h"

#include "core/apicall.h"
#include "core/clock.h"
#include "core/windowstats.h"
#include "redis/redisclient.h"

#include <QPointer>

#include <algorithm>
#include <memory>

namespace sluice {

using std::chrono::milliseconds;

namespace {

constexpr int kPageSize = 5000;

struct Scan
{
    qint64 fromMs = 0;
    qint64 toMs = 0;
    std::vector<milliseconds> sent;
    AuditSummary summary;
    std::function<void(Result<AuditSummary, RedisError>)> done;
};

} // namespace

SendAudit::SendAudit(RedisClient *redis, QByteArray streamKey, QString instance,
                     milliseconds retention, QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_key(std::move(streamKey))
    , m_instance(std::move(instance))
    , m_retention(retention)
{ }

void SendAudit::record(const ApiResult &result, qint64 grantedAtMs)
{
    // What counts against the cap is when a request left, not when its slot was granted: a
    // request that waited for a connection leaves later, perhaps with others.
    const qint64 sentAtMs = result.sentAtMs > 0 ? result.sentAtMs : grantedAtMs;
    // Stream ids are the Redis server's clock, so MINID trims by age across all instances.
    const qint64 oldest = std::max<qint64>(0, wallClockMs() - m_retention.count());
    m_redis->command({ "XADD", m_key, "MINID", "~", QByteArray::number(oldest), "*", "sent",
                       QByteArray::number(sentAtMs), "endpoint", result.endpoint.toUtf8(), "status",
                       QByteArray::number(result.httpStatus), "latency",
                       QByteArray::number(qint64(result.latency.count())), "instance",
                       m_instance.toUtf8() },
                     {});
}

void SendAudit::summarize(qint64 fromMs, qint64 toMs,
                          std::function<void(Result<AuditSummary, RedisError>)> done)
{
    auto scan = std::make_shared<Scan>();
    scan->fromMs = fromMs;
    scan->toMs = toMs;
    scan->done = std::move(done);
    // A request is recorded when it finishes, up to a client timeout after it was sent, so
    // read entries a little beyond the span and filter on the sent time.
    const qint64 slack = 120'000;
    auto page = std::make_shared<std::function<void(QByteArray)>>();
    QPointer<SendAudit> self(this);
    *page = [self, scan, page, toMs, slack](const QByteArray &start) {
        if (!self)
            return;
        self->m_redis->command(
            { "XRANGE", self->m_key, start, QByteArray::number(toMs + slack), "COUNT",
              QByteArray::number(kPageSize) },
            [self, scan, page](RedisResult r) {
                if (!self)
                    return;
                if (!r.ok()) {
                    scan->done(r.error());
                    *page = nullptr; // break the self-reference
                    return;
                }
                const auto &entries = r.value().elements();
                QByteArray lastId;
                for (const RedisReply &entry : entries) {
                    lastId = entry.at(0).bytes();
                    const auto &fields = entry.at(1).elements();
                    qint64 sent = -1;
                    int status = 0;
                    QString instance;
                    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
                        const QByteArray &name = fields[i].bytes();
                        if (name == "sent")
                            sent = fields[i + 1].bytes().toLongLong();
                        else if (name == "status")
                            status = fields[i + 1].bytes().toInt();
                        else if (name == "instance")
                            instance = QString::fromUtf8(fields[i + 1].bytes());
                    }
                    if (sent < scan->fromMs || sent > scan->toMs)
                        continue;
                    scan->sent.emplace_back(sent);
                    AuditSummary &s = scan->summary;
                    ++s.requests;
                    ++s.byStatus[status];
                    ++s.byInstance[instance];
                    s.rateLimited += status == 429 ? 1 : 0;
                    s.firstSentMs = s.firstSentMs == 0 ? sent : std::min(s.firstSentMs, sent);
                    s.lastSentMs = std::max(s.lastSentMs, sent);
                }
                if (int(entries.size()) == kPageSize) {
                    (*page)(QByteArray("(") + lastId); // exclusive start: after the last one
                    return;
                }
                std::sort(scan->sent.begin(), scan->sent.end());
                scan->summary.worst1s = maxInAnyWindow(scan->sent, milliseconds { 1000 });
                scan->summary.worst60s = maxInAnyWindow(scan->sent, milliseconds { 60'000 });
                scan->done(scan->summary);
                *page = nullptr;
            });
    };
    (*page)(QByteArray::number(std::max<qint64>(0, fromMs - slack)));
}

} // namespace sluice

#include "moc_sendaudit.cpp" // NOLINT(bugprone-suspicious-include)
