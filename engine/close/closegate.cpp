#include "closegate.h"

#include "close/closeratelimit.h"
#include "limiter/sharedratelimiter.h"
#include "net/apitransport.h"
#include "net/upstreamgate.h"

#include <QPointer>

namespace sluice {

CloseGate::CloseGate(RedisClient *redis, QByteArray keyPrefix, LimiterOptions ceiling,
                     QObject *parent)
    : RequestGate(parent)
    , m_redis(redis)
    , m_keyPrefix(std::move(keyPrefix))
    , m_ceiling(std::move(ceiling))
{
    // Close says how long to wait: no AIMD slow-down on top of its rate_reset.
    m_ceiling.minRateFactor = 1.0;
}

CloseGate::~CloseGate() = default;

QString CloseGate::routeOf(const ApiRequest &request)
{
    if (!request.route.isEmpty())
        return request.route;
    return QString::fromLatin1(request.method) + QLatin1Char(' ') + request.path;
}

CloseGate::Group &CloseGate::group(const QString &route)
{
    Group &g = m_groups[route];
    if (!g.limiter) {
        g.limiter = new SharedRateLimiter(m_redis, m_keyPrefix + ':' + route.toUtf8(), m_ceiling,
                                          nullptr, this);
        g.gate = new UpstreamGate(g.limiter, nullptr, nullptr, this);
        if (m_fleetSize > 0)
            g.limiter->setFleetSize(m_fleetSize);
    }
    return g;
}

void CloseGate::setFleetSize(int instances)
{
    m_fleetSize = instances;
    for (const Group &g : std::as_const(m_groups))
        g.limiter->setFleetSize(instances);
}

SharedRateLimiter *CloseGate::limiter(const QString &route)
{
    return group(route).limiter;
}

void CloseGate::admit(const ApiRequest &request, std::function<void(quint64)> go)
{
    const QString route = routeOf(request);
    QPointer<CloseGate> self(this);
    group(route).gate->admit(request, [self, route, go = std::move(go)](quint64 inner) {
        if (!self)
            return;
        const quint64 ticket = self->m_nextTicket++;
        self->m_tickets.insert(ticket, { route, inner });
        go(ticket);
    });
}

void CloseGate::settle(quint64 ticket, const ApiResult &result)
{
    const auto it = m_tickets.constFind(ticket);
    if (it == m_tickets.constEnd())
        return;
    const auto [route, inner] = it.value();
    m_tickets.erase(it);
    Group &g = group(route);
    ApiResult seen = result;
    if (seen.outcome == CallOutcome::RateLimited && !seen.retryAfter)
        seen.retryAfter = closeRateReset(seen.body);
    g.gate->settle(inner, seen);
    if (const auto limit = parseCloseRateLimit(seen.rateLimit))
        g.limiter->pace(closePaceGap(*limit));
}

void CloseGate::release(quint64 ticket)
{
    const auto it = m_tickets.constFind(ticket);
    if (it == m_tickets.constEnd())
        return;
    const auto [route, inner] = it.value();
    m_tickets.erase(it);
    group(route).gate->release(inner);
}

} // namespace sluice

#include "moc_closegate.cpp" // NOLINT(bugprone-suspicious-include)
