#include "httpfront.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <deque>
#include <optional>

#include <sys/socket.h>

namespace sluice {

namespace http = boost::beast::http;

/// One client connection of the HttpFront: its parser, and the answers it owes in order.
class FrontConnection : public HttpConnection
{
public:
    FrontConnection(HttpFront *front, QTcpSocket *socket)
        : HttpConnection(front)
        , m_front(front)
        , m_socket(socket)
        , m_remote(socket->peerAddress())
    {
        socket->setParent(this);
        m_lastActivity = front->m_clock.elapsed();
        connect(socket, &QTcpSocket::readyRead, this, &FrontConnection::read);
        connect(socket, &QTcpSocket::disconnected, this, &FrontConnection::gone);
        connect(socket, &QTcpSocket::errorOccurred, this, [this] {
            if (m_socket->state() != QAbstractSocket::ConnectedState)
                gone();
        });
    }

    void deliver(quint64 seq, QByteArray wire, bool closeAfter) override
    {
        if (seq < m_firstOwed || seq >= m_firstOwed + m_owed.size())
            return; // the connection was reset meanwhile
        Answer &answer = m_owed[seq - m_firstOwed];
        answer.wire = std::move(wire);
        answer.closeAfter = closeAfter;
        answer.ready = true;
        flush();
    }

    void abortConnection() override
    {
        m_closing = true;
        m_owed.clear();
        m_socket->abort();
    }

    bool isOpen() const override
    {
        return !m_closing && m_socket->state() == QAbstractSocket::ConnectedState;
    }

    /// Closes the connection when it has been idle, or a request has been arriving, too long.
    void checkTimeouts(qint64 now)
    {
        if (m_lingering && now - m_lingerSince > kLingerMs)
            m_socket->abort();
        if (m_closing)
            return;
        const HttpFrontLimits &limits = m_front->m_limits;
        if (holdingBack()) {
            // The client sent its requests in time; it is we who have not read them yet.
        } else if (requestInProgress()) {
            if (now - m_requestStarted > limits.requestTimeout.count())
                refuse(408,
                       QStringLiteral("the request did not arrive whole within %1 ms")
                           .arg(limits.requestTimeout.count()));
        } else if (m_owed.empty() && now - m_lastActivity > limits.idleTimeout.count()) {
            m_closing = true;
            m_socket->disconnectFromHost();
        }
    }

private:
    /// How long a refused client may go on sending what it had started before it is cut off.
    static constexpr qint64 kLingerMs = 5000;

    struct Answer
    {
        QByteArray wire;
        bool closeAfter = false;
        bool ready = false;
    };

    bool requestInProgress() const { return m_parser.has_value() || m_offset < m_in.size(); }

    bool pipelineFull() const
    {
        return m_owed.size() >= size_t(std::max(1, m_front->m_limits.maxPipelined));
    }

    /// Whole or partial requests are buffered but not parsed, because the pipelining bound
    /// holds them back until earlier answers leave. Their request clock starts when parsing
    /// resumes.
    bool holdingBack() const { return !m_parser && m_offset < m_in.size() && pipelineFull(); }

    void read()
    {
        const qint64 now = m_front->m_clock.elapsed();
        m_lastActivity = now;
        if (!requestInProgress())
            m_requestStarted = now;
        if (m_closing) {
            m_socket->readAll(); // after an error or Connection: close, the rest is dropped
            return;
        }
        // Straight into the parse buffer: no QByteArray copied into it.
        const qint64 available = m_socket->bytesAvailable();
        if (available <= 0)
            return;
        const size_t had = m_in.size();
        m_in.resize(had + size_t(available));
        const qint64 got = m_socket->read(m_in.data() + had, available);
        m_in.resize(had + size_t(std::max<qint64>(0, got)));
        parse();
    }

