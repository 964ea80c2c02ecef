#include "httpserver.h"

#include "core/jsontext.h"

#include <QHttpServerRequest>
#include <QMetaEnum>
#include <QTcpSocket>

#include <nlohmann/json.hpp>

namespace sluice {

QByteArray HttpRequest::header(QByteArrayView name) const
{
    for (const auto &[key, value] : headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

bool HttpRequest::hasHeader(QByteArrayView name) const
{
    for (const auto &pair : headers) {
        if (pair.first.compare(name, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

QByteArray httpReasonPhrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 431:
        return "Request Header Fields Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Status";
    }
}

struct HttpResponder::State
{
    QPointer<QTcpSocket> socket;
    QPointer<HttpConnection> connection;
    quint64 seq = 0;
    bool closeAfter = false;
    bool answered = false;
    QByteArray unansweredBody;
    std::function<void(int, const QByteArray &)> hook;

    ~State()
    {
        if (!answered && (socket || connection))
            write(500, unansweredBody, QByteArrayLiteral("application/json"), {});
    }

    void write(int status, const QByteArray &body, const QByteArray &contentType,
               const HttpHeaders &extra)
    {
        answered = true;
        if (!socket && !connection)
            return;
        QByteArray out;
        out.reserve(body.size() + 160);
        out += "HTTP/1.1 " + QByteArray::number(status) + ' ' + httpReasonPhrase(status) + "\r\n";
        if (!contentType.isEmpty())
            out += "Content-Type: " + contentType + "\r\n";
        out += "Content-Length: " + QByteArray::number(body.size()) + "\r\n";
        for (const auto &[key, value] : extra)
            out += key + ": " + value + "\r\n";
        if (closeAfter)
            out += "Connection: close\r\n";
        out += "\r\n";
        out += body;
        if (connection) {
            connection->deliver(seq, std::move(out), closeAfter);
            return;
        }
        socket->write(out);
        if (closeAfter)
            socket->disconnectFromHost();
    }
};

HttpResponder::HttpResponder(QTcpSocket *socket, bool closeAfter, QByteArray unansweredBody)
    : m_state(std::make_shared<State>())
{
    m_state->socket = socket;
    m_state->closeAfter = closeAfter;
    m_state->unansweredBody = std::move(unansweredBody);
}

HttpResponder::HttpResponder(HttpConnection *connection, quint64 seq, bool closeAfter,
                             QByteArray unansweredBody)
    : m_state(std::make_shared<State>())
{
    m_state->connection = connection;
    m_state->seq = seq;
    m_state->closeAfter = closeAfter;
    m_state->unansweredBody = std::move(unansweredBody);
}

void HttpResponder::send(int status, const QByteArray &body, const QByteArray &contentType,
                         const HttpHeaders &extraHeaders)
{
    if (!m_state || m_state->answered)
        return;
    m_state->write(status, body, contentType, extraHeaders);
    if (auto hook = std::exchange(m_state->hook, nullptr))
        hook(status, body);
}

void HttpResponder::onAnswered(std::function<void(int, const QByteArray &)> hook)
{
    if (m_state)
        m_state->hook = std::move(hook);
}

void HttpResponder::abortConnection()
{
    if (!m_state || m_state->answered)
        return;
    m_state->answered = true;
    if (m_state->connection)
        m_state->connection->abortConnection();
    else if (m_state->socket)
        m_state->socket->abort();
}

bool HttpResponder::answered() const
{
    return m_state && m_state->answered;
}

bool HttpResponder::connectionOpen() const
{
    if (!m_state)
        return false;
    if (m_state->connection)
        return m_state->connection->isOpen();
    return m_state->socket && m_state->socket->state() == QAbstractSocket::ConnectedState;
}

void HttpRoutes::addRoute(const QByteArray &method, const QString &pathPattern, Handler handler)
{
    QRegularExpression re(QLatin1Char('^') + pathPattern + QLatin1Char('$'));
    Q_ASSERT(re.isValid());
    m_routes.push_back(Route { method, std::move(re), std::move(handler) });
}

QByteArray HttpRoutes::errorBody(int status, const QString &detail) const
{
    nlohmann::json body = {
        { "error", httpReasonPhrase(status).toStdString() },
        { "detail", detail.toStdString() },
    };
    return jsonBytes(body);
}

void HttpRoutes::sendError(HttpResponder &responder, int status, const QString &detail,
                           const HttpHeaders &extraHeaders) const
{
    responder.sendJson(status, errorBody(status, detail), extraHeaders);
}

const QByteArray &HttpRoutes::unansweredBody()
{
    if (m_unansweredBody.isEmpty())
        m_unansweredBody = errorBody(500, QStringLiteral("the handler produced no answer"));
    return m_unansweredBody;
}

void HttpRoutes::dispatch(HttpRequest req, HttpResponder responder)
{
    if (req.body.size() > m_maxBodyBytes) {
        sendError(responder, 413,
                  QStringLiteral("request body is %1 bytes; the limit is %2 bytes")
                      .arg(req.body.size())
                      .arg(m_maxBodyBytes));
        return;
    }

    QByteArrayList allowed;
    for (const Route &route : m_routes) {
        const QRegularExpressionMatch match = route.pattern.match(req.path);
        if (!match.hasMatch())
            continue;
        if (route.method != req.method) {
            if (!allowed.contains(route.method))
                allowed.append(route.method);
            continue;
        }
        req.captures = match.capturedTexts().mid(1);
        route.handler(req, std::move(responder));
        return;
    }
    if (!allowed.isEmpty()) {
        sendError(responder, 405,
                  QStringLiteral("method %1 is not allowed on %2; allowed: %3")
                      .arg(QString::fromLatin1(req.method), req.path,
                           QString::fromLatin1(allowed.join(", "))),
                  { { "Allow", allowed.join(", ") } });
        return;
    }
    sendError(responder, 404, QStringLiteral("no route for %1").arg(req.path));
}

HttpServer::HttpServer(QObject *parent)
    : QAbstractHttpServer(parent)
{ }

bool HttpServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    HttpRequest req;
    const QMetaEnum methods = QMetaEnum::fromType<QHttpServerRequest::Method>();
    req.method = QByteArray(methods.valueToKey(int(request.method()))).toUpper();
    req.path = request.url().path();
    req.query = request.query();
    req.headers = request.headers();
    req.body = request.body();
    req.remoteAddress = request.remoteAddress();

    const bool closeAfter = req.header("connection").compare("close", Qt::CaseInsensitive) == 0;
    HttpResponder responder(socket, closeAfter, unansweredBody());
    dispatch(std::move(req), std::move(responder));
    return true;
}

void HttpServer::missingHandler(const QHttpServerRequest &, QTcpSocket *)
{
    // handleRequest() answers every request itself, so this is never reached.
}

} // namespace sluice

#include "moc_httpserver.cpp" // NOLINT(bugprone-suspicious-include)
