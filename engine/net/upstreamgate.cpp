#include "upstreamgate.h"

#include "breaker/sharedbreaker.h"
#include "limiter/sendaudit.h"
#include "net/apitransport.h"

#include <QElapsedTimer>

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
    request(std::move(go));
}

quint64 UpstreamGate::request(std::function<void(quint64)> go)
{
    const quint64 id = m_nextAdmission++;
    m_queue.push_back({ id, std::move(go) });
    if (!m_busy)
        next();
    return id;
}

bool UpstreamGate::withdraw(quint64 admission)
{
    const auto queued = std::find_if(m_queue.begin(), m_queue.end(),
                                     [admission](const Admission &a) { return a.id == admission; });
    if (queued != m_queue.end()) {
        m_queue.erase(queued);
        return true;
    }
    if (!m_busy || m_current.id != admission || m_acquiring)
        return false;
    // Held by the open breaker: no permit was taken, so there is nothing to give back.
    m_recheck.stop();
    m_holding = false;
    m_current = {};
    next();
    return true;
}

std::optional<UpstreamGate::Pass> UpstreamGate::pass(quint64 ticket) const
{
    const auto it = m_tickets.constFind(ticket);
    if (it == m_tickets.constEnd())
        return std::nullopt;
    return Pass { it->permit.state, it->limiterWaitMs };
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
        grant({}, 0);
        return;
    }
    m_acquiring = true;
    QPointer<UpstreamGate> self(this);
    QElapsedTimer waited;
    waited.start();
    m_limiter->acquire([self, waited](const LimiterGrant &grant) {
        if (self)
            self->grant(grant, waited.elapsed());
    });
}

void UpstreamGate::grant(const LimiterGrant &grant, qint64 waitedMs)
{
    m_acquiring = false;
    const quint64 ticket = m_nextTicket++;
    m_tickets.insert(ticket, { m_permit, grant, waitedMs });
    auto go = std::move(m_current.go);
    m_current = {};
    QPointer<UpstreamGate> self(this);
    go(ticket);
    if (self)
        next();
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

#include "moc_upstreamgate.cpp" // NOLINT(bugprone-suspicious-include)