    void parse()
    {
        if (m_parsing)
            return; // a handler answered at once; the loop below goes on by itself
        m_parsing = true;
        const HttpFrontLimits &limits = m_front->m_limits;
        while (!m_closing && m_offset < m_in.size() && !pipelineFull()) {
            if (!m_parser) {
                m_parser.emplace();
                m_parser->header_limit(std::uint32_t(limits.maxHeaderBytes));
                m_parser->body_limit(std::uint64_t(m_front->maxBodyBytes()));
                m_parser->eager(true);
                m_continueSent = false;
                m_requestStarted = m_front->m_clock.elapsed();
            }
            boost::beast::error_code ec;
            const size_t used = m_parser->put(
                boost::asio::const_buffer(m_in.data() + m_offset, m_in.size() - m_offset), ec);
            m_offset += used;
            if (ec == http::error::need_more)
                break;
            if (ec) {
                refuseMalformed(ec);
                break;
            }
            if (m_parser->is_done())
                dispatchParsed();
            else if (used == 0)
                break;
        }
        if (!m_closing && m_parser)
            maybeContinue();
        if (m_offset == m_in.size()) {
            m_in.clear();
            m_offset = 0;
        } else if (m_offset > size_t(64) * 1024) {
            m_in.erase(0, m_offset);
            m_offset = 0;
        }
        m_parsing = false;
    }

    /// curl and others wait for "100 Continue" before a large body: say it once the headers
    /// passed the limits, unless answers are still owed (they must come first).
    void maybeContinue()
    {
        if (m_continueSent || !m_parser->is_header_done() || m_parser->is_done() || !m_owed.empty())
            return;
        const auto expect = m_parser->get()[http::field::expect];
        if (!boost::beast::iequals(expect, "100-continue"))
            return;
        m_continueSent = true;
        m_socket->write("HTTP/1.1 100 Continue\r\n\r\n");
    }

    void dispatchParsed()
    {
        http::request<http::string_body> message = m_parser->release();
        m_parser.reset();

        HttpRequest request;
        request.method
            = QByteArray(message.method_string().data(), qsizetype(message.method_string().size()));
        const std::string_view target(message.target().data(), message.target().size());
        const size_t question = target.find('?');
        const std::string_view path = target.substr(0, question);
        request.path = QUrl::fromPercentEncoding(QByteArray(path.data(), qsizetype(path.size())));
        if (question != std::string_view::npos) {
            const std::string_view query = target.substr(question + 1);
            request.query = QUrlQuery(QString::fromUtf8(query.data(), qsizetype(query.size())));
        }
        request.headers.reserve(8);
        for (const auto &field : message) {
            const auto name = field.name_string();
            const auto value = field.value();
            request.headers.append({ QByteArray(name.data(), qsizetype(name.size())),
                                     QByteArray(value.data(), qsizetype(value.size())) });
        }
        std::string &body = message.body();
        request.body = QByteArray(body.data(), qsizetype(body.size()));
        request.remoteAddress = m_remote;

        const bool closeAfter = !message.keep_alive();
        if (closeAfter)
            m_closing = true; // nothing after this request is read
        const quint64 seq = m_firstOwed + m_owed.size();
        m_owed.emplace_back();
        m_front->dispatch(std::move(request),
                          HttpResponder(this, seq, closeAfter, m_front->unansweredBody()));
    }

    void refuseMalformed(const boost::beast::error_code &ec)
    {
        if (ec == http::error::header_limit) {
            refuse(431,
                   QStringLiteral("the request line and headers exceed the limit of %1 bytes")
                       .arg(m_front->m_limits.maxHeaderBytes));
        } else if (ec == http::error::body_limit) {
            // Beast stops as soon as the declared length is over the limit, before the header
            // counts as done: the field itself says how much was announced.
            const auto declared = m_parser->get()[http::field::content_length];
            refuse(413,
                   !declared.empty()
                       ? QStringLiteral("request body is %1 bytes; the limit is %2 bytes")
                             .arg(QString::fromLatin1(declared.data(), qsizetype(declared.size())))
                             .arg(m_front->maxBodyBytes())
                       : QStringLiteral("request body exceeds the limit of %1 bytes")
                             .arg(m_front->maxBodyBytes()));
        } else {
            refuse(400,
                   QStringLiteral("malformed HTTP request: %1")
                       .arg(QString::fromStdString(ec.message())));
        }
    }

    /// Answers `status` after the answers already owed, then closes: the rest of the input
    /// cannot be trusted to start a new request.
    void refuse(int status, const QString &detail)
    {
        m_front->refusedEarly(status);
        m_parser.reset();
        m_in.clear();
        m_offset = 0;
        const quint64 seq = m_firstOwed + m_owed.size();
        m_owed.emplace_back();
        m_closing = true;
        m_lingerOnClose = true;
        HttpResponder responder(this, seq, true, m_front->unansweredBody());
        m_front->sendError(responder, status, detail);
    }

