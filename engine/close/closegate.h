#pragma once

#include "core/requestgate.h"
#include "limiter/limiteroptions.h"

#include <QByteArray>
#include <QHash>
#include <QString>

#include <utility>

namespace sluice {

class RedisClient;
class SharedRateLimiter;
class UpstreamGate;

/// The gate for the Close API, which limits per endpoint group, per API key and per
/// organisation, and publishes neither the groups nor the numbers. So every route (method and
/// path template, ApiRequest::route) is a group of its own, with its own limiter shared by the
/// fleet through Redis:
/// - `ceiling` (--close-rate) caps each group;
/// - a 429's `rate_reset` makes every instance wait exactly that long for that group, and is
///   no slow-down beyond it (Close says how long; there is nothing to guess);
/// - every answer's `RateLimit` header paces the group, so what is left of its window lasts
///   until the window resets (closePaceGap()).
class CloseGate : public RequestGate
{
    Q_OBJECT
public:
    /// `redis` must outlive the gate. Group limiters live at `keyPrefix` + ":" + route.
    CloseGate(RedisClient *redis, QByteArray keyPrefix, LimiterOptions ceiling,
              QObject *parent = nullptr);
    ~CloseGate() override;

    void admit(const ApiRequest &request, std::function<void(quint64 ticket)> go) override;
    void settle(quint64 ticket, const ApiResult &result) override;
    void release(quint64 ticket) override;

    /// The route a request is limited under: its `route`, else method and path.
    static QString routeOf(const ApiRequest &request);
    /// The limiter of one group (made on first use).
    SharedRateLimiter *limiter(const QString &route);
    /// The instances last seen alive (from the Instantly limiter's count): every group's
    /// Redis-away fallback paces at its ceiling / instances × fallbackShare.
    void setFleetSize(int instances);

private:
    struct Group
    {
        SharedRateLimiter *limiter = nullptr;
        UpstreamGate *gate = nullptr;
    };
    Group &group(const QString &route);

    RedisClient *m_redis;
    QByteArray m_keyPrefix;
    LimiterOptions m_ceiling;
    int m_fleetSize = 0; ///< 0: not counted yet (each limiter uses instancesHint)
    QHash<QString, Group> m_groups;
    QHash<quint64, std::pair<QString, quint64>> m_tickets; ///< ours -> (route, the group's)
    quint64 m_nextTicket = 1;
};

} // namespace sluice
