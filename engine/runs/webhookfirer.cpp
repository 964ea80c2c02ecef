#include "webhookfirer.h"

#include <QPointer>
#include <QSslSocket>
#include <QTcpSocket>
#include <QTimer>

#include <algorithm>
#include <cmath>

namespace sluice {

std::optional<QString> FireOptions::problem() const
{
    const QString scheme = target.scheme();
    if (!target.isValid() || target.host().isEmpty()
        || (scheme != QLatin1String("http") && scheme != QLatin1String("https"))) {
        return QStringLiteral("target '%1' is not an http:// or https:// URL")
            .arg(target.toDisplayString());
    }
    if (concurrency < 1 || concurrency > 10'000)
        return QStringLiteral("concurrency must be 1..10000, not %1").arg(concurrency);
    if (timeout.count() < 1)
        return QStringLiteral("the request timeout must be positive");
    return std::nullopt;
}

// Named, not anonymous: WebhookFirer::Private holds one, and a unity build includes this file
// (GCC warns about a member whose type has internal linkage in an included file).
namespace webhookfirer {

/// An HTTP/1.1 answer parsed incrementally out of a socket's bytes.
struct ResponseParser
{
    enum class Step { Head, Body, Chunks, UntilClose, Done, Bad };
    Step step = Step::Head;
    QByteArray buffer;
    int status = 0;
    qint64 contentLength = -1;
    bool closeAfter = false;
    QByteArray body;

    void reset() { *this = ResponseParser(); }

    void feed(const QByteArray &bytes)
    {
        buffer.append(bytes);
        for (;;) {
            if (step == Step::Head && !parseHead())
                return;
            if (step == Step::Body) {
                if (buffer.size() < contentLength)
                    return;
                body = buffer.left(contentLength);
                buffer.remove(0, contentLength);
                step = Step::Done;
            }
            if (step == Step::Chunks && !parseChunk())
                return;
            if (step == Step::UntilClose) {
                body.append(buffer);
                buffer.clear();
                return;
            }
            if (step == Step::Done || step == Step::Bad)
                return;
        }
    }

    bool parseHead()
    {
        const qsizetype end = buffer.indexOf("\r\n\r\n");
        if (end < 0)
            return false;
        const QList<QByteArray> lines = buffer.left(end).split('\n');
        buffer.remove(0, end + 4);
        const QList<QByteArray> statusLine = lines.value(0).trimmed().split(' ');
        bool ok = false;
        status = statusLine.value(1).toInt(&ok);
        if (!statusLine.value(0).startsWith("HTTP/1.") || !ok) {
            step = Step::Bad;
            return false;
        }
        bool chunked = false;
        for (qsizetype i = 1; i < lines.size(); ++i) {
            const QByteArray &line = lines.at(i);
            const qsizetype colon = line.indexOf(':');
            if (colon < 0)
                continue;
            const QByteArray name = line.left(colon).trimmed().toLower();
            const QByteArray value = line.mid(colon + 1).trimmed().toLower();
            if (name == "content-length")
                contentLength = value.toLongLong();
            else if (name == "transfer-encoding")
                chunked = value.contains("chunked");
            else if (name == "connection")
                closeAfter = value.contains("close");
        }
        if (statusLine.value(0) == "HTTP/1.0")
            closeAfter = true;
        if (chunked)
            step = Step::Chunks;
        else if (contentLength >= 0)
            step = Step::Body;
        else if (status == 204 || status == 304 || (status >= 100 && status < 200))
            step = Step::Done;
        else
            step = Step::UntilClose;
        return true;
    }

    /// One chunk; true when progress was made.
    bool parseChunk()
    {
        const qsizetype lineEnd = buffer.indexOf("\r\n");
        if (lineEnd < 0)
            return false;
        bool ok = false;
        const qint64 size = buffer.left(lineEnd).split(';').value(0).trimmed().toLongLong(&ok, 16);
        if (!ok || size < 0) {
            step = Step::Bad;
            return false;
        }
        if (size == 0) {
            // Trailers (none expected) end with an empty line.
            const qsizetype end = buffer.indexOf("\r\n\r\n", lineEnd);
            if (end < 0 && buffer.mid(lineEnd, 4) != "\r\n\r\n")
                return false;
            buffer.clear();
            step = Step::Done;
            return true;
        }
        if (buffer.size() < lineEnd + 2 + size + 2)
            return false;
        body.append(buffer.mid(lineEnd + 2, size));
        buffer.remove(0, lineEnd + 2 + size + 2);
        return true;
    }
};

} // namespace webhookfirer

using webhookfirer::ResponseParser;

struct WebhookFirer::Private
{
    struct Connection
    {
        QPointer<QTcpSocket> socket;
        int current = -1; ///< request index on the wire
        bool reused = false; ///< an answer already came over this socket
        bool retried = false; ///< the current request was resent after a stale keep-alive
        bool gotBytes = false;
        ResponseParser parser;
        QElapsedTimer sinceWrite;
        QTimer timeout;
    };

    WebhookFirer *q;
    FireOptions options;
    std::vector<FireRequest> requests;
    std::vector<FireResult> results;
    std::vector<std::unique_ptr<Connection>> connections;
    int next = 0;
    int completed = 0;
    bool started = false;
    bool stopping = false;
    bool finished = false;
    std::optional<QString> stopReason;
    QElapsedTimer clock;
    qint64 finishedAtMs = -1;
    QByteArray head; ///< request line and fixed headers, up to the per-request ones

    void connect(Connection &c);
    void discardSocket(Connection &c) const;
    void sendNext(Connection &c);
    void write(Connection &c);
    void onReadyRead(Connection &c);
    void onDropped(Connection &c, const QString &why);
    void complete(Connection &c, int status, const QString &error, const QByteArray &body);
    void checkFinished();
};

void WebhookFirer::Private::discardSocket(Connection &c) const
{
    if (!c.socket)
        return;
    QTcpSocket *socket = c.socket;
    c.socket.clear();
    socket->disconnect(q);
    socket->abort();
    socket->deleteLater();
}

void WebhookFirer::Private::connect(Connection &c)
{
    discardSocket(c);
    const bool tls = options.target.scheme() == QLatin1String("https");
    QTcpSocket *socket = tls ? new QSslSocket(q) : new QTcpSocket(q);
    c.socket = socket;
    c.reused = false;
    c.parser.reset();
    QObject::connect(socket, &QTcpSocket::readyRead, q, [this, &c, socket] {
        if (c.socket == socket)
            onReadyRead(c);
    });
    QObject::connect(socket, &QAbstractSocket::errorOccurred, q, [this, &c, socket] {
        if (c.socket == socket)
            onDropped(c, socket->errorString());
    });
    QObject::connect(socket, &QAbstractSocket::disconnected, q, [this, &c, socket] {
        if (c.socket == socket)
            onDropped(c, QStringLiteral("the server closed the connection"));
    });
    const quint16 port = quint16(options.target.port(tls ? 443 : 80));
    if (tls) {
        QObject::connect(static_cast<QSslSocket *>(socket), &QSslSocket::encrypted, q,
                         [this, &c, socket] {
                             if (c.socket == socket)
                                 write(c);
                         });
        static_cast<QSslSocket *>(socket)->connectToHostEncrypted(options.target.host(), port);
    } else {
        QObject::connect(socket, &QAbstractSocket::connected, q, [this, &c, socket] {
            if (c.socket == socket)
                write(c);
        });
        socket->connectToHost(options.target.host(), port);
    }
}

void WebhookFirer::Private::sendNext(Connection &c)
{
    c.current = -1;
    if (stopping || next >= int(requests.size())) {
        discardSocket(c);
        checkFinished();
        return;
    }
    c.current = next++;
    c.retried = false;
    results[size_t(c.current)].sent = true;
    if (c.socket && c.socket->state() == QAbstractSocket::ConnectedState
        && (!c.socket->inherits("QSslSocket")
            || static_cast<QSslSocket *>(c.socket.data())->isEncrypted())) {
        write(c);
    } else {
        connect(c);
    }
    c.timeout.start(int(options.timeout.count()));
}

void WebhookFirer::Private::write(Connection &c)
{
    if (c.current < 0)
        return;
    const FireRequest &r = requests[size_t(c.current)];
    QByteArray bytes = head;
    bytes += "Content-Length: " + QByteArray::number(r.body.size()) + "\r\n";
    for (const auto &[name, value] : r.headers)
        bytes += name + ": " + value + "\r\n";
    bytes += "\r\n";
    bytes += r.body;
    c.parser.reset();
    c.gotBytes = false;
    c.sinceWrite.start();
    c.socket->write(bytes);
}

void WebhookFirer::Private::onReadyRead(Connection &c)
{
    const QByteArray bytes = c.socket->readAll();
    if (c.current < 0)
        return; // nothing asked for; ignore
    c.gotBytes = true;
    c.parser.feed(bytes);
    if (c.parser.step == ResponseParser::Step::Bad) {
        complete(c, 0, QStringLiteral("the answer is not HTTP/1.x"), {});
        discardSocket(c);
        sendNext(c);
        return;
    }
    if (c.parser.step != ResponseParser::Step::Done)
        return;
    const bool close = c.parser.closeAfter;
    complete(c, c.parser.status, {}, c.parser.body);
    if (close) {
        discardSocket(c);
    } else {
        c.reused = true;
    }
    sendNext(c);
}

void WebhookFirer::Private::onDropped(Connection &c, const QString &why)
{
    const bool answeredByClose = c.parser.step == ResponseParser::Step::UntilClose;
    discardSocket(c);
    if (c.current < 0)
        return;
    if (answeredByClose) {
        complete(c, c.parser.status, {}, c.parser.body);
    } else if (c.reused && !c.gotBytes && !c.retried) {
        // A keep-alive connection the server closed while idle: send again on a fresh one.
        c.retried = true;
        QTimer::singleShot(0, q, [this, &c, index = c.current] {
            if (c.current == index && !c.socket)
                connect(c);
        });
        return;
    } else {
        complete(c, 0, why, {});
    }
    QTimer::singleShot(0, q, [this, &c] {
        if (c.current < 0)
            sendNext(c);
    });
}

void WebhookFirer::Private::complete(Connection &c, int status, const QString &error,
                                     const QByteArray &body)
{
    c.timeout.stop();
    FireResult &r = results[size_t(c.current)];
    r.status = status;
    r.error = error;
    r.body = body;
    r.latencyUs = c.sinceWrite.isValid() ? c.sinceWrite.nsecsElapsed() / 1000 : 0;
    const int index = c.current;
    c.current = -1;
    ++completed;
    if (options.failFast && !stopping && !r.acknowledged()) {
        stopReason = QStringLiteral("request %1 of %2: %3")
                         .arg(index + 1)
                         .arg(requests.size())
                         .arg(status != 0 ? QStringLiteral("HTTP %1").arg(status) : error);
        stopping = true;
    }
    Q_EMIT q->progress(completed, int(requests.size()));
}

void WebhookFirer::Private::checkFinished()
{
    if (finished)
        return;
    const bool busy = std::any_of(connections.begin(), connections.end(),
                                  [](const auto &c) { return c->current >= 0; });
    if (busy)
        return;
    finished = true;
    finishedAtMs = clock.elapsed();
    QTimer::singleShot(0, q, [this] { Q_EMIT q->finished(); });
}

WebhookFirer::WebhookFirer(FireOptions options, std::vector<FireRequest> requests, QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>())
{
    d->q = this;
    d->options = std::move(options);
    d->requests = std::move(requests);
    d->results.resize(d->requests.size());
}

WebhookFirer::~WebhookFirer()
{
    for (auto &c : d->connections) {
        if (c->socket) {
            c->socket->disconnect(this);
            c->socket->abort();
        }
    }
}

void WebhookFirer::start()
{
    if (d->started)
        return;
    d->started = true;
    d->clock.start();
    const QUrl &t = d->options.target;
    QByteArray path = t.path(QUrl::FullyEncoded).toLatin1();
    if (path.isEmpty())
        path = "/";
    if (t.hasQuery())
        path += '?' + t.query(QUrl::FullyEncoded).toLatin1();
    QByteArray host = t.host(QUrl::FullyEncoded).toLatin1();
    if (t.port() > 0)
        host += ':' + QByteArray::number(t.port());
    d->head = "POST " + path + " HTTP/1.1\r\nHost: " + host
        + "\r\nUser-Agent: sluice/" SLUICE_VERSION "\r\nContent-Type: " + d->options.contentType
        + "\r\n";
    if (auto problem = d->options.problem()) {
        for (FireResult &r : d->results)
            r.error = *problem;
        d->stopReason = *problem;
        d->checkFinished();
        return;
    }
    const int n = std::min<int>(d->options.concurrency, int(d->requests.size()));
    for (int i = 0; i < n; ++i) {
        auto c = std::make_unique<Private::Connection>();
        c->timeout.setSingleShot(true);
        Private::Connection *raw = c.get();
        connect(&c->timeout, &QTimer::timeout, this, [this, raw] {
            if (raw->current < 0)
                return;
            d->complete(*raw, 0,
                        QStringLiteral("no answer within %1 ms").arg(d->options.timeout.count()),
                        {});
            d->discardSocket(*raw);
            d->sendNext(*raw);
        });
        d->connections.push_back(std::move(c));
    }
    if (n == 0) {
        d->checkFinished();
        return;
    }
    for (auto &c : d->connections)
        d->sendNext(*c);
}

void WebhookFirer::stop()
{
    d->stopping = true;
    if (!d->started) {
        d->started = true;
        d->clock.start();
        d->checkFinished();
    }
}

int WebhookFirer::total() const
{
    return int(d->requests.size());
}
int WebhookFirer::completed() const
{
    return d->completed;
}
bool WebhookFirer::isFinished() const
{
    return d->finished;
}
std::optional<QString> WebhookFirer::stopReason() const
{
    return d->stopReason;
}
const std::vector<FireResult> &WebhookFirer::results() const
{
    return d->results;
}

qint64 WebhookFirer::elapsedMs() const
{
    if (d->finishedAtMs >= 0)
        return d->finishedAtMs;
    return d->clock.isValid() ? d->clock.elapsed() : 0;
}

LatencySummary summarizeLatency(const std::vector<FireResult> &results)
{
    std::vector<qint64> latencies;
    latencies.reserve(results.size());
    for (const FireResult &r : results) {
        if (r.status != 0)
            latencies.push_back(r.latencyUs);
    }
    LatencySummary s;
    s.count = int(latencies.size());
    if (latencies.empty())
        return s;
    std::sort(latencies.begin(), latencies.end());
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    auto rank = [&](double p) {
        const auto k = size_t(std::max(1.0, std::ceil(p / 100.0 * double(latencies.size()))));
        return latencies[std::min(k, latencies.size()) - 1];
    };
    s.p50 = rank(50);
    s.p95 = rank(95);
    s.p99 = rank(99);
    s.max = latencies.back();
    return s;
}

} // namespace sluice

#include "moc_webhookfirer.cpp" // NOLINT(bugprone-suspicious-include)
