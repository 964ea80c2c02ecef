#pragma once

#include "queue/dispatcheroptions.h"
#include "store/rediskeys.h"

#include <QHash>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class InstantlyClient;
class RedisClient;

/// What a campaign name resolved to.
struct CampaignAnswer
{
    std::optional<QString> id; ///< the Instantly campaign id
    /// Why there is no id ("campaign 'X' not found in Instantly"); empty with no id means the
    /// resolver was cancelled (the dispatcher is stopping).
    QString reason;
    /// No campaign of that name exists (yet), as opposed to a lookup that failed for good.
    bool missing = false;
    int httpStatus = 0; ///< of the lookup that failed for good (401/403: the key)
};

/// Campaign name -> Instantly campaign id, for a dispatcher: a cache in memory, then the
/// fleet's shared hash in Redis, then a search in Instantly (through the lookups client's
/// gate, so every page takes a limiter slot). Callers asking for the same name while a lookup
/// is under way share it; transient failures are retried with backoff; a name found missing is
/// remembered for 10 s so a flood of leads for it costs one lookup.
class CampaignResolver : public QObject
{
    Q_OBJECT
public:
    /// `redis` and `lookups` must outlive the resolver. Options used: retryBase, retryCap.
    CampaignResolver(RedisClient *redis, RedisKeys keys, InstantlyClient *lookups,
                     const DispatcherOptions &options, QObject *parent = nullptr);

    using Done = std::function<void(const CampaignAnswer &)>;
    /// Calls `done` once, perhaps at once.
    void resolve(const QString &name, Done done);
    /// Every waiting caller gets an answer with no id and no reason; lookups under way end
    /// quietly.
    void cancelAll();
    /// Forgets what it knows of `name`, here and in the fleet's shared hash (a send to its
    /// cached id got a 404, or a parked campaign is looked for again): the next resolve()
    /// asks Instantly.
    void forget(const QString &name);

Q_SIGNALS:
    void errorNoted(const QString &message);

private:
    void lookUp(const QString &name, int attempt);
    void resolved(const QString &name, const CampaignAnswer &answer);

    RedisClient *m_redis;
    RedisKeys m_keys;
    InstantlyClient *m_lookups;
    DispatcherOptions m_options;
    QHash<QString, QString> m_ids; ///< name -> id
    QHash<QString, qint64> m_unknown; ///< name -> until when (Unix ms) it is known missing
    QHash<QString, std::vector<Done>> m_waiting; ///< by name
    quint64 m_generation = 0; ///< bumped by cancelAll(): older lookups end quietly
};

} // namespace sluice
