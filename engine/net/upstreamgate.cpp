#include "upstreamgate.h"

#include "breaker/sharedbreaker.h"
#include "limiter/sendaudit.h"
#include "net/apitransport.h"

#include <algorithm>

namespace sluice {

using std::chrono::milliseconds;

UpstreamGate::UpstreamGate(SharedRateLimiter *limiter, SharedBreaker *breaker, SendAudit *audit,
                           QObject *parent)
    : RequestGate(parent)
    , m_limiter(limiter)
    , m_breaker(breaker)
    , m_audit(audit)
{
    m_recheck.setSingleShot(true);
    connect(&m_recheck, &QTimer::timeout, this, &UpstreamGate::acquire);
    if (breaker) {
        connect(breaker, &SharedBreaker::stateChanged, this, [this] {
            if (m_holding) {
                m_recheck.stop();
                acquire();
            }
        });
    }
}

UpstreamGate::~UpstreamGate() = default;

void UpstreamGate::admit(const ApiRequest &, std::function<void(quint64)> go)
{
    m_queue.push_back(std::move(go));
    if (!m_busy)
        next();
}

void UpstreamGate::next()
{
    if (m_queue.empty()) {
        m_busy = false;
        return;
    }
    m_busy = true;
    m_current = std::move(m_queue.front());
    m_queue.pop_front();
    acquire();
}

void UpstreamGate::acquire()
{
    m_holding = false;
    m_permit = BreakerDecision {};
    m_permit.permitted = true;
    if (m_breaker) {
        m_permit = m_breaker->allow();
        if (!m_permit.permitted) {
            // Open: ask again when it changes (another instance may close it) or when its wait
            // ends, and at least every second.
            m_holding = true;
            m_recheck.start(
                std::clamp(m_permit.retryAfter, milliseconds { 10 }, milliseconds { 1000 }));
            Q_EMIT held();
            return;
        }
    }
    if (!m_limiter) {
        // No limiter (it was destroyed first, at shutdown): refuse nothing, count nothing.
        const quint64 ticket = m_nextTicket++;
        m_tickets.insert(ticket, { m_permit, {} });
        auto go = std::move(m_current);
        go(ticket);
        next();
        return;
    }
    QPointer<UpstreamGate> self(this);
    m_limiter->acquire([self](const LimiterGrant &grant) {
        if (!self)
            return;
        const quint64 ticket = self->m_nextTicket++;
        self->m_tickets.insert(ticket, { self->m_permit, grant });
        auto go = std::move(self->m_current);
        go(ticket);
        if (self)
            self->next();
    });
}

void UpstreamGate::settle(quint64 ticket, const ApiResult &result)
{
    const auto it = m_tickets.constFind(ticket);
    if (it == m_tickets.constEnd())
        return;
    const Ticket t = it.value();
    m_tickets.erase(it);
    if (m_limiter)
        m_limiter->report(result, t.grant);
    if (m_breaker)
        m_breaker->record(t.permit, result.outcome, result.latency);
    if (m_audit)
        m_audit->record(result, t.grant.grantedAtMs);
}

void UpstreamGate::release(quint64 ticket)
{
    const auto it = m_tickets.constFind(ticket);
    if (it == m_tickets.constEnd())
        return;
    const Ticket t = it.value();
    m_tickets.erase(it);
    // A HALF_OPEN trial permit that was not used goes back (Permanent counts as Ignored, which
    // returns the permit and counts nowhere); the limiter slot is simply spent.
    if (m_breaker && t.permit.permitted)
        m_breaker->record(t.permit, CallOutcome::Permanent, milliseconds { 0 });
}

} // namespace sluice
