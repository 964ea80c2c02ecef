#include "runledger.h"

#include "core/jsontext.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QTimer>

#include <nlohmann/json.hpp>

#include <memory>

namespace sluice {

using json = nlohmann::json;

namespace {

const QString kSave = QStringLiteral("runs_save");
const QString kRemove = QStringLiteral("runs_remove");

/// MGET this many records per command, so a long listing never becomes one huge reply.
constexpr int kRecordsPerFetch = 100;

LedgerError failure(LedgerError::Kind kind, QString message)
{
    LedgerError error;
    error.kind = kind;
    error.message = std::move(message);
    return error;
}

LedgerError redisFailure(const QString &what, const RedisError &cause)
{
    LedgerError error
        = failure(LedgerError::Kind::Redis, what + QStringLiteral(": ") + cause.describe());
    error.redis = cause;
    return error;
}

Result<RunRecord, LedgerError> parseRecord(const QString &id, const QByteArray &bytes)
{
    const auto unreadable = [&id](const QString &why) {
        return failure(LedgerError::Kind::Unreadable,
                       QStringLiteral("run '%1' is stored but cannot be read: %2").arg(id, why));
    };
    try {
        const json j = parseJson(bytes);
        if (j.is_discarded())
            return unreadable(QStringLiteral("it is not JSON"));
        if (auto record = runRecordFromJson(j))
            return std::move(*record);
        return unreadable(QStringLiteral("it is not a run record this version understands"));
    } catch (const json::exception &e) {
        return unreadable(QString::fromUtf8(e.what()));
    }
}

/// What list() collects while its MGETs come back (in order, as Redis answers them).
struct Listing
{
    RunList list;
    QList<QByteArray> ids;
    std::optional<LedgerError> error;
    RunLedger::Callback<RunList> done;
};

} // namespace

std::optional<QString> RunLedgerOptions::problem() const
{
    if (keepRuns < 1 || keepRuns > 100'000)
        return QStringLiteral("the run ledger keeps 1 to 100000 runs, not %1").arg(keepRuns);
    return std::nullopt;
}

RunLedger::RunLedger(RedisClient *redis, RedisKeys keys, RunLedgerOptions options)
    : m_redis(redis)
    , m_keys(std::move(keys))
    , m_options(options)
{
    Q_ASSERT(!m_options.problem());
    m_redis->loadScript(kSave, bundledLuaScript(kSave));
    m_redis->loadScript(kRemove, bundledLuaScript(kRemove));
}

QString RunLedger::notFoundMessage(const QString &id)
{
    return QStringLiteral("no run '%1'; `sluice runs` lists them").arg(id);
}

void RunLedger::save(const RunRecord &record, Callback<RunSaveOutcome> done)
{
    const RunDefinition &d = record.definition;
    std::optional<QString> invalid;
    if (d.id.isEmpty())
        invalid = QStringLiteral("a run record needs an id to be saved");
    else if (record.createdMs <= 0)
        invalid = QStringLiteral("run '%1' has no creation time; the ledger orders runs by it")
                      .arg(d.id);
    if (invalid) {
        // Like the client's own errors: from the event loop, never from inside the call.
        QTimer::singleShot(0, m_redis, [done = std::move(done), error = *invalid] {
            done(failure(LedgerError::Kind::Invalid, error));
        });
        return;
    }
    const QByteArray body = jsonBytes(toJson(record), -1, BadUtf8::Replace);
    m_redis->evalScript(
        kSave, { m_keys.run(d.id), m_keys.runs() },
        { body, QByteArray::number(record.createdMs), d.id.toUtf8(),
          QByteArray::number(m_options.keepRuns), m_keys.run(QString()) },
        [id = d.id, done = std::move(done)](RedisResult r) {
            if (!r.ok()) {
                done(redisFailure(QStringLiteral("could not save run '%1'").arg(id), r.error()));
                return;
            }
            RunSaveOutcome outcome;
            for (const RedisReply &trimmed : r.value().elements())
                outcome.trimmed.append(QString::fromUtf8(trimmed.bytes()));
            done(outcome);
        });
}

void RunLedger::load(const QString &id, Callback<RunRecord> done)
{
    m_redis->command({ "GET", m_keys.run(id) }, [id, done = std::move(done)](RedisResult r) {
        if (!r.ok()) {
            done(redisFailure(QStringLiteral("could not read run '%1'").arg(id), r.error()));
            return;
        }
        if (r.value().isNil()) {
            done(failure(LedgerError::Kind::NotFound, notFoundMessage(id)));
            return;
        }
        done(parseRecord(id, r.value().bytes()));
    });
}

void RunLedger::list(int limit, Callback<RunList> done)
{
    auto listing = std::make_shared<Listing>();
    listing->done = std::move(done);
    m_redis->command({ "ZCARD", m_keys.runs() }, [listing](RedisResult r) {
        if (r.ok())
            listing->list.total = int(r.value().integer());
        else if (!listing->error)
            listing->error = redisFailure(QStringLiteral("could not list the runs"), r.error());
    });
    RedisClient *redis = m_redis; // alive while it calls back
    const RedisKeys keys = m_keys;
    m_redis->command(
        { "ZREVRANGE", m_keys.runs(), "0", QByteArray::number(limit > 0 ? limit - 1 : -1) },
        [redis, keys, listing](RedisResult r) {
            if (!r.ok() && !listing->error)
                listing->error = redisFailure(QStringLiteral("could not list the runs"), r.error());
            if (listing->error) {
                listing->done(*listing->error);
                return;
            }
            for (const RedisReply &id : r.value().elements())
                listing->ids.append(id.bytes());
            if (listing->ids.isEmpty()) {
                listing->done(std::move(listing->list));
                return;
            }
            for (qsizetype from = 0; from < listing->ids.size(); from += kRecordsPerFetch) {
                const QList<QByteArray> ids = listing->ids.mid(from, kRecordsPerFetch);
                const bool last = from + kRecordsPerFetch >= listing->ids.size();
                QList<QByteArray> argv { "MGET" };
                for (const QByteArray &id : ids)
                    argv.append(keys.run(QString::fromUtf8(id)));
                redis->command(argv, [listing, ids, last](RedisResult fetched) {
                    if (!fetched.ok() && !listing->error)
                        listing->error = redisFailure(QStringLiteral("could not read the runs"),
                                                      fetched.error());
                    if (!listing->error) {
                        const auto &values = fetched.value().elements();
                        for (qsizetype i = 0; i < ids.size() && i < qsizetype(values.size()); ++i) {
                            // Nil: removed or trimmed since the index was read; not an error.
                            if (values[size_t(i)].isNil())
                                continue;
                            const QString id = QString::fromUtf8(ids[i]);
                            auto record = parseRecord(id, values[size_t(i)].bytes());
                            if (record.ok())
                                listing->list.runs.push_back(std::move(record).value());
                            else
                                listing->list.unreadable.append(id);
                        }
                    }
                    if (!last)
                        return;
                    if (listing->error)
                        listing->done(*listing->error);
                    else
                        listing->done(std::move(listing->list));
                });
            }
        });
}

void RunLedger::remove(const QString &id, std::function<void(std::optional<LedgerError>)> done)
{
    m_redis->evalScript(
        kRemove, { m_keys.run(id), m_keys.runs() }, { id.toUtf8() },
        [id, done = std::move(done)](RedisResult r) {
            if (!r.ok())
                done(redisFailure(QStringLiteral("could not delete run '%1'").arg(id), r.error()));
            else if (r.value().integer() == 0)
                done(failure(LedgerError::Kind::NotFound, notFoundMessage(id)));
            else
                done(std::nullopt);
        });
}

} // namespace sluice
