#include "parkedcampaigns.h"

#include "queue/campaignresolver.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QLoggingCategory>
#include <QPointer>

#include <memory>

namespace sluice {

Q_LOGGING_CATEGORY(lcParked, "sluice.dispatcher")

namespace {

const QString kUnpark = QStringLiteral("dispatch_unpark");
/// Entries moved per script call: a call holds Redis about a millisecond.
constexpr int kUnparkChunk = 500;

} // namespace

ParkedCampaigns::ParkedCampaigns(RedisClient *redis, RedisKeys keys, CampaignResolver *resolver,
                                 QByteArray instance, bool journal, QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_keys(std::move(keys))
    , m_resolver(resolver)
    , m_instance(std::move(instance))
    , m_journal(journal)
{
    m_redis->loadScript(kUnpark, bundledLuaScript(kUnpark));
}

void ParkedCampaigns::recheck(std::chrono::milliseconds every, bool force)
{
    QPointer<ParkedCampaigns> self(this);
    auto look = [self] {
        if (!self)
            return;
        self->m_redis->command({ "SMEMBERS", self->m_keys.parked() }, [self](RedisResult r) {
            if (!self || !r.ok())
                return;
            std::vector<QString> names;
            for (const RedisReply &name : r.value().elements())
                names.push_back(QString::fromUtf8(name.bytes()));
            self->lookFor(names);
        });
    };
    if (force) {
        m_redis->command({ "SET", m_keys.parkedCheck(), m_instance, "PX",
                           QByteArray::number(qint64(every.count())) },
                         {});
        look();
        return;
    }
    // One lookup per parked campaign for the whole fleet each period, not one per instance.
    m_redis->command({ "SET", m_keys.parkedCheck(), m_instance, "NX", "PX",
                       QByteArray::number(qint64(every.count())) },
                     [look](RedisResult r) {
                         if (r.ok() && r.value().isStatus()) // OK: this instance looks; nil: not
                             look();
                     });
}

void ParkedCampaigns::lookFor(const std::vector<QString> &names)
{
    QPointer<ParkedCampaigns> self(this);
    for (const QString &name : names) {
        m_resolver->forget(name);
        m_resolver->resolve(name, [self, name](const CampaignAnswer &answer) {
            if (self && answer.id)
                self->unpark(name, QStringLiteral("campaign '%1' found in Instantly").arg(name));
        });
    }
}

void ParkedCampaigns::unpark(const QString &name, const QString &why,
                             std::function<void(qint64)> done)
{
    auto moved = std::make_shared<qint64>(0);
    auto step = std::make_shared<std::function<void()>>();
    QPointer<ParkedCampaigns> self(this);
    *step = [self, name, why, moved, step, done] {
        if (!self)
            return;
        self->m_redis->evalScript(kUnpark, { self->m_keys.leads() },
                                  { self->m_keys.prefix, name.toUtf8(), why.toUtf8(),
                                    QByteArray::number(kUnparkChunk), self->m_journal ? "1" : "0" },
                                  [self, name, moved, step, done](RedisResult r) {
                                      const qint64 n = r.ok() ? r.value().integer() : 0;
                                      *moved += n;
                                      if (self && n > 0) {
                                          (*step)();
                                          return;
                                      }
                                      if (self && *moved > 0) {
                                          qCInfo(lcParked).noquote()
                                              << "campaign" << name << "found:" << *moved
                                              << "parked leads back in the queue";
                                          Q_EMIT self->unparked(name, *moved);
                                      }
                                      if (done)
                                          done(*moved);
                                      *step = nullptr; // breaks the cycle of the shared pointer
                                  });
    };
    (*step)();
}

void ParkedCampaigns::list(RedisClient *redis, const RedisKeys &keys,
                           std::function<void(std::vector<ParkedCampaign>)> done)
{
    redis->command({ "SMEMBERS", keys.parked() }, [redis, keys, done](RedisResult r) {
        if (!r.ok() || r.value().elements().empty()) {
            done({});
            return;
        }
        struct Join
        {
            std::vector<ParkedCampaign> out;
            size_t pending = 0;
        };
        auto join = std::make_shared<Join>();
        for (const RedisReply &name : r.value().elements())
            join->out.push_back({ QString::fromUtf8(name.bytes()), 0, {}, 0 });
        join->pending = join->out.size();
        for (size_t i = 0; i < join->out.size(); ++i) {
            const QByteArray key = keys.parkedLeads(join->out[i].name);
            // Its length, its oldest entry's time (the id) and its newest reason.
            redis->command({ "XLEN", key }, [join, i](RedisResult len) {
                if (len.ok())
                    join->out[i].leads = len.value().integer();
            });
            redis->command({ "XRANGE", key, "-", "+", "COUNT", "1" }, [join, i](RedisResult first) {
                if (first.ok() && !first.value().elements().empty())
                    join->out[i].sinceMs
                        = first.value().at(0).at(0).bytes().split('-').value(0).toLongLong();
            });
            redis->command(
                { "XREVRANGE", key, "+", "-", "COUNT", "1" }, [join, i, done](RedisResult last) {
                    if (last.ok() && !last.value().elements().empty()) {
                        const RedisReply &fields = last.value().at(0).at(1);
                        for (size_t f = 0; f + 1 < fields.elements().size(); f += 2)
                            if (fields.at(f).bytes() == "reason")
                                join->out[i].reason = QString::fromUtf8(fields.at(f + 1).bytes());
                    }
                    if (--join->pending == 0)
                        done(std::move(join->out));
                });
        }
    });
}

} // namespace sluice

#include "moc_parkedcampaigns.cpp" // NOLINT(bugprone-suspicious-include)
