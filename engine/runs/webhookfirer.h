#pragma once

#include "net/httpserver.h" // HttpHeaders

#include <QByteArray>
#include <QElapsedTimer>
#include <QObject>
#include <QString>
#include <QUrl>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace sluice {

/// One POST to fire: the body and any extra headers (a Close signature, an Idempotency-Key).
struct FireRequest
{
    QByteArray body;
    HttpHeaders headers;
};

/// What came back for one request.
struct FireResult
{
    bool sent = false; ///< false when fail-fast or stop() kept it from going out
    int status = 0; ///< 0 when no HTTP answer came (timeout, refused, reset)
    qint64 latencyUs = 0; ///< from the first byte written to the last byte read
    QString error; ///< why there is no answer ("timed out after 30000 ms", ...)
    QByteArray body; ///< the answer's body (a 202's {"task_id": ...})

    bool acknowledged() const { return status >= 200 && status < 300; }
};

struct FireOptions
{
    QUrl target; ///< http:// or https://, with the path to POST to
    int concurrency = 50; ///< connections, each sending its requests one after the other
    std::chrono::milliseconds timeout { 30'000 }; ///< per request (Heroku's router cut-off)
    bool failFast = false; ///< stop sending at the first timeout, error or non-2xx
    QByteArray contentType = "application/json";

    std::optional<QString> problem() const;
};

/// Posts prepared bodies to one URL over `concurrency` keep-alive HTTP/1.1 connections (TLS
/// for https), the way a crowd of Close webhook deliveries arrives, and records each answer's
/// status and latency. Runs on the thread it lives on; never blocks.
class WebhookFirer : public QObject
{
    Q_OBJECT
public:
    WebhookFirer(FireOptions options, std::vector<FireRequest> requests, QObject *parent = nullptr);
    ~WebhookFirer() override;

    void start();
    /// Sends nothing more; requests on the wire finish (or time out), then finished().
    void stop();

    int total() const;
    int completed() const; ///< answered, failed or timed out
    bool isFinished() const;
    /// Set when fail-fast stopped the run: which request failed and how.
    std::optional<QString> stopReason() const;
    /// Index-aligned with the requests given.
    const std::vector<FireResult> &results() const;
    /// Wall time from start() to the last answer (or now, while running).
    qint64 elapsedMs() const;

Q_SIGNALS:
    void progress(int completed, int total);
    void finished();

private:
    struct Private;
    std::unique_ptr<Private> d;
};

/// Latency percentiles of the answered requests, in microseconds (0 when none).
struct LatencySummary
{
    int count = 0;
    qint64 p50 = 0, p95 = 0, p99 = 0, max = 0;
};
LatencySummary summarizeLatency(const std::vector<FireResult> &results);

} // namespace sluice
