#include "redisclient.h"

#include <QCryptographicHash>
#include <QLocalSocket>
#include <QPointer>
#include <QRandomGenerator>
#include <QSslConfiguration>
#include <QSslError>
#include <QSslSocket>
#include <QTcpSocket>

#include <hiredis/hiredis.h>

#include <utility>
#include <vector>

using std::chrono::milliseconds;

namespace sluice {

namespace {

/// The one place where hiredis's error codes and the server's error replies become
/// RedisError kinds. `code` is REDIS_REPLY_ERROR for an error reply, else a REDIS_ERR_* code
/// of the reader.
RedisError mapHiredisError(int code, const QByteArray &text)
{
    if (code == REDIS_REPLY_ERROR)
        return RedisError::fromServerReply(text);
    RedisError error;
    error.kind = RedisError::Kind::Protocol;
    switch (code) {
    case REDIS_ERR_PROTOCOL:
        error.message = QStringLiteral("malformed reply: ") + QString::fromUtf8(text);
        break;
    case REDIS_ERR_OOM:
        error.message = QStringLiteral("out of memory while parsing a reply");
        break;
    default:
        error.message
            = QStringLiteral("reply parser failed (%1): %2").arg(code).arg(QString::fromUtf8(text));
        break;
    }
    return error;
}

/// Copies a hiredis reply into a RedisReply; the caller frees the original.
RedisReply toReply(const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
        return RedisReply::string(QByteArray(r->str, qsizetype(r->len)));
    case REDIS_REPLY_STATUS:
        return RedisReply::status(QByteArray(r->str, qsizetype(r->len)));
    case REDIS_REPLY_ERROR:
        return RedisReply::error(QByteArray(r->str, qsizetype(r->len)));
    case REDIS_REPLY_INTEGER:
        return RedisReply::integer(r->integer);
    case REDIS_REPLY_ARRAY: {
        std::vector<RedisReply> elements;
        elements.reserve(r->elements);
        for (size_t i = 0; i < r->elements; ++i)
            elements.push_back(toReply(r->element[i]));
        return RedisReply::array(std::move(elements));
    }
    default:
        return RedisReply::nil();
    }
}

std::optional<QByteArray> encode(const QList<QByteArray> &argv)
{
    std::vector<const char *> parts;
    std::vector<size_t> lengths;
    parts.reserve(size_t(argv.size()));
    lengths.reserve(size_t(argv.size()));
    for (const QByteArray &arg : argv) {
        parts.push_back(arg.constData());
        lengths.push_back(size_t(arg.size()));
    }
    char *formatted = nullptr;
    const int length
        = redisFormatCommandArgv(&formatted, int(argv.size()), parts.data(), lengths.data());
    if (length < 0 || !formatted)
        return std::nullopt;
    QByteArray wire(formatted, length);
    redisFreeCommand(formatted);
    return wire;
}

RedisError makeError(RedisError::Kind kind, QString message)
{
    RedisError error;
    error.kind = kind;
    error.message = std::move(message);
    return error;
}

QString ms(milliseconds d)
{
    return QString::number(d.count()) + QStringLiteral(" ms");
}

} // namespace

/// hiredis's reply reader for one connection.
class RedisClient::Parser
{
public:
    Parser()
        : m_reader(redisReaderCreate())
    { }
    ~Parser() { redisReaderFree(m_reader); }
    Parser(const Parser &) = delete;
    Parser &operator=(const Parser &) = delete;

    std::optional<RedisError> feed(const QByteArray &bytes)
    {
        if (redisReaderFeed(m_reader, bytes.constData(), size_t(bytes.size())) != REDIS_OK)
            return failure();
        return std::nullopt;
    }

    /// The next complete reply (a server error reply as a RedisError), nullopt when more
    /// bytes are needed, or the reader's own error when the stream is not RESP.
    Result<std::optional<RedisResult>, RedisError> next()
    {
        void *raw = nullptr;
        if (redisReaderGetReply(m_reader, &raw) != REDIS_OK)
            return *failure();
        if (!raw)
            return std::optional<RedisResult> {};
        const auto *reply = static_cast<const redisReply *>(raw);
        std::optional<RedisResult> result;
        if (reply->type == REDIS_REPLY_ERROR)
            result.emplace(
                mapHiredisError(REDIS_REPLY_ERROR, QByteArray(reply->str, qsizetype(reply->len))));
        else
            result.emplace(toReply(reply));
        freeReplyObject(raw);
        return result;
    }

private:
    std::optional<RedisError> failure() const
    {
        return mapHiredisError(m_reader->err, QByteArray(m_reader->errstr));
    }

