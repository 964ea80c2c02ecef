#pragma once

#include "core/apicall.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QUrl>
#include <QUrlQuery>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>

class QNetworkAccessManager;
class QNetworkReply;

namespace sluice {

class RequestGate;

/// The HTTP plumbing both API clients share: base URL, authorization, per-request deadline,
/// User-Agent, latency measurement and classification into CallOutcome. Asynchronous on the
/// owner's event loop; a callback is never called after the transport is destroyed.
class ApiTransport : public QObject
{
    Q_OBJECT
public:
    ApiTransport(QUrl baseUrl, QByteArray authorization, std::chrono::milliseconds timeout,
                 QObject *parent = nullptr);
    ~ApiTransport() override;

    /// At most this many requests are on the wire at once (default kDefaultMaxInFlight). One
    /// more waits here, before its gate is asked: a rate-limit slot is taken only when a
    /// connection is free, so the request leaves at once and the cap holds at the wire (Qt
    /// opens at most kConnectionsPerHost connections to a host and queues the rest, which
    /// would leave together later).
    static constexpr int kConnectionsPerHost = 6;
    static constexpr int kDefaultMaxInFlight = 4;
    void setMaxInFlight(int max);
    int maxInFlight() const { return m_maxInFlight; }

    /// Sends the request once a connection is free and the gate (if any) admits it.
    void call(const ApiRequest &request, std::function<void(const ApiResult &)> done);
    /// Every request through this transport waits for `gate` first and reports to it after;
    /// null for none. The gate must live on this thread.
    void setGate(RequestGate *gate);
    RequestGate *gate() const;

    void setTimeout(std::chrono::milliseconds timeout) { m_timeout = timeout; }
    std::chrono::milliseconds timeout() const { return m_timeout; }
    const QUrl &baseUrl() const { return m_baseUrl; }
    /// Requests on the wire.
    int inFlight() const { return m_inFlight; }
    /// Requests waiting for a connection or for their gate.
    int waiting() const { return int(m_waiting.size()) + m_admitting; }

Q_SIGNALS:
    /// Every finished request, for the send audit and the console.
    void requestFinished(const sluice::ApiResult &result);

private:
    struct Waiting
    {
        ApiRequest request;
        std::function<void(const ApiResult &)> done;
    };
    void startWaiting();
    void admitAndSend(Waiting call);
    void send(const ApiRequest &request, std::function<void(const ApiResult &)> done);
    ApiResult classify(QNetworkReply *reply, bool timedOut) const;

    QUrl m_baseUrl;
    QByteArray m_authorization;
    std::chrono::milliseconds m_timeout;
    QNetworkAccessManager *m_manager;
    int m_inFlight = 0;
    int m_admitting = 0; ///< given a connection, waiting for the gate
    int m_maxInFlight = kDefaultMaxInFlight;
    std::deque<Waiting> m_waiting;
    QPointer<RequestGate> m_gate;
};

} // namespace sluice
