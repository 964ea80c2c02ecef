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

/// Answers one request, now or later. Copies share one answer; writing to a connection the
/// client has closed meanwhile is a safe no-op (QHttpServerResponder 6.4 crashes there).
/// If the last copy dies unanswered, a 500 goes out so no client waits forever by accident.
class HttpResponder
{
public:
    HttpResponder() = default;
    HttpResponder(QTcpSocket *socket, bool closeAfter, QByteArray unansweredBody);

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

/// QAbstractHttpServer with method-aware routing (405 + Allow for a known path with the wrong
/// method), a request-body limit (413), JSON errors and answers that may come later.
class HttpServer : public QAbstractHttpServer
{
    Q_OBJECT
public:
    using Handler = std::function<void(const HttpRequest &, HttpResponder)>;

    explicit HttpServer(QObject *parent = nullptr);

    /// `pathPattern` is a regular expression matched against the whole path.
    void addRoute(const QByteArray &method, const QString &pathPattern, Handler handler);
    void setMaxBodyBytes(qint64 bytes) { m_maxBodyBytes = bytes; }

    /// The error body this server speaks. Default: {"error": ..., "detail": ...}.
    virtual QByteArray errorBody(int status, const QString &detail) const;
    /// Sends errorBody() with the given status.
    void sendError(HttpResponder &responder, int status, const QString &detail,
                   const HttpHeaders &extraHeaders = {}) const;

protected:
    bool handleRequest(const QHttpServerRequest &request, QTcpSocket *socket) override;
    void missingHandler(const QHttpServerRequest &request, QTcpSocket *socket) override;

private:
    struct Route
    {
        QByteArray method;
        QRegularExpression pattern;
        Handler handler;
    };
    std::vector<Route> m_routes;
    qint64 m_maxBodyBytes = 1 << 20;
    QByteArray m_unansweredBody; ///< errorBody(500, ...), made once on the first request
};

} // namespace sluice