    redisReader *m_reader;
};

RedisClient::RedisClient(RedisOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
    , m_retryTimer(this) // children, so that moveToThread() takes them along
    , m_connectTimer(this)
    , m_timeoutTimer(this)
{
    m_problem = m_options.problem();
    if (const auto url = RedisUrl::parse(m_options.url)) {
        m_url = *url;
        m_displayUrl = url->toDisplayString();
    } else {
        m_displayUrl = maskRedisUrl(m_options.url);
    }
    m_retryTimer.setSingleShot(true);
    m_connectTimer.setSingleShot(true);
    m_timeoutTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &RedisClient::startAttempt);
    connect(&m_connectTimer, &QTimer::timeout, this, &RedisClient::onConnectTimeout);
    connect(&m_timeoutTimer, &QTimer::timeout, this, &RedisClient::onTimeoutTimer);
}

RedisClient::~RedisClient()
{
    // We may be destroyed from a callback inside one of the socket's signals: the socket
    // must outlive this, so it is unparented and deleted later instead of with us.
    if (m_device)
        m_device->setParent(nullptr);
    closeTransport();
}

QString RedisClient::stateName(State state)
{
    switch (state) {
    case State::Disconnected:
        return QStringLiteral("disconnected");
    case State::Connecting:
        return QStringLiteral("connecting");
    case State::Connected:
        return QStringLiteral("connected");
    case State::Reconnecting:
        return QStringLiteral("reconnecting");
    }
    return {};
}

void RedisClient::connectToServer()
{
    if (m_state != State::Disconnected)
        return;
    if (m_problem) {
        m_lastError = makeError(RedisError::Kind::Usage, *m_problem);
        Q_EMIT errorOccurred(*m_lastError);
        return;
    }
    m_failures = 0;
    m_retryTimer.start(0); // from the event loop, so no callback runs inside this call
    setState(State::Connecting);
}

void RedisClient::disconnectFromServer()
{
    if (m_state == State::Disconnected)
        return;
    closeTransport();
    m_retryTimer.stop();
    m_timeoutTimer.stop();
    std::deque<Pending> inFlight = std::exchange(m_inFlight, {});
    std::deque<Pending> queued = std::exchange(m_queue, {});
    m_failures = 0;
    const QString why = QStringLiteral("disconnected from %1 by request").arg(m_displayUrl);
    for (Pending &p : inFlight)
        if (!p.internal)
            deliverLater(std::move(p.done), makeError(RedisError::Kind::ConnectionLost, why));
    for (Pending &p : queued)
        deliverLater(std::move(p.done), makeError(RedisError::Kind::NotConnected, why));
    setState(State::Disconnected); // last: a slot may delete this client
}

void RedisClient::command(const QList<QByteArray> &argv, RedisCallback done, milliseconds timeout)
{
    if (argv.isEmpty()) {
        deliverLater(std::move(done),
                     makeError(RedisError::Kind::Usage, QStringLiteral("empty command")));
        return;
    }
    switch (m_state) {
    case State::Disconnected:
    case State::Reconnecting: {
        QString why = m_state == State::Disconnected
            ? QStringLiteral("not connected to %1").arg(m_displayUrl)
            : QStringLiteral("not connected to %1, reconnecting").arg(m_displayUrl);
        if (m_lastError)
            why += QStringLiteral(" (") + m_lastError->message + QLatin1Char(')');
        deliverLater(std::move(done), makeError(RedisError::Kind::NotConnected, why));
        return;
    }
    case State::Connecting:
    case State::Connected:
        break;
    }
    std::optional<QByteArray> wire = encode(argv);
    if (!wire) {
        deliverLater(
            std::move(done),
            makeError(RedisError::Kind::Usage, QStringLiteral("could not encode the command")));
        return;
    }
    const milliseconds effective = effectiveTimeout(timeout);
    Pending pending { std::move(done), QDeadlineTimer(effective), effective, std::move(*wire),
                      false };
    if (m_state == State::Connected) {
        send(std::move(pending));
        return;
    }
    if (m_queue.size() >= size_t(m_options.maxQueuedCommands)) {
        deliverLater(std::move(pending.done),
                     makeError(RedisError::Kind::NotConnected,
                               QStringLiteral("not connected to %1 yet and %2 commands are "
                                              "already waiting")
                                   .arg(m_displayUrl)
                                   .arg(m_queue.size())));
        return;
    }
    armTimeout(pending.deadline);
    m_queue.push_back(std::move(pending));
}