    void flush()
    {
        while (!m_owed.empty() && m_owed.front().ready) {
            Answer answer = std::move(m_owed.front());
            m_owed.pop_front();
            ++m_firstOwed;
            m_socket->write(answer.wire);
            m_lastActivity = m_front->m_clock.elapsed();
            if (answer.closeAfter) {
                m_closing = true;
                m_owed.clear();
                if (m_lingerOnClose)
                    linger();
                else
                    m_socket->disconnectFromHost();
                return;
            }
        }
        // Requests held back by the pipelining bound may go on now.
        if (!m_closing && m_offset < m_in.size() && !pipelineFull())
            QMetaObject::invokeMethod(this, &FrontConnection::parse, Qt::QueuedConnection);
    }

    /// After a refusal the client may still be sending (a body over the limit, say). Closing
    /// with its bytes unread would reset the connection and could destroy our answer before
    /// the client reads it; so the answer goes out, our side is shut for writing, and what
    /// still comes is read and dropped until the client closes or kLingerMs pass.
    void linger()
    {
        m_lingering = true;
        m_lingerSince = m_front->m_clock.elapsed();
        const auto shutWrite = [this] {
            if (m_socket->bytesToWrite() == 0 && m_socket->socketDescriptor() != -1)
                ::shutdown(int(m_socket->socketDescriptor()), SHUT_WR);
        };
        connect(m_socket, &QTcpSocket::bytesWritten, this, shutWrite);
        m_socket->flush();
        shutWrite();
    }

    void gone()
    {
        if (m_gone)
            return;
        m_gone = true;
        m_closing = true;
        m_owed.clear();
        m_front->m_connections.remove(this);
        deleteLater();
    }

    HttpFront *m_front;
    QTcpSocket *m_socket;
    QHostAddress m_remote;
    std::string m_in;
    size_t m_offset = 0;
    std::optional<http::request_parser<http::string_body>> m_parser;
    std::deque<Answer> m_owed; ///< answers owed, the oldest first
    quint64 m_firstOwed = 0; ///< request number of m_owed.front()
    qint64 m_lastActivity = 0;
    qint64 m_requestStarted = 0;
    bool m_parsing = false;
    bool m_closing = false;
    bool m_continueSent = false;
    bool m_gone = false;
    bool m_lingerOnClose = false; ///< the answer that closes is a refusal
    bool m_lingering = false;
    qint64 m_lingerSince = 0;
};

HttpFront::HttpFront(QObject *parent)
    : QObject(parent)
{
    m_clock.start();
    connect(&m_sweep, &QTimer::timeout, this, &HttpFront::sweep);
}

HttpFront::~HttpFront()
{
    // Deleted here, while the front is whole: a connection's signals are cut before its
    // socket goes, so nothing reaches back in.
    const QSet<FrontConnection *> connections = std::exchange(m_connections, {});
    qDeleteAll(connections);
}

quint16 HttpFront::listen(const QHostAddress &address, quint16 port)
{
    if (!m_server) {
        m_server = new QTcpServer(this);
        connect(m_server, &QTcpServer::newConnection, this, &HttpFront::accept);
    }
    if (!m_server->listen(address, port))
        return 0;
    const qint64 shortest = std::min(m_limits.idleTimeout.count(), m_limits.requestTimeout.count());
    m_sweep.start(int(std::clamp<qint64>(shortest / 4, 20, 1000)));
    return m_server->serverPort();
}

void HttpFront::accept()
{
    while (QTcpSocket *socket = m_server->nextPendingConnection()) {
        if (int(m_connections.size()) >= m_limits.maxConnections) {
            refusedEarly(503);
            const QByteArray body
                = errorBody(503,
                            QStringLiteral("too many open connections (the limit is %1); "
                                           "retry later")
                                .arg(m_limits.maxConnections));
            socket->write("HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
                          "application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
                          "Content-Length: "
                          + QByteArray::number(body.size()) + "\r\n\r\n" + body);
            socket->disconnectFromHost();
            connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
            continue;
        }
        auto *connection = new FrontConnection(this, socket);
        m_connections.insert(connection);
    }
}

void HttpFront::sweep()
{
    const qint64 now = m_clock.elapsed();
    const QList<FrontConnection *> connections = m_connections.values();
    for (FrontConnection *connection : connections)
        connection->checkTimeouts(now);
}

} // namespace sluice

#include "moc_httpfront.cpp" // NOLINT(bugprone-suspicious-include)
