#include "apitransport.h"

#include "core/jsontext.h"
#include "core/requestgate.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

namespace sluice {

using std::chrono::milliseconds;

namespace {

/// A request body that can be read once. Qt's HTTP/1 channel silently sends a request again
/// when the connection closes before the answer (QHttpNetworkConnectionChannel's
/// reconnectAttempts), which for a POST to Instantly means the same leads created twice and a
/// request the limiter never counted. With a body Qt cannot rewind, it reports
/// ContentReSendError instead, and the caller decides: a lead whose answer was lost is listed
/// in its campaign before it is sent again.
class OneShotBody final : public QIODevice
{
public:
    OneShotBody(QByteArray body, QObject *parent)
        : QIODevice(parent)
        , m_body(std::move(body))
    {
        open(QIODevice::ReadOnly);
    }
    bool isSequential() const override { return true; }
    bool reset() override { return false; }
    qint64 bytesAvailable() const override
    {
        return qint64(m_body.size()) - m_read + QIODevice::bytesAvailable();
    }

protected:
    qint64 readData(char *data, qint64 maxSize) override
    {
        const qint64 n = std::min<qint64>(maxSize, qint64(m_body.size()) - m_read);
        if (n <= 0)
            return m_read >= qint64(m_body.size()) ? -1 : 0;
        std::memcpy(data, m_body.constData() + m_read, size_t(n));
        m_read += n;
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QByteArray m_body;
    qint64 m_read = 0;
};

/// The most useful human text in an error body: Instantly's "message", Close's "error", or
/// the start of the raw body.
QString messageFromBody(const QByteArray &body)
{
    try {
        const auto j = parseJsonOrThrow(body);
        if (j.is_object()) {
            for (const char *key : { "message", "error", "detail" }) {
                if (j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty())
                    return QString::fromStdString(j[key].get<std::string>());
            }
            // Close's 429: {"error": {"message": ..., "rate_reset": ...}}
            const auto error = j.find("error");
            if (error != j.end() && error->is_object()) {
                const auto message = error->find("message");
                if (message != error->end() && message->is_string())
                    return QString::fromStdString(message->get<std::string>());
            }
        }
    } catch (const nlohmann::json::exception &) { }
    QString text = QString::fromUtf8(body.left(200)).simplified();
    return text;
}

/// A 2xx body that reports an error: an object with a non-empty "error" or status "error".
bool bodyReportsError(const QByteArray &body)
{
    if (!body.trimmed().startsWith('{'))
        return false;
    try {
        const auto j = parseJsonOrThrow(body);
        if (!j.is_object())
            return false;
        if (j.contains("status") && j["status"] == "error")
            return true;
        return j.contains("error") && j["error"].is_string()
            && !j["error"].get<std::string>().empty();
    } catch (const nlohmann::json::exception &) {
        return false;
    }
}

} // namespace

ApiTransport::ApiTransport(QUrl baseUrl, QByteArray authorization, milliseconds timeout,
                           QObject *parent)
    : QObject(parent)
    , m_baseUrl(std::move(baseUrl))
    , m_authorization(std::move(authorization))
    , m_timeout(timeout)
    , m_manager(new QNetworkAccessManager(this))
{
    qRegisterMetaType<ApiResult>();
}

ApiTransport::~ApiTransport() = default;

void ApiTransport::setGate(RequestGate *gate)
{
    m_gate = gate;
}

RequestGate *ApiTransport::gate() const
{
    return m_gate;
}

void ApiTransport::setMaxInFlight(int max)
{
    m_maxInFlight = std::clamp(max, 1, kConnectionsPerHost);
    startWaiting();
}

void ApiTransport::call(const ApiRequest &request, std::function<void(const ApiResult &)> done)
{
    m_waiting.push_back({ request, std::move(done) });
    startWaiting();
}

void ApiTransport::startWaiting()
{
    while (!m_waiting.empty() && m_inFlight + m_admitting < m_maxInFlight) {
        Waiting next = std::move(m_waiting.front());
        m_waiting.pop_front();
        admitAndSend(std::move(next));
    }
}

void ApiTransport::admitAndSend(Waiting call)
{
    if (!m_gate) {
        send(call.request, std::move(call.done));
        return;
    }
    ++m_admitting;
    QPointer<ApiTransport> self(this);
    QPointer<RequestGate> gate(m_gate);
    const ApiRequest request = call.request;
    m_gate->admit(request, [self, gate, request, done = std::move(call.done)](quint64 ticket) {
        if (!self) {
            if (gate)
                gate->release(ticket);
            return;
        }
        --self->m_admitting;
        self->send(request, [gate, ticket, done](const ApiResult &result) {
            if (gate)
                gate->settle(ticket, result);
            done(result);
        });
    });
}

void ApiTransport::send(const ApiRequest &request, std::function<void(const ApiResult &)> done)
{
    QUrl url = m_baseUrl;
    QString basePath = url.path();
    if (basePath.endsWith(QLatin1Char('/')))
        basePath.chop(1);
    url.setPath(basePath + request.path);
    if (!request.query.isEmpty())
        url.setQuery(request.query);

    QNetworkRequest req(url);
    req.setRawHeader("Authorization", m_authorization);
    req.setRawHeader("Accept", "application/json");
    req.setHeader(QNetworkRequest::UserAgentHeader, QByteArrayLiteral("sluice/" SLUICE_VERSION));
    req.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
    if (!request.jsonBody.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));