QByteArray RedisClient::loadScript(const QString &name, const QByteArray &source)
{
    QByteArray sha = QCryptographicHash::hash(source, QCryptographicHash::Sha1).toHex();
    const auto known = m_scripts.constFind(name);
    if (known != m_scripts.constEnd() && known->sha == sha)
        return sha;
    m_scripts.insert(name, Script { sha, source });
    if (m_state == State::Connected)
        sendScriptLoad(m_scripts.value(name));
    return sha;
}

void RedisClient::sendScriptLoad(const Script &script)
{
    // Internal: its reply is dropped; a failure shows up as NOSCRIPT, which EVALSHA handles.
    send(Pending {
        [](const RedisResult &) {}, QDeadlineTimer(QDeadlineTimer::Forever), milliseconds { 0 },
        *encode({ QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), script.source }), true });
}

void RedisClient::evalScript(const QString &name, const QList<QByteArray> &keys,
                             const QList<QByteArray> &args, RedisCallback done,
                             milliseconds timeout)
{
    const auto it = m_scripts.constFind(name);
    if (it == m_scripts.constEnd()) {
        RedisError error = makeError(
            RedisError::Kind::NoScript,
            QStringLiteral("no script named '%1' was registered with loadScript()").arg(name));
        deliverLater(std::move(done), error);
        return;
    }
    const Script &script = *it; // copied into the callback below
    QList<QByteArray> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv << QByteArrayLiteral("EVALSHA") << script.sha << QByteArray::number(keys.size());
    argv << keys << args;
    // Callbacks run only while this client exists, so capturing `this` is safe.
    command(
        argv,
        [this, argv, script, done = std::move(done), timeout](RedisResult result) {
            if (result.ok() || result.error().kind != RedisError::Kind::NoScript) {
                if (done)
                    done(std::move(result));
                return;
            }
            // The server lost its script cache (restart, SCRIPT FLUSH): load and run again.
            auto loadError = std::make_shared<std::optional<RedisError>>();
            command({ QByteArrayLiteral("SCRIPT"), QByteArrayLiteral("LOAD"), script.source },
                    [loadError](const RedisResult &loaded) {
                        if (!loaded.ok())
                            *loadError = loaded.error();
                    });
            command(
                argv,
                [loadError, done](RedisResult again) {
                    if (!again.ok() && again.error().kind == RedisError::Kind::NoScript
                        && *loadError)
                        again = RedisResult(**loadError);
                    if (done)
                        done(std::move(again));
                },
                timeout);
        },
        timeout);
}

