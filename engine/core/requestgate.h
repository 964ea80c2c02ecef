#pragma once

#include <QObject>

#include <functional>

namespace sluice {

struct ApiRequest;
struct ApiResult;

/// Admission control for upstream requests. An ApiTransport with a gate asks it before every
/// request and tells it every result, so paging, lookups and clean-ups are held to the same
/// rate limit and circuit breaker as deliveries without each caller remembering to.
class RequestGate : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;

    /// Calls `go` (later, on this thread) once a request may be sent; pass its ticket back to
    /// settle() or release(). Admissions are granted in the order asked.
    virtual void admit(const ApiRequest &request, std::function<void(quint64 ticket)> go) = 0;
    /// The result of an admitted request.
    virtual void settle(quint64 ticket, const ApiResult &result) = 0;
    /// An admitted request that was not sent after all.
    virtual void release(quint64 ticket) = 0;
};

} // namespace sluice