    QNetworkReply *reply = nullptr;
    if (request.method == "GET") {
        reply = m_manager->get(req);
    } else if (request.method == "DELETE" && request.jsonBody.isEmpty()) {
        reply = m_manager->deleteResource(req); // no body, so no Content-Type either
    } else {
        // Not idempotent: never sent twice behind our back (see OneShotBody).
        req.setHeader(QNetworkRequest::ContentLengthHeader, request.jsonBody.size());
        req.setAttribute(QNetworkRequest::DoNotBufferUploadDataAttribute, true);
        auto *body = new OneShotBody(request.jsonBody, nullptr);
        reply = m_manager->sendCustomRequest(req, request.method, body);
        body->setParent(reply);
    }
    ++m_inFlight;
    // When it left: Qt says when it wrote the request out; until then, the hand-over.
    auto sentAtMs = std::make_shared<qint64>(QDateTime::currentMSecsSinceEpoch());
    auto written = std::make_shared<bool>(false);
    connect(reply, &QNetworkReply::requestSent, reply, [sentAtMs, written] {
        if (!*written) {
            *written = true;
            *sentAtMs = QDateTime::currentMSecsSinceEpoch();
        }
    });

    const QString endpoint = QString::fromLatin1(request.method) + QLatin1Char(' ') + url.path();
    auto elapsed = std::make_shared<QElapsedTimer>();
    elapsed->start();
    auto timedOut = std::make_shared<bool>(false);
    auto *deadline = new QTimer(reply);
    deadline->setSingleShot(true);
    deadline->setTimerType(Qt::PreciseTimer); // a coarse timer may fire 5% early
    connect(deadline, &QTimer::timeout, reply, [reply, timedOut] {
        *timedOut = true;
        reply->abort();
    });
    deadline->start(m_timeout);

    connect(reply, &QNetworkReply::finished, this,
            [this, reply, endpoint, elapsed, timedOut, sentAtMs, done = std::move(done)] {
                --m_inFlight;
                ApiResult result = classify(reply, *timedOut);
                result.endpoint = endpoint;
                result.latency = milliseconds { elapsed->elapsed() };
                result.sentAtMs = *sentAtMs;
                reply->deleteLater();
                QPointer<ApiTransport> self(this);
                Q_EMIT requestFinished(result);
                done(result);
                if (self) // `done` may have destroyed it
                    self->startWaiting();
            });
}

ApiResult ApiTransport::classify(QNetworkReply *reply, bool timedOut) const
{
    ApiResult result;
    result.timedOut = timedOut;
    result.httpStatus = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    result.rateLimit = reply->rawHeader("RateLimit");
    if (reply->isOpen())
        result.body = reply->readAll();

    if (timedOut) {
        result.outcome = CallOutcome::Transient;
        result.message = QStringLiteral("no answer within %1 ms").arg(m_timeout.count());
        result.httpStatus = 0;
        return result;
    }
    if (result.httpStatus == 0) {
        // No HTTP answer at all: refused, reset, DNS, TLS.
        const auto error = reply->error();
        result.outcome = (error == QNetworkReply::SslHandshakeFailedError
                          || error == QNetworkReply::ProtocolUnknownError)
            ? CallOutcome::Permanent
            : CallOutcome::Transient;
        result.message = error == QNetworkReply::ContentReSendError
            ? QStringLiteral("the connection closed before an answer; the request may have been "
                             "applied and is not sent again blindly")
            : reply->errorString();
        return result;
    }
    const int status = result.httpStatus;
    if (status >= 200 && status < 300) {
        if (bodyReportsError(result.body)) {
            result.outcome = CallOutcome::ErrorInBody;
            result.message = messageFromBody(result.body);
        } else {
            result.outcome = CallOutcome::Success;
        }
        return result;
    }
    result.message = messageFromBody(result.body);
    if (status == 429) {
        result.outcome = CallOutcome::RateLimited;
        result.retryAfter
            = parseRetryAfter(reply->rawHeader("Retry-After"), QDateTime::currentMSecsSinceEpoch());
    } else if (status == 408 || status >= 500) {
        result.outcome = CallOutcome::Transient;
    } else {
        result.outcome = CallOutcome::Permanent;
    }
    return result;
}

} // namespace sluice

#include "moc_apitransport.cpp" // NOLINT(bugprone-suspicious-include)