void RedisClient::startAttempt()
{
    if (!m_url || (m_state != State::Connecting && m_state != State::Reconnecting))
        return;
    closeTransport();
    m_parser = std::make_unique<Parser>();
    m_tlsErrors.clear();
    m_connectTimer.start(m_options.connectTimeout);
    const RedisUrl &url = *m_url;

    if (url.transport == RedisUrl::Transport::Unix) {
        auto *socket = new QLocalSocket(this);
        m_device = socket;
        connect(socket, &QLocalSocket::connected, this, &RedisClient::onTransportReady);
        connect(socket, &QLocalSocket::readyRead, this, &RedisClient::onReadyRead);
        connect(socket, &QLocalSocket::errorOccurred, this,
                [this, socket](QLocalSocket::LocalSocketError) {
                    onTransportError(socket->errorString());
                });
        connect(socket, &QLocalSocket::disconnected, this,
                [this] { onTransportError(QStringLiteral("the server closed the connection")); });
        // May report failure synchronously; onTransportError copes, and nothing follows here.
        socket->connectToServer(url.socketPath);
        return;
    }

    QTcpSocket *socket = nullptr;
    if (url.transport == RedisUrl::Transport::Tls) {
        if (!QSslSocket::supportsSsl()) {
            dropConnection(makeError(RedisError::Kind::Tls,
                                     QStringLiteral("cannot connect to %1: this Qt has no TLS "
                                                    "backend")
                                         .arg(m_displayUrl)));
            return;
        }
        auto *ssl = new QSslSocket(this);
        QSslConfiguration config = QSslConfiguration::defaultConfiguration();
        if (!m_options.caFile.isEmpty())
            config.addCaCertificates(m_options.caFile);
        config.setPeerVerifyMode(m_options.tlsVerification == TlsVerification::Full
                                     ? QSslSocket::VerifyPeer
                                     : QSslSocket::VerifyNone);
        ssl->setSslConfiguration(config);
        connect(ssl, &QSslSocket::encrypted, this, &RedisClient::onTransportReady);
        connect(ssl, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            for (const QSslError &e : errors)
                m_tlsErrors.append(e.errorString());
        });
        socket = ssl;
    } else {
        socket = new QTcpSocket(this);
    }
    m_device = socket;
    connect(socket, &QTcpSocket::connected, this, [socket] {
        // Set once connected: QAbstractSocket ignores options while it has no socket.
        socket->setSocketOption(QAbstractSocket::LowDelayOption, 1); // no Nagle delay
        socket->setSocketOption(QAbstractSocket::KeepAliveOption, 1);
    });
    if (url.transport == RedisUrl::Transport::Tcp)
        connect(socket, &QTcpSocket::connected, this, &RedisClient::onTransportReady);
    connect(socket, &QTcpSocket::readyRead, this, &RedisClient::onReadyRead);
    connect(socket, &QTcpSocket::errorOccurred, this,
            [this, socket](QAbstractSocket::SocketError error) {
                if (error == QAbstractSocket::SslHandshakeFailedError)
                    m_tlsErrors.append(socket->errorString());
                onTransportError(socket->errorString());
            });
    connect(socket, &QTcpSocket::disconnected, this,
            [this] { onTransportError(QStringLiteral("the server closed the connection")); });
    if (auto *ssl = qobject_cast<QSslSocket *>(socket))
        ssl->connectToHostEncrypted(url.host, url.port);
    else
        socket->connectToHost(url.host, url.port);
}

void RedisClient::onTransportReady()
{
    m_tlsErrors.clear();
    // AUTH and SELECT go first, pipelined; queued commands wait for their replies, so none
    // of them can run unauthenticated or in the wrong database.
    const RedisUrl &url = *m_url;
    m_handshakeLeft = 0;
    std::vector<QList<QByteArray>> steps;
    if (!url.password.isEmpty()) {
        QList<QByteArray> auth { QByteArrayLiteral("AUTH") };
        if (!url.user.isEmpty())
            auth << url.user.toUtf8();
        auth << url.password.toUtf8();
        steps.push_back(auth);
    }
    if (url.db != 0)
        steps.push_back({ QByteArrayLiteral("SELECT"), QByteArray::number(url.db) });
    if (steps.empty()) {
        onHandshakeDone();
        return;
    }
    for (const QList<QByteArray> &argv : steps) {
        const bool isAuth = argv.front() == "AUTH";
        ++m_handshakeLeft;
        send(Pending { [this, isAuth](const RedisResult &r) { onHandshakeReply(isAuth, r); },
                       QDeadlineTimer(QDeadlineTimer::Forever), milliseconds { 0 }, *encode(argv),
                       true });
    }
}

void RedisClient::onHandshakeReply(bool isAuth, const RedisResult &result)
{
    if (!result.ok()) {
        RedisError error = result.error();
        if (isAuth) {
            error.kind = RedisError::Kind::Auth;
            error.message = QStringLiteral("authentication to %1 refused: %2")
                                .arg(m_displayUrl, error.message);
        } else {
            error.message = QStringLiteral("SELECT %1 on %2 failed: %3")
                                .arg(m_url->db)
                                .arg(m_displayUrl, error.message);
        }
        dropConnection(error);
        return;
    }
    if (--m_handshakeLeft == 0)
        onHandshakeDone();
}

