#pragma once

#include "core/result.h"

#include <QByteArray>
#include <QString>
#include <QUrlQuery>

#include <chrono>
#include <functional>
#include <optional>

namespace sluice {

/// How an upstream call ended, in the terms the engine acts on.
enum class CallOutcome {
    Success,
    RateLimited, ///< 429: slow down; not the lead's fault
    Transient, ///< 5xx, 408, timeout, refused or dropped connection: try again later
    Permanent, ///< other 4xx, or an answer that cannot be understood: retrying will not help
    ErrorInBody, ///< a 2xx whose body reports an error
};

QString callOutcomeName(CallOutcome outcome);

/// Everything known about one finished upstream request. Never holds a secret.
struct ApiResult
{
    CallOutcome outcome = CallOutcome::Transient;
    int httpStatus = 0; ///< 0 when no HTTP answer arrived
    QByteArray body;
    QString message; ///< the server's message, or what went wrong on the way
    std::optional<std::chrono::milliseconds> retryAfter; ///< from a Retry-After header
    std::chrono::milliseconds latency { 0 };
    /// Unix ms when the request left: when Qt wrote it to the socket (QNetworkReply's
    /// requestSent), else when it was handed to Qt. 0 for a result made without a request.
    qint64 sentAtMs = 0;
    QString endpoint; ///< "POST /api/v2/leads/add" (path only, no query, no host)
    bool timedOut = false;
    /// The raw `RateLimit` header ("limit=20, remaining=19, reset=1"), as Close sends it on
    /// every answer; empty when absent.
    QByteArray rateLimit;

    bool ok() const { return outcome == CallOutcome::Success; }
    /// "POST /api/v2/leads/add: HTTP 429 rate limited: <message>"
    QString describe() const;
};

/// The answer to an API operation: its value or the failed request, and in both cases the
/// request it came from, so a caller that rate-limits or audits its own requests has the
/// status and latency of a success too. `call().endpoint` is empty when the value came
/// without a request (a cache hit). It converts to the plain Result callers mostly want.
template<typename T> class ApiReply : public Result<T, ApiResult>
{
public:
    ApiReply(ApiResult failed)
        : Result<T, ApiResult>(failed)
        , m_call(std::move(failed))
    { }
    ApiReply(T value)
        : Result<T, ApiResult>(std::move(value))
    {
        m_call.outcome = CallOutcome::Success;
    }
    ApiReply(T value, ApiResult call)
        : Result<T, ApiResult>(std::move(value))
        , m_call(std::move(call))
    { }
    const ApiResult &call() const { return m_call; }

private:
    ApiResult m_call;
};

/// Callback of an asynchronous API call.
template<typename T> using ApiCallback = std::function<void(ApiReply<T>)>;

/// One request to make.
struct ApiRequest
{
    QByteArray method; ///< GET, POST, DELETE, ...
    QString path; ///< appended to the base URL's path
    QUrlQuery query;
    QByteArray jsonBody; ///< sent with Content-Type: application/json when not empty
    /// The method and path template ("GET /api/v1/lead/{id}/"): what rate limits are keyed on
    /// when the API limits per endpoint group. Empty: method and path.
    QString route {};
};

/// Parses a Retry-After value: delta-seconds or an HTTP date. nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> parseRetryAfter(const QByteArray &value, qint64 nowUnixMs);

} // namespace sluice
