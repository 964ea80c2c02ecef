#pragma once

#include "closeratelimiter.h"
#include "core/clock.h"
#include "net/httpserver.h"
#include "sandboxoptions.h"
#include "sandboxstore.h"
#include "slidingwindowlimiter.h"

#include <QUrl>

#include <deque>
#include <map>
#include <random>

namespace sluice {

/// One request the sandbox answered (control-API requests are not logged).
struct SandboxLogEntry
{
    quint64 seq = 0;
    qint64 wallTimeMs = 0; ///< when it arrived, Unix ms
    std::chrono::milliseconds arrivedAt { 0 }; ///< when it arrived, sandbox clock (limiter time)
    std::chrono::milliseconds arrivedSteady { 0 }; ///< when it arrived, real monotonic time
    QByteArray method;
    QString path;
    QByteArray userAgent;
    int status = 0; ///< 0: the client left before an answer
    qint64 latencyMs = 0;
    bool admitted = false; ///< counted against the Instantly workspace rate limit
    QString closeGroup; ///< the Close endpoint group, empty for Instantly
};

/// Counters of one Close endpoint group, for /_sandbox/stats.
struct CloseGroupStats
{
    int requests = 0; ///< authenticated requests to the group
    int rateLimited = 0; ///< of which answered 429
};

/// Fake Instantly v2 and Close APIs on loopback: the real paths, fields, limits and error
/// shapes (docs/sandbox-rules.md), Instantly's workspace-wide sliding-window rate limit, Close's
/// per-group, per-key and per-organisation limits, fault injection, a request log and a
/// private control API under /_sandbox/. Runs on the thread it lives in.
class SandboxServer : public HttpServer
{
    Q_OBJECT
public:
    /// `clock` must outlive the server; nullptr uses the steady clock.
    explicit SandboxServer(SandboxOptions options = {}, const Clock *clock = nullptr,
                           QObject *parent = nullptr);
    ~SandboxServer() override;

    /// Binds and listens; port 0 picks a free port. Returns the port, or 0 on failure.
    quint16 start(const QHostAddress &address = QHostAddress::LocalHost, quint16 port = 0);
    QUrl baseUrl() const;

    const SandboxOptions &options() const { return m_options; }
    void setFaults(const FaultOptions &faults);
    void setLimits(int perSecond, int perMinute);
    /// While revoked, Instantly's API answers every request with the key 401 (as Instantly
    /// does for a deleted key); the control API still takes it, so a test can restore it.
    void setInstantlyKeyRevoked(bool revoked);
    bool instantlyKeyRevoked() const { return m_keyRevoked; }

    /// The Close endpoint groups the sandbox serves ("lead_get", "search").
    static QStringList closeEndpointGroups();
    void setCloseLimit(const QString &group, CloseGroupLimit limit);
    CloseGroupLimit closeLimit(const QString &group) const;
    void setCloseFaults(const CloseFaultOptions &faults);
    const CloseFaultOptions &closeFaults() const { return m_options.closeFaults; }
    /// Requests and 429s per Close endpoint group since the start or the last reset.
    const std::map<QString, CloseGroupStats> &closeStats() const { return m_closeStats; }

    /// What POST /_sandbox/reset does: empties the stores, the log, the outages and every rate
    /// limit's history, and puts the workspace rules (blocklist, plan, duplicates) and the Close
    /// limits and faults back to the start options. Instantly's limits and faults stay as set.
    void reset();
    /// Every Instantly request in [now + startIn, now + startIn + duration) gets a 503.
    void addOutage(std::chrono::milliseconds startIn, std::chrono::milliseconds duration);

    SandboxStore &store() { return m_store; }
    const std::deque<SandboxLogEntry> &requestLog() const { return m_log; }
    /// Worst count of admitted requests in any window of this length, over the whole log.
    int worstWindow(std::chrono::milliseconds window) const;

    QByteArray errorBody(int status, const QString &detail) const override;

Q_SIGNALS:
    void requestServed(const sluice::SandboxLogEntry &entry);

private:
    enum class BodyUse { None, Json };

    void
    addInstantlyRoute(const QByteArray &method, const QString &pattern, BodyUse bodyUse,
                      std::function<StoreReply(const HttpRequest &, const nlohmann::json &)> op);
    void serveInstantly(
        const HttpRequest &request, HttpResponder responder, BodyUse bodyUse,
        const std::function<StoreReply(const HttpRequest &, const nlohmann::json &)> &op);
    void
    serveClose(const HttpRequest &request, HttpResponder responder, const QString &group,
               BodyUse bodyUse,
               const std::function<StoreReply(const HttpRequest &, const nlohmann::json &)> &op);
    void addCloseRoutes();
    void addControlRoutes();
    void applyStartRules();
    bool controlAuthorized(const HttpRequest &request, HttpResponder &responder) const;

    SandboxLogEntry &beginLog(const HttpRequest &request);
    void finish(quint64 seq, HttpResponder responder, const StoreReply &reply,
                const HttpHeaders &headers = {});
    void finishAfter(std::chrono::milliseconds delay, quint64 seq, HttpResponder responder,
                     const StoreReply &reply, const HttpHeaders &headers);
    /// Logs an answer that never went out (the connection was closed, or will be).
    void logUnanswered(quint64 seq);
    void finishNow(quint64 seq, HttpResponder responder, const StoreReply &reply,
                   const HttpHeaders &headers);
    bool inOutage(std::chrono::milliseconds now) const;
    nlohmann::json statsJson() const;

    SandboxOptions m_options;
    SteadyClock m_steadyClock;
    const Clock *m_clock;
    SandboxStore m_store;
    SlidingWindowLimiter m_limiter;
    std::mt19937 m_random;
    SandboxOptions m_startOptions; ///< what reset() returns the rules to
    CloseRateLimiter m_closeLimiter;
    std::map<QString, CloseGroupStats> m_closeStats;
    std::vector<std::pair<std::chrono::milliseconds, std::chrono::milliseconds>> m_outages;
    std::deque<SandboxLogEntry> m_log;
    quint64 m_nextSeq = 1;
    quint16 m_port = 0;
    QHostAddress m_address;
    bool m_keyRevoked = false;
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::SandboxLogEntry)