void RedisClient::onHandshakeDone()
{
    m_connectTimer.stop();
    m_failures = 0;
    m_lastError.reset();
    // The registered scripts first, so no EVALSHA after them meets NOSCRIPT (a fresh or
    // restarted server has none; a burst of NOSCRIPTs, each reloading, slowed every reply).
    for (const Script &script : std::as_const(m_scripts))
        sendScriptLoad(script);
    // Queued commands go out first, in order; commands issued by stateChanged slots follow.
    QByteArray batch;
    for (Pending &p : m_queue) {
        batch += p.wire;
        p.wire.clear();
        m_inFlight.push_back(std::move(p));
    }
    m_queue.clear();
    if (!batch.isEmpty())
        m_device->write(batch);
    setState(State::Connected);
}

void RedisClient::send(Pending pending)
{
    m_device->write(pending.wire);
    pending.wire.clear();
    if (!pending.deadline.isForever())
        armTimeout(pending.deadline);
    m_inFlight.push_back(std::move(pending));
}

void RedisClient::onReadyRead()
{
    if (!m_device || !m_parser)
        return;
    if (auto failed = m_parser->feed(m_device->readAll())) {
        dropConnection(*failed);
        return;
    }
    const QPointer<RedisClient> self(this);
    const quint64 generation = m_generation;
    // A callback may issue commands, disconnect or even delete the client: after each one,
    // stop unless this is still the same connection of the same client.
    while (self && generation == m_generation) {
        auto next = m_parser->next();
        if (!next.ok()) {
            dropConnection(next.error());
            return;
        }
        if (!next.value())
            return;
        if (m_inFlight.empty()) {
            dropConnection(makeError(RedisError::Kind::Protocol,
                                     QStringLiteral("%1 sent a reply nobody asked for: %2")
                                         .arg(m_displayUrl,
                                              next.value()->ok() ? next.value()->value().describe()
                                                                 : next.value()->error().message)));
            return;
        }
        Pending pending = std::move(m_inFlight.front());
        m_inFlight.pop_front();
        if (pending.done)
            pending.done(std::move(*next.value()));
    }
}

void RedisClient::onTransportError(const QString &reason)
{
    RedisError error;
    if (!m_tlsErrors.isEmpty()) {
        m_tlsErrors.removeDuplicates();
        QString hint;
        if (m_options.caFile.isEmpty())
            hint = QStringLiteral(" (if a private CA signed the server's certificate, give its "
                                  "PEM file as the Redis CA file)");
        error = makeError(RedisError::Kind::Tls,
                          QStringLiteral("TLS handshake with %1 failed: %2%3")
                              .arg(m_displayUrl, m_tlsErrors.join(QStringLiteral("; ")), hint));
    } else if (m_state == State::Connected) {
        error = makeError(RedisError::Kind::ConnectionLost,
                          QStringLiteral("connection to %1 lost: %2").arg(m_displayUrl, reason));
    } else {
        error = makeError(RedisError::Kind::NotConnected,
                          QStringLiteral("cannot connect to %1: %2").arg(m_displayUrl, reason));
    }
    dropConnection(error);
}

void RedisClient::onConnectTimeout()
{
    const bool reached = m_handshakeLeft > 0;
    dropConnection(makeError(RedisError::Kind::Timeout,
                             reached ? QStringLiteral("%1 did not answer AUTH/SELECT within %2")
                                           .arg(m_displayUrl, ms(m_options.connectTimeout))
                                     : QStringLiteral("cannot connect to %1 within %2")
                                           .arg(m_displayUrl, ms(m_options.connectTimeout))));
}

void RedisClient::onTimeoutTimer()
{
    // Unsent commands that waited too long fail on their own; a sent one that did resets
    // the connection. Every other deadline re-arms the timer.
    std::deque<Pending> expiredQueued;
    std::deque<Pending> remaining;
    for (Pending &p : m_queue)
        (p.deadline.hasExpired() ? expiredQueued : remaining).push_back(std::move(p));
    m_queue = std::move(remaining);

    std::optional<Pending> culprit;
    for (auto it = m_inFlight.begin(); it != m_inFlight.end(); ++it) {
        if (!it->deadline.isForever() && it->deadline.hasExpired()) {
            culprit = std::move(*it);
            m_inFlight.erase(it);
            break;
        }
    }

    m_timeoutAt = QDeadlineTimer(QDeadlineTimer::Forever);
    if (!culprit) {
        for (const Pending &p : m_inFlight)
            if (!p.deadline.isForever())
                armTimeout(p.deadline);
        for (const Pending &p : m_queue)
            armTimeout(p.deadline);
    }

    const QPointer<RedisClient> self(this);
    if (culprit) {
        const QString why = QStringLiteral("no reply from %1 within %2; connection reset")
                                .arg(m_displayUrl, ms(culprit->timeout));
        dropConnection(makeError(RedisError::Kind::Timeout, why), std::move(culprit));
    }
    for (Pending &p : expiredQueued) {
        if (!self)
            return;
        if (p.done)
            p.done(makeError(RedisError::Kind::NotConnected,
                             QStringLiteral("not sent: still connecting to %1").arg(m_displayUrl)));
    }
}

