#pragma once

#include <QAbstractHttpServer>
#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QPair>
#include <QPointer>
#include <QRegularExpression>
#include <QStringList>
#include <QUrlQuery>

#include <functional>
#include <memory>
#include <vector>

class QTcpSocket;

namespace sluice {

class HttpConnection;

using HttpHeaders = QList<QPair<QByteArray, QByteArray>>;

/// A request copied out of QHttpServerRequest, so a handler may answer after the Qt request
/// object is gone.
struct HttpRequest
{
    QByteArray method; ///< "GET", "POST", ...
    QString path;
    QUrlQuery query;
    HttpHeaders headers;
    QByteArray body;
    QHostAddress remoteAddress;
    QStringList captures; ///< capture groups of the route's path pattern

    /// Header value by case-insensitive name; empty when absent.
    QByteArray header(QByteArrayView name) const;
    bool hasHeader(QByteArrayView name) const;
};

/// Where the lean front's answers go: a connection that writes them in request order.
class HttpConnection : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
    /// The answer to request number `seq` of this connection, ready to write.
    virtual void deliver(quint64 seq, QByteArray wire, bool closeAfter) = 0;
    virtual void abortConnection() = 0;
    virtual bool isOpen() const = 0;
};

/// Answers one request, now or later. Copies share one answer; writing to a connection the
/// client has closed meanwhile is a safe no-op (QHttpServerResponder 6.4 crashes there).
/// If the last copy dies unanswered, a 500 goes out so no client waits forever by accident.
class HttpResponder
{
public:
    HttpResponder() = default;
    /// Writes straight to `socket` (QHttpServer's connections).
    HttpResponder(QTcpSocket *socket, bool closeAfter, QByteArray unansweredBody);
    /// Hands the answer to `connection` as its request number `seq` (the lean front).
    HttpResponder(HttpConnection *connection, quint64 seq, bool closeAfter,
                  QByteArray unansweredBody);

    void send(int status, const QByteArray &body, const QByteArray &contentType,
              const HttpHeaders &extraHeaders = {});
    void sendJson(int status, const QByteArray &json, const HttpHeaders &extraHeaders = {})
    {
        send(status, json, QByteArrayLiteral("application/json"), extraHeaders);
    }
    /// Gives up on the request without an answer: the connection is closed.
    void abortConnection();

    bool answered() const;
    /// Called once with the status and body when the answer is written (for request logs).
    void onAnswered(std::function<void(int status, const QByteArray &body)> hook);
    /// False once the client has gone away.
    bool connectionOpen() const;

private:
    struct State;
    std::shared_ptr<State> m_state;
};

/// Reason phrase for an HTTP status code ("Too Many Requests").
QByteArray httpReasonPhrase(int status);

/// Method-aware routing (405 + Allow for a known path with the wrong method, 404 for an
/// unknown one), a request-body limit and JSON errors, for either kind of server.
class HttpRoutes
{
public:
    using Handler = std::function<void(const HttpRequest &, HttpResponder)>;

    virtual ~HttpRoutes() = default;

    /// `pathPattern` is a regular expression matched against the whole path.
    void addRoute(const QByteArray &method, const QString &pathPattern, Handler handler);
    void setMaxBodyBytes(qint64 bytes) { m_maxBodyBytes = bytes; }
    qint64 maxBodyBytes() const { return m_maxBodyBytes; }

    /// The error body this server speaks. Default: {"error": ..., "detail": ...}.
    virtual QByteArray errorBody(int status, const QString &detail) const;
    /// Sends errorBody() with the given status.
    void sendError(HttpResponder &responder, int status, const QString &detail,
                   const HttpHeaders &extraHeaders = {}) const;

protected:
    /// Answers `request` by its route (413 first when the body is over the limit).
    void dispatch(HttpRequest request, HttpResponder responder);
    /// errorBody(500, ...), made once: what an unanswered request gets.
    const QByteArray &unansweredBody();

private:
    struct Route
    {
        QByteArray method;
        QRegularExpression pattern;
        Handler handler;
    };
    std::vector<Route> m_routes;
    qint64 m_maxBodyBytes = 1 << 20;
    QByteArray m_unansweredBody;
};

/// HttpRoutes on QAbstractHttpServer (the sandbox, tests): QHttpServer 6.4 reads the whole
/// body before any limit applies and answers in the order handlers finish, so the intake
/// uses the lean HttpFront instead.
class HttpServer : public QAbstractHttpServer, public HttpRoutes
{
    Q_OBJECT
public:
    explicit HttpServer(QObject *parent = nullptr);

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;
};

} // namespace sluice
