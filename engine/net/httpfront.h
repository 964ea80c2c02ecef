#pragma once

#include "httpserver.h"

#include <QElapsedTimer>
#include <QHostAddress>
#include <QObject>
#include <QSet>
#include <QTimer>

#include <chrono>

class QTcpServer;

namespace sluice {

class FrontConnection;

/// What one connection of the HttpFront may cost before it is refused or closed.
struct HttpFrontLimits
{
    /// Request line and headers together; more is answered 431 and the connection closed.
    qint64 maxHeaderBytes = qint64(16) * 1024;
    /// A connection with no request in progress and no answer owed is closed after this.
    std::chrono::milliseconds idleTimeout { 60'000 };
    /// A request must arrive whole (headers and body) within this of its first byte; a
    /// half-sent one is answered 408 and the connection closed (slow-loris).
    std::chrono::milliseconds requestTimeout { 10'000 };
    /// Open connections at most; one more is answered 503 and closed at once.
    int maxConnections = 512;
    /// Pipelined requests of one connection in flight at most; its further bytes wait in the
    /// socket until answers have gone out.
    int maxPipelined = 64;
};

/// A lean HTTP/1.1 server for the routes where speed matters (the webhook intake).
///
/// Bytes go from a QTcpSocket straight into Boost.Beast's request parser, which enforces the
/// limits as it reads: a declared Content-Length over the body limit is answered 413 as soon
/// as the headers are in, before any of the body is read; headers over their limit get 431.
/// Keep-alive and pipelining are supported and answers always leave in request order, however
/// late an asynchronous handler answers. Idle and half-sent connections time out, and the
/// number of connections is bounded. Routing, 404/405 and JSON errors are HttpRoutes', the
/// same as the QHttpServer-based HttpServer's.
class HttpFront : public QObject, public HttpRoutes
{
    Q_OBJECT
public:
    explicit HttpFront(QObject *parent = nullptr);
    ~HttpFront() override;

    void setLimits(const HttpFrontLimits &limits) { m_limits = limits; }
    const HttpFrontLimits &limits() const { return m_limits; }

    /// The port listened on (a free one for 0), or 0 when the address cannot be bound.
    quint16 listen(const QHostAddress &address, quint16 port);
    /// Connections open now.
    int connectionCount() const { return int(m_connections.size()); }

protected:
    /// A request refused by the front itself, before routing (413, 431, 408, 400, 503).
    virtual void refusedEarly(int status) { Q_UNUSED(status); }

private:
    friend class FrontConnection;
    void accept();
    void sweep();

    HttpFrontLimits m_limits;
    QTcpServer *m_server = nullptr;
    QSet<FrontConnection *> m_connections;
    QTimer m_sweep;
    QElapsedTimer m_clock;
};

} // namespace sluice