void RedisClient::dropConnection(const RedisError &cause, std::optional<Pending> culprit)
{
    const bool wasConnected = m_state == State::Connected;
    closeTransport();
    m_connectTimer.stop();
    std::deque<Pending> inFlight = std::exchange(m_inFlight, {});
    // Only an attempt holds a queue; after a lost connection it starts empty.
    std::deque<Pending> queued = std::exchange(m_queue, {});
    m_timeoutTimer.stop();
    m_timeoutAt = QDeadlineTimer(QDeadlineTimer::Forever);
    m_lastError = cause;
    if (wasConnected) {
        // The server was fine a moment ago: try again at once, queueing new commands.
        m_failures = 0;
        m_retryTimer.start(0);
    } else {
        ++m_failures;
        m_retryTimer.start(backoffDelay(m_failures, m_options.reconnectBaseDelay,
                                        m_options.reconnectMaxDelay,
                                        QRandomGenerator::global()->generateDouble()));
    }

    // From here on, any signal or callback may delete this client.
    const QPointer<RedisClient> self(this);
    setState(wasConnected ? State::Connecting : State::Reconnecting);
    if (!self)
        return;
    Q_EMIT errorOccurred(cause);
    if (!self)
        return;
    if (culprit && culprit->done) {
        culprit->done(cause);
        if (!self)
            return;
    }
    const RedisError lost = makeError(
        RedisError::Kind::ConnectionLost,
        QStringLiteral("sent, but the connection failed before the reply: ") + cause.message);
    for (Pending &p : inFlight) {
        if (p.internal || !p.done)
            continue;
        p.done(lost);
        if (!self)
            return;
    }
    // Unsent commands keep an Auth or Tls kind: retrying soon will not help them either.
    const bool keepKind = cause.kind == RedisError::Kind::Auth
        || cause.kind == RedisError::Kind::Tls || cause.kind == RedisError::Kind::Usage;
    const RedisError notSent = makeError(keepKind ? cause.kind : RedisError::Kind::NotConnected,
                                         QStringLiteral("not sent: ") + cause.message);
    for (Pending &p : queued) {
        if (!p.done)
            continue;
        p.done(notSent);
        if (!self)
            return;
    }
}

void RedisClient::closeTransport()
{
    ++m_generation;
    m_handshakeLeft = 0;
    m_parser.reset();
    if (!m_device)
        return;
    QIODevice *device = std::exchange(m_device, nullptr);
    device->disconnect(this);
    if (auto *socket = qobject_cast<QAbstractSocket *>(device))
        socket->abort();
    else if (auto *local = qobject_cast<QLocalSocket *>(device))
        local->abort();
    device->deleteLater(); // we may be inside one of its signals
}

void RedisClient::armTimeout(const QDeadlineTimer &deadline)
{
    if (m_timeoutTimer.isActive() && !m_timeoutAt.isForever()
        && m_timeoutAt.deadline() <= deadline.deadline())
        return;
    m_timeoutAt = deadline;
    m_timeoutTimer.start(milliseconds { std::max<qint64>(0, deadline.remainingTime()) });
}

void RedisClient::deliverLater(RedisCallback done, RedisResult result)
{
    if (!done)
        return;
    QMetaObject::invokeMethod(
        this, [done = std::move(done), result = std::move(result)]() { done(result); },
        Qt::QueuedConnection);
}

void RedisClient::setState(State state)
{
    if (m_state == state)
        return;
    m_state = state;
    Q_EMIT stateChanged(state);
}

milliseconds RedisClient::effectiveTimeout(milliseconds timeout) const
{
    return timeout.count() > 0 ? timeout : m_options.commandTimeout;
}

} // namespace sluice

#include "moc_redisclient.cpp" // NOLINT(bugprone-suspicious-include)
