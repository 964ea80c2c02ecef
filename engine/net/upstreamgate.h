#pragma once

#include "breaker/circuitbreaker.h"
#include "core/requestgate.h"
#include "limiter/sharedratelimiter.h"

#include <QHash>
#include <QPointer>
#include <QTimer>

#include <deque>
#include <optional>

namespace sluice {

class SendAudit;
class SharedBreaker;

/// The gate for one upstream API: the shared circuit breaker first (while it refuses, the
/// request waits, as the dispatcher's sends do), then a slot from the shared rate limiter,
/// immediately before the request. Results go back to the limiter (429 penalties), the
/// breaker and the send audit. Admissions are taken one at a time, in order, so a queue of
/// callers costs one limiter round trip at a time. `breaker` and `audit` may be null.
class UpstreamGate : public RequestGate
{
    Q_OBJECT
public:
    UpstreamGate(SharedRateLimiter *limiter, SharedBreaker *breaker, SendAudit *audit,
                 QObject *parent = nullptr);
    ~UpstreamGate() override;

    void admit(const ApiRequest &request, std::function<void(quint64 ticket)> go) override;
    void settle(quint64 ticket, const ApiResult &result) override;
    void release(quint64 ticket) override;

    /// admit() for a caller that may change its mind: returns the admission's id for
    /// withdraw().
    quint64 request(std::function<void(quint64 ticket)> go);
    /// Takes back an admission whose `go` has not run: still in line, or held by the open
    /// breaker. False once its limiter slot is being taken (`go` follows) or it has run.
    bool withdraw(quint64 admission);

    /// What an admitted request went through, for the journal: the breaker's state when it
    /// let the request pass, and how long the limiter made it wait.
    struct Pass
    {
        BreakerState breaker = BreakerState::Closed;
        qint64 limiterWaitMs = 0;
    };
    /// The pass of a ticket not yet settled or released.
    std::optional<Pass> pass(quint64 ticket) const;

    /// Requests waiting for admission.
    int waiting() const { return int(m_queue.size()) + (m_busy ? 1 : 0); }

Q_SIGNALS:
    /// The breaker refused the request at the head of the line; it is asked again when its
    /// state changes, and at least every second.
    void held();

private:
    struct Ticket
    {
        BreakerDecision permit;
        LimiterGrant grant;
        qint64 limiterWaitMs = 0;
    };
    struct Admission
    {
        quint64 id = 0;
        std::function<void(quint64)> go;
    };
    void next();
    void acquire();
    void grant(const LimiterGrant &grant, qint64 waitedMs);

    QPointer<SharedRateLimiter> m_limiter;
    QPointer<SharedBreaker> m_breaker;
    QPointer<SendAudit> m_audit;
    std::deque<Admission> m_queue;
    Admission m_current;
    bool m_acquiring = false; ///< the current admission's limiter slot is being taken
    quint64 m_nextAdmission = 1;
    BreakerDecision m_permit;
    bool m_busy = false;
    bool m_holding = false; ///< waiting for the breaker (m_recheck runs)
    QTimer m_recheck;
    QHash<quint64, Ticket> m_tickets;
    quint64 m_nextTicket = 1;
};

} // namespace sluice
