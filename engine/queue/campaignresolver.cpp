#include "campaignresolver.h"

#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "queue/retrypolicy.h"
#include "redis/redisclient.h"

#include <QPointer>
#include <QRandomGenerator>
#include <QTimer>

namespace sluice {

using std::chrono::milliseconds;

CampaignResolver::CampaignResolver(RedisClient *redis, RedisKeys keys, InstantlyClient *lookups,
                                   const DispatcherOptions &options, QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_keys(std::move(keys))
    , m_lookups(lookups)
    , m_options(options)
{ }

void CampaignResolver::resolve(const QString &name, Done done)
{
    const auto cached = m_ids.constFind(name);
    if (cached != m_ids.constEnd()) {
        done({ cached.value(), {} });
        return;
    }
    if (m_unknown.value(name) > wallClockMs()) {
        done({ std::nullopt, QStringLiteral("campaign '%1' not found in Instantly").arg(name),
               true });
        return;
    }
    auto &waiting = m_waiting[name];
    waiting.push_back(std::move(done));
    if (waiting.size() > 1)
        return; // a lookup is under way
    QPointer<CampaignResolver> self(this);
    const quint64 generation = m_generation;
    m_redis->command({ "HGET", m_keys.campaigns(), name.toUtf8() },
                     [self, name, generation](RedisResult r) {
                         if (!self || generation != self->m_generation)
                             return;
                         if (r.ok() && r.value().isString() && !r.value().bytes().isEmpty()) {
                             self->resolved(name, { QString::fromUtf8(r.value().bytes()), {} });
                             return;
                         }
                         self->lookUp(name, 1);
                     });
}

void CampaignResolver::cancelAll()
{
    ++m_generation;
    const auto waiting = std::exchange(m_waiting, {});
    for (const auto &callers : waiting)
        for (const Done &done : callers)
            done({});
}

void CampaignResolver::forget(const QString &name)
{
    m_ids.remove(name);
    m_unknown.remove(name);
    m_redis->command({ "HDEL", m_keys.campaigns(), name.toUtf8() }, {});
}

void CampaignResolver::lookUp(const QString &name, int attempt)
{
    QPointer<CampaignResolver> self(this);
    const quint64 generation = m_generation;
    m_lookups->findCampaign(
        name, [self, name, attempt, generation](ApiReply<std::optional<Campaign>> r) {
            if (!self || generation != self->m_generation)
                return;
            if (r.ok()) {
                if (r.value())
                    self->resolved(name, { r.value()->id, {} });
                else
                    self->resolved(
                        name,
                        { std::nullopt,
                          QStringLiteral("campaign '%1' not found in Instantly").arg(name), true });
                return;
            }
            const ApiResult &result = r.error();
            Q_EMIT self->errorNoted(
                QStringLiteral("looking up campaign '%1': %2").arg(name, result.describe()));
            if (result.outcome == CallOutcome::Permanent) {
                self->resolved(name,
                               { std::nullopt,
                                 QStringLiteral("looking up campaign '%1' failed: %2")
                                     .arg(name, result.describe()),
                                 false, result.httpStatus });
                return;
            }
            const milliseconds delay = result.outcome == CallOutcome::RateLimited
                ? milliseconds { 0 } // the limiter's shared penalty does the waiting
                : std::max(milliseconds { 10 },
                           retryDelay(attempt, self->m_options.retryBase, self->m_options.retryCap,
                                      0.5 + QRandomGenerator::global()->generateDouble() / 2));
            QTimer::singleShot(delay, self, [self, name, attempt, generation] {
                if (generation == self->m_generation)
                    self->lookUp(name, attempt + 1);
            });
        });
}

void CampaignResolver::resolved(const QString &name, const CampaignAnswer &answer)
{
    const std::vector<Done> waiting = m_waiting.take(name);
    if (answer.id) {
        if (m_ids.value(name) != *answer.id)
            m_redis->command({ "HSET", m_keys.campaigns(), name.toUtf8(), answer.id->toUtf8() },
                             {});
        m_ids.insert(name, *answer.id);
        m_unknown.remove(name);
    } else {
        // Remembered briefly, so a flood of leads for a missing campaign costs one lookup.
        if (answer.missing)
            m_unknown.insert(name, wallClockMs() + 10'000);
        Q_EMIT errorNoted(answer.reason);
    }
    for (const Done &done : waiting)
        done(answer);
}

} // namespace sluice

#include "moc_campaignresolver.cpp" // NOLINT(bugprone-suspicious-include)
