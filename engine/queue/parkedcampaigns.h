#pragma once

#include "store/rediskeys.h"

#include <QObject>
#include <QString>

#include <chrono>
#include <functional>
#include <vector>

namespace sluice {

class CampaignResolver;
class RedisClient;

/// A campaign with leads waiting for it.
struct ParkedCampaign
{
    QString name;
    qint64 leads = 0;
    QString reason; ///< the newest parked lead's reason
    qint64 sinceMs = 0; ///< when its oldest parked lead was parked (Unix ms)
};

/// The leads parked because their campaign does not exist in Instantly (yet): looks for those
/// campaigns again, one instance of the fleet about every minute, and puts their leads back in
/// the queue when one appears (resources/lua/dispatch_unpark.lua).
class ParkedCampaigns : public QObject
{
    Q_OBJECT
public:
    /// `redis` and `resolver` must outlive this.
    ParkedCampaigns(RedisClient *redis, RedisKeys keys, CampaignResolver *resolver,
                    QByteArray instance, bool journal, QObject *parent = nullptr);

    /// Looks for every parked campaign, unless another instance did within `every` (a shared
    /// lock in Redis); `force` looks at once whoever looked last.
    void recheck(std::chrono::milliseconds every, bool force = false);
    /// Moves `name`'s parked leads back into the queue now (the campaign exists); `done`
    /// gets how many moved.
    void unpark(const QString &name, const QString &why, std::function<void(qint64)> done = {});

    /// The parked campaigns with their counts, for the console and `sluice status`.
    static void list(RedisClient *redis, const RedisKeys &keys,
                     std::function<void(std::vector<ParkedCampaign>)> done);

Q_SIGNALS:
    void unparked(const QString &name, qint64 leads);

private:
    void lookFor(const std::vector<QString> &names);

    RedisClient *m_redis;
    RedisKeys m_keys;
    CampaignResolver *m_resolver;
    QByteArray m_instance;
    bool m_journal;
};

} // namespace sluice
