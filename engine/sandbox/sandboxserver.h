#pragma once

#include "core/clock.h"
#include "net/httpserver.h"
#include "sandboxoptions.h"
#include "sandboxstore.h"
#include "slidingwindowlimiter.h"

#include <QUrl>

#include <deque>
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
    bool admitted = false; ///< counted against the workspace rate limit
};

/// Fake Instantly v2 and Close APIs on loopback: the real paths, fields, limits and error
/// shapes (DESIGN.md §5), a workspace-wide sliding-window rate limit, fault injection, a
/// request log and a private control API under /_sandbox/. Runs on the thread it lives in.
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
    void serveClose(const HttpRequest &request, HttpResponder responder);
    void addControlRoutes();
    bool controlAuthorized(const HttpRequest &request, HttpResponder &responder) const;

    SandboxLogEntry &beginLog(const HttpRequest &request);
    void finish(quint64 seq, HttpResponder responder, const StoreReply &reply,
                const HttpHeaders &headers = {});
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
    std::vector<std::pair<std::chrono::milliseconds, std::chrono::milliseconds>> m_outages;
    std::deque<SandboxLogEntry> m_log;
    quint64 m_nextSeq = 1;
    quint16 m_port = 0;
    QHostAddress m_address;
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::SandboxLogEntry)
