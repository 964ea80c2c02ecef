#include "intakestore.h"

#include "intakebatch.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"
#include "telemetry/metrics.h"

#include <QDir>
#include <QFileInfo>
#include <QLoggingCategory>

namespace sluice {

Q_LOGGING_CATEGORY(lcIntakeStore, "sluice.intake")

namespace {

const QString kIntakeEnqueueScript = QStringLiteral("intake_enqueue");
const QString kIntakeGroupScript = QStringLiteral("intake_enqueue_group");

/// The script's fate is unknown: it may have run before the connection dropped.
bool fateUnknown(RedisError::Kind kind)
{
    return kind == RedisError::Kind::ConnectionLost || kind == RedisError::Kind::Timeout;
}

QString closeTaskKey(const QString &closeTaskId)
{
    return closeTaskId.isEmpty() ? QString() : QStringLiteral("close-task:") + closeTaskId;
}

using Outcome = IntakeStore::Outcome;

IntakeStore::Result outcome(Outcome outcome, const QString &taskId, qint64 leads = 0,
                            qint64 deadLettered = 0)
{
    IntakeStore::Result r;
    r.outcome = outcome;
    r.taskId = taskId;
    r.leads = leads;
    r.deadLettered = deadLettered;
    return r;
}

IntakeStore::Result unavailable(const QString &detail, bool fault = false)
{
    IntakeStore::Result r;
    r.detail = detail;
    r.fault = fault;
    return r;
}

} // namespace

// Complete before the constructor, which destroys m_waiting if it throws: clang instantiates
// vector<Pending>'s destructor there (GCC at the end of the file).
struct IntakeStore::Pending
{
    IntakeBatch batch;
    Done done;
};

IntakeStore::IntakeStore(const IntakeOptions &options, RedisClient *redis, Metrics &metrics,
                         QObject *parent)
    : QObject(parent)
    , m_spoolPath(options.spoolPath)
    , m_keys(options.ns)
    , m_retentionSeconds(options.retention.count())
    , m_journal(options.journal)
    , m_redis(redis)
    , m_spool(options.spoolPath)
    , m_spooled(metrics.counter("sluice_intake_spooled_total",
                                "Requests written to the local spool because Redis was "
                                "unreachable."))
    , m_drained(metrics.counter("sluice_intake_spool_drained_total",
                                "Spooled requests replayed into Redis."))
    , m_replayDuplicates(metrics.counter("sluice_intake_spool_replay_duplicates_total",
                                         "Spooled requests Redis already held (their first write "
                                         "ran after all, or the event was delivered twice)."))
    , m_spoolDepth(metrics.gauge("sluice_intake_spool_depth",
                                 "Requests waiting in the local spool for Redis."))
    , m_redisUp(metrics.gauge("sluice_intake_redis_connected",
                              "1 when the intake's Redis connection is up."))
{
    m_drainRetry.setSingleShot(true);
    m_drainRetry.setInterval(1000);
    connect(&m_drainRetry, &QTimer::timeout, this, &IntakeStore::drainSpool);
    m_adoptTimer.setInterval(30'000);
    connect(&m_adoptTimer, &QTimer::timeout, this, &IntakeStore::drainSpool);
    if (m_redis) {
        m_redis->loadScript(kIntakeEnqueueScript, bundledLuaScript(kIntakeEnqueueScript));
        m_redis->loadScript(kIntakeGroupScript, bundledLuaScript(kIntakeGroupScript));
    }
}

IntakeStore::~IntakeStore() = default;

void IntakeStore::open()
{
    if (m_spoolPath.isEmpty()) {
        qCInfo(lcIntakeStore) << "no spool file: while Redis is unreachable, webhooks get 503";
    } else if (m_spool.open()) {
        for (const QByteArray &line : m_spool.pending()) {
            if (const auto batch = IntakeBatch::fromJsonLine(line))
                rememberSpooled(*batch);
        }
        adoptOrphanSpools();
        if (!m_spool.isEmpty())
            qCInfo(lcIntakeStore).noquote()
                << m_spool.depth() << "spooled request(s) wait in" << m_spool.path();
    } else {
        qCWarning(lcIntakeStore).noquote() << "the spool is unusable:" << m_spool.errorString()
                                           << "(while Redis is unreachable, webhooks get 503)";
    }
    updateDepth();
    if (!m_redis)
        return;
    m_redisUp.set(redisConnected() ? 1 : 0);
    connect(m_redis, &RedisClient::stateChanged, this, [this](RedisClient::State state) {
        m_redisUp.set(state == RedisClient::State::Connected ? 1 : 0);
        if (state == RedisClient::State::Connected)
            drainSpool();
    });
    drainSpool();
    if (m_spool.isOpen())
        m_adoptTimer.start();
}

bool IntakeStore::redisConnected() const
{
    return m_redis && m_redis->state() == RedisClient::State::Connected;
}

std::optional<int> IntakeStore::spooledLeads(const QString &taskId) const
{
    const auto it = m_spooledTasks.constFind(taskId);
    if (it == m_spooledTasks.constEnd())
        return std::nullopt;
    return *it;
}

void IntakeStore::store(IntakeBatch batch, Done done)
{
    for (const QString &key : { batch.dedupeId, closeTaskKey(batch.closeTaskId) }) {
        if (key.isEmpty())
            continue;
        // Delivered again while the first delivery still waits in the spool.
        const auto spooled = m_spooledDedupe.constFind(key);
        if (spooled != m_spooledDedupe.constEnd()) {
            done(outcome(Outcome::Duplicate, *spooled));
            return;
        }
    }
    if (!redisConnected()) {
        done(spool(batch));
        return;
    }
    storeInRedis(std::move(batch), std::move(done));
}

void IntakeStore::storeInRedis(IntakeBatch batch, Done done)
{
    m_waiting.push_back({ std::move(batch), std::move(done) });
    // While a write is in flight the group grows; its reply sends the next one.
    if (m_writesInFlight == 0 && !m_flushQueued) {
        m_flushQueued = true;
        QMetaObject::invokeMethod(this, &IntakeStore::flushGroup, Qt::QueuedConnection);
    }
}

void IntakeStore::flushGroup()
{
    m_flushQueued = false;
    while (!m_waiting.empty()) {
        const size_t n = std::min(m_waiting.size(), kMaxGroup);
        std::vector<Pending> group(std::make_move_iterator(m_waiting.begin()),
                                   std::make_move_iterator(m_waiting.begin() + qsizetype(n)));
        m_waiting.erase(m_waiting.begin(), m_waiting.begin() + qsizetype(n));
        writeGroup(std::move(group));
    }
}

void IntakeStore::writeGroup(std::vector<Pending> group)
{
    // One request: intake_enqueue as it is; several: each one's keys and arguments in turn.
    const bool single = group.size() == 1;
    QList<QByteArray> keys;
    QList<QByteArray> args;
    if (single) {
        keys = group.front().batch.scriptKeys(m_keys);
        args = group.front().batch.scriptArgs(m_keys, m_retentionSeconds, m_journal);
    } else {
        // No reserve() per request: QList's reserve is exact, so growing by it each time
        // copies the whole list again (it cost 11% of serve's CPU under wrk).
        args.reserve(qsizetype(group.size()) * 24);
        for (const Pending &p : group) {
            const QList<QByteArray> own = p.batch.scriptKeys(m_keys);
            const QList<QByteArray> ownArgs
                = p.batch.scriptArgs(m_keys, m_retentionSeconds, m_journal);
            args.append(QByteArray::number(own.size()));
            args.append(own);
            args.append(QByteArray::number(ownArgs.size()));
            args.append(ownArgs);
        }
    }
    ++m_writesInFlight;
    m_redis->evalScript(
        single ? kIntakeEnqueueScript : kIntakeGroupScript, keys, args,
        [self = QPointer<IntakeStore>(this), group = std::move(group)](RedisResult result) mutable {
            if (!self)
                return;
            --self->m_writesInFlight;
            self->settleGroup(group, result);
            if (self->m_writesInFlight == 0 && !self->m_waiting.empty())
                self->flushGroup();
        });
}

void IntakeStore::settleGroup(std::vector<Pending> &group, const RedisResult &result)
{
    if (!result.ok()) {
        const RedisError &error = result.error();
        if (error.kind == RedisError::Kind::NotConnected || fateUnknown(error.kind)) {
            // Spooled: a replay of a request that was stored after all is a duplicate there.
            for (Pending &p : group)
                p.done(spool(p.batch));
            return;
        }
        qCWarning(lcIntakeStore).noquote()
            << "Redis refused to store" << group.size() << "request(s):" << error.describe();
        const Result refused
            = unavailable(QStringLiteral("Redis refused the write (%1)").arg(error.describe()));
        for (Pending &p : group)
            p.done(refused);
        return;
    }
    const RedisReply &reply = result.value();
    if (group.size() == 1) {
        group.front().done(resultOf(reply, group.front().batch));
        return;
    }
    for (size_t i = 0; i < group.size(); ++i)
        group[i].done(resultOf(reply.at(i), group[i].batch));
}

IntakeStore::Result IntakeStore::resultOf(const RedisReply &reply, const IntakeBatch &batch)
{
    const QByteArray taskId = reply.at(0).bytes();
    if (!reply.isArray() || taskId.isEmpty()) {
        qCCritical(lcIntakeStore).noquote()
            << "unexpected reply from" << kIntakeEnqueueScript << "for task" << batch.taskId << ':'
            << reply.describe();
        return unavailable(QStringLiteral("unexpected answer from the queue"), true);
    }
    if (reply.at(1).integer() == 1)
        return outcome(Outcome::Duplicate, QString::fromLatin1(taskId));
    const qint64 dead = reply.at(3).integer();
    return outcome(Outcome::Stored, QString::fromLatin1(taskId), reply.at(2).integer() - dead,
                   dead);
}

IntakeStore::Result IntakeStore::spool(const IntakeBatch &batch)
{
    if (!m_spoolPath.isEmpty() && m_spool.append(batch.toJsonLine())) {
        rememberSpooled(batch);
        updateDepth();
        m_spooled.increment();
        return outcome(Outcome::Spooled, batch.taskId, qint64(batch.entries.size()));
    }
    const QString why = m_spoolPath.isEmpty() ? QStringLiteral("no spool file is configured")
                                              : m_spool.errorString();
    qCWarning(lcIntakeStore).noquote() << "Redis is unreachable and the spool failed:" << why;
    return unavailable(
        QStringLiteral("the queue is unavailable (Redis unreachable, spool not writable)"));
}

void IntakeStore::updateDepth()
{
    m_spoolDepth.set(double(m_spool.depth()));
}

void IntakeStore::rememberSpooled(const IntakeBatch &batch)
{
    m_spooledTasks.insert(batch.taskId, int(batch.entries.size()));
    if (!batch.dedupeId.isEmpty())
        m_spooledDedupe.insert(batch.dedupeId, batch.taskId);
    if (!batch.closeTaskId.isEmpty())
        m_spooledDedupe.insert(closeTaskKey(batch.closeTaskId), batch.taskId);
}

void IntakeStore::forgetSpooled(const QByteArray &line)
{
    const auto batch = IntakeBatch::fromJsonLine(line);
    if (!batch)
        return;
    m_spooledTasks.remove(batch->taskId);
    for (const QString &key : { batch->dedupeId, closeTaskKey(batch->closeTaskId) }) {
        const auto it = m_spooledDedupe.constFind(key);
        if (it != m_spooledDedupe.constEnd() && *it == batch->taskId)
            m_spooledDedupe.erase(it);
    }
}

void IntakeStore::adoptOrphanSpools()
{
    if (!m_spool.isOpen())
        return;
    const QFileInfo own(m_spool.path());
    const QDir dir = own.absoluteDir();
    // intake-spool-<instance>.jsonl, and intake-spool.jsonl of versions with one per directory.
    for (const QString &name :
         dir.entryList({ QStringLiteral("intake-spool*.jsonl") }, QDir::Files)) {
        if (name == own.fileName())
            continue;
        Spool orphan(dir.filePath(name));
        if (!orphan.open())
            continue; // a live process's spool (or unusable): left alone
        qsizetype adopted = 0;
        bool complete = true;
        for (const QByteArray &line : orphan.pending()) {
            // Appended here first: a crash before the orphan is removed replays its lines
            // twice, and the enqueue script refuses the repeat.
            if (!m_spool.append(line)) {
                complete = false;
                break;
            }
            if (const auto batch = IntakeBatch::fromJsonLine(line))
                rememberSpooled(*batch);
            ++adopted;
        }
        if (!complete) {
            qCWarning(lcIntakeStore).noquote()
                << "cannot adopt the spool" << orphan.path() << ":" << m_spool.errorString();
            continue;
        }
        if (adopted > 0)
            qCInfo(lcIntakeStore).noquote() << "adopted" << adopted << "spooled request(s) of"
                                            << orphan.path() << "(its process is gone)";
        orphan.remove();
    }
    updateDepth();
}

void IntakeStore::drainSpool()
{
    adoptOrphanSpools(); // a process that died meanwhile leaves its spool to us
    if (m_draining || m_spool.isEmpty() || !redisConnected())
        return;
    qCInfo(lcIntakeStore) << "replaying" << m_spool.depth() << "spooled request(s) into Redis";
    m_draining = true;
    drainNext();
}

void IntakeStore::drainNext()
{
    while (!m_spool.isEmpty()) {
        if (!redisConnected()) {
            m_draining = false;
            return;
        }
        const QByteArray line = m_spool.front();
        const auto batch = IntakeBatch::fromJsonLine(line);
        if (!batch) {
            // Only a damaged file gets here (appended lines are whole batches).
            qCWarning(lcIntakeStore).noquote()
                << "dropping an unreadable spool line:" << QString::fromUtf8(line.left(200));
            m_spool.popFront();
            updateDepth();
            continue;
        }
        m_redis->evalScript(
            kIntakeEnqueueScript, batch->scriptKeys(m_keys),
            batch->scriptArgs(m_keys, m_retentionSeconds, m_journal),
            [self = QPointer<IntakeStore>(this), line](RedisResult result) {
                if (!self)
                    return;
                if (!result.ok()) {
                    self->m_draining = false;
                    if (!fateUnknown(result.error().kind)
                        && result.error().kind != RedisError::Kind::NotConnected)
                        qCWarning(lcIntakeStore).noquote()
                            << "cannot replay a spooled request:" << result.error().describe();
                    // Resumes on the next Connected, or after a pause if Redis stays up.
                    self->m_drainRetry.start();
                    return;
                }
                Q_ASSERT(!self->m_spool.isEmpty() && self->m_spool.front() == line);
                self->forgetSpooled(line);
                if (!self->m_spool.popFront())
                    qCWarning(lcIntakeStore).noquote()
                        << "cannot record spool progress (a restart replays, harmlessly):"
                        << self->m_spool.errorString();
                self->m_drained.increment();
                if (result.value().at(1).integer() == 1)
                    self->m_replayDuplicates.increment();
                self->updateDepth();
                self->drainNext();
            });
        return;
    }
    m_draining = false;
    qCInfo(lcIntakeStore) << "the spool is drained";
    Q_EMIT spoolDrained();
}

} // namespace sluice

#include "moc_intakestore.cpp" // NOLINT(bugprone-suspicious-include)
