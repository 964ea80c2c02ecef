#include "streamconsumer.h"

#include "core/clock.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QLoggingCategory>
#include <QPointer>

#include <algorithm>

namespace sluice {

Q_LOGGING_CATEGORY(lcConsumer, "sluice.dispatcher")

using std::chrono::milliseconds;

namespace {

const QString kPromote = QStringLiteral("dispatch_promote");
const QString kOwn = QStringLiteral("dispatch_own");
const QString kTakeover = QStringLiteral("dispatch_takeover");

QByteArray num(qint64 n)
{
    return QByteArray::number(n);
}

} // namespace

StreamConsumer::StreamConsumer(RedisClient *redis, RedisKeys keys, const DispatcherOptions &options,
                               QObject *parent)
    : QObject(parent)
    , m_redis(redis)
    , m_keys(std::move(keys))
    , m_options(options)
{
    m_maintenance.setInterval(m_options.maintenanceInterval);
    connect(&m_maintenance, &QTimer::timeout, this, &StreamConsumer::maintain);
}

StreamConsumer::~StreamConsumer() = default;

void StreamConsumer::start()
{
    if (m_running)
        return;
    m_redis->loadScript(kPromote, bundledLuaScript(kPromote));
    m_redis->loadScript(kOwn, bundledLuaScript(kOwn));
    m_redis->loadScript(kTakeover, bundledLuaScript(kTakeover));
    beat();
    if (!m_blocking) {
        m_blocking = new RedisClient(m_redis->options(), this);
        m_blocking->connectToServer();
    }
    m_running = true;
    QPointer<StreamConsumer> self(this);
    // The group first, then the pause flag, and only then the first read.
    m_redis->command(
        { "XGROUP", "CREATE", m_keys.leads(), RedisKeys::dispatcherGroup(), "0", "MKSTREAM" },
        [self](RedisResult r) {
            if (self && !r.ok() && r.error().code != "BUSYGROUP")
                Q_EMIT self->errorNoted(QStringLiteral("cannot create the consumer group: %1")
                                            .arg(r.error().describe()));
        });
    readPauseFlag([self] {
        if (self)
            self->readMore();
    });
    m_sinceHeartbeat.start();
    m_maintenance.start();
}

void StreamConsumer::stop()
{
    m_running = false;
    m_maintenance.stop();
    // A clean stop hands back what it held; no heartbeat to wait out.
    m_redis->command({ "DEL", m_keys.alive(m_options.consumerName) }, {});
}

void StreamConsumer::beat()
{
    m_redis->command({ "SET", m_keys.alive(m_options.consumerName), num(fleetClockMs()), "PX",
                       num(m_options.livenessTimeout.count()) },
                     {});
}

void StreamConsumer::readMore()
{
    const int room = m_options.maxInFlight - held();
    if (!m_running || m_reading || m_paused || room <= 0)
        return;
    m_reading = true;
    const QByteArray from = m_readHistory ? m_historyCursor : QByteArray(">");
    QList<QByteArray> argv { "XREADGROUP",
                             "GROUP",
                             RedisKeys::dispatcherGroup(),
                             m_options.consumerName.toUtf8(),
                             "COUNT",
                             num(std::min(room, m_options.maxBatch)) };
    if (!m_readHistory)
        argv << "BLOCK" << num(m_options.blockTime.count());
    argv << "STREAMS" << m_keys.leads() << from;
    QPointer<StreamConsumer> self(this);
    m_blocking->command(
        argv,
        [self](RedisResult r) {
            if (!self)
                return;
            self->m_reading = false;
            if (!r.ok()) {
                Q_EMIT self->errorNoted(
                    QStringLiteral("reading the stream failed: %1").arg(r.error().describe()));
                if (r.error().code == "NOGROUP" && self->m_running)
                    self->m_redis->command({ "XGROUP", "CREATE", self->m_keys.leads(),
                                             RedisKeys::dispatcherGroup(), "0", "MKSTREAM" },
                                           {});
                QTimer::singleShot(500, self, [self] { self->readMore(); });
                Q_EMIT self->readFinished();
                return;
            }
            // [[stream, [[id, [f, v, ...]], ...]]] or nil when the block timed out
            const RedisReply &entries = r.value().at(0).at(1);
            const bool history = self->m_readHistory;
            if (history && entries.elements().empty())
                self->m_readHistory = false;
            else if (history) // the next history read starts after what this one returned
                self->m_historyCursor = entries.elements().back().at(0).bytes();
            // Our own pending entries from an earlier run may have been sent before it ended.
            self->onEntries(entries, history);
            if (!self)
                return;
            Q_EMIT self->readFinished();
            self->readMore();
        },
        m_options.blockTime + milliseconds { 5000 });
}

void StreamConsumer::onEntries(const RedisReply &entries, bool reclaimed)
{
    QPointer<StreamConsumer> self(this);
    for (const RedisReply &e : entries.elements()) {
        const QByteArray id = e.at(0).bytes();
        if (id.isEmpty() || m_held.contains(id))
            continue;
        if (!m_running || !m_handler) {
            handBack({ id });
            continue;
        }
        m_held.insert(id);
        QList<QByteArray> fields;
        for (const RedisReply &f : e.at(1).elements())
            fields << f.bytes();
        m_handler(id, fields, reclaimed);
        if (!self)
            return;
    }
    Q_EMIT heldChanged(held());
}

void StreamConsumer::forget(const QByteArray &id)
{
    if (m_held.remove(id))
        Q_EMIT heldChanged(held());
}

void StreamConsumer::handBack(const QList<QByteArray> &ids)
{
    if (ids.isEmpty())
        return;
    for (const QByteArray &id : ids)
        m_held.remove(id);
    Q_EMIT heldChanged(held());
    // IDLE makes them look abandoned, so the next XAUTOCLAIM anywhere takes them.
    QList<QByteArray> argv { "XCLAIM", m_keys.leads(), RedisKeys::dispatcherGroup(),
                             m_options.consumerName.toUtf8(), "0" };
    argv << ids;
    argv << "IDLE" << num(m_options.claimIdleTimeout.count()) << "JUSTID";
    m_redis->command(argv, {});
}

void StreamConsumer::confirmOwned(const QList<QByteArray> &ids,
                                  std::function<void(std::optional<QList<QByteArray>>)> done)
{
    if (ids.isEmpty()) {
        if (done)
            done(QList<QByteArray> {});
        return;
    }
    QPointer<StreamConsumer> self(this);
    m_redis->evalScript(
        kOwn, { m_keys.leads() },
        QList<QByteArray> { RedisKeys::dispatcherGroup(), m_options.consumerName.toUtf8() } + ids,
        [self, done](RedisResult r) {
            if (!self)
                return;
            if (!r.ok()) {
                Q_EMIT self->errorNoted(
                    QStringLiteral("checking which entries are still ours failed: %1")
                        .arg(r.error().describe()));
                if (done)
                    done(std::nullopt);
                return;
            }
            QList<QByteArray> lost;
            for (const RedisReply &id : r.value().elements())
                lost << id.bytes();
            if (!lost.isEmpty()) {
                for (const QByteArray &id : std::as_const(lost))
                    self->m_held.remove(id);
                qCWarning(lcConsumer).noquote()
                    << lost.size() << "entries were taken over by another consumer";
                Q_EMIT self->heldChanged(self->held());
                Q_EMIT self->entriesLost(lost);
            }
            if (done)
                done(lost);
        });
}

void StreamConsumer::maintain()
{
    if (!m_running)
        return;
    beat(); // paused or not, this consumer is alive
    readPauseFlag();
    if (m_paused)
        return;
    QPointer<StreamConsumer> self(this);
    m_redis->evalScript(kPromote, { m_keys.retries(), m_keys.leads() },
                        { num(fleetClockMs()), "500" }, {});
    // Keep what we hold from looking abandoned, and learn what was taken over meanwhile.
    if (!m_held.isEmpty() && m_sinceHeartbeat.elapsed() >= m_options.claimIdleTimeout.count() / 3) {
        m_sinceHeartbeat.restart();
        confirmOwned(QList<QByteArray>(m_held.cbegin(), m_held.cend()), {});
    }
    const int room = m_options.maxInFlight - held();
    if (room <= 0)
        return;
    m_redis->command({ "XAUTOCLAIM", m_keys.leads(), RedisKeys::dispatcherGroup(),
                       m_options.consumerName.toUtf8(), num(m_options.claimIdleTimeout.count()),
                       m_claimCursor, "COUNT", num(std::min(room, m_options.maxBatch)) },
                     [self](RedisResult r) {
                         if (!self || !r.ok())
                             return;
                         // [next cursor, [[id, fields], ...], [deleted ids]]
                         self->m_claimCursor = r.value().at(0).bytes();
                         if (self->m_claimCursor.isEmpty())
                             self->m_claimCursor = "0-0";
                         const RedisReply &entries = r.value().at(1);
                         if (!entries.elements().empty())
                             qCInfo(lcConsumer).noquote()
                                 << "reclaimed" << entries.elements().size() << "entries";
                         // A dead consumer's entries may have been sent before it died.
                         self->onEntries(entries, true);
                     });
    // A dead consumer (no heartbeat) loses its entries within seconds, whatever claim-idle.
    m_redis->evalScript(
        kTakeover, { m_keys.leads() },
        { RedisKeys::dispatcherGroup(), m_options.consumerName.toUtf8(), m_keys.prefix,
          num(m_options.livenessTimeout.count()), num(std::min(room, m_options.maxBatch)) },
        [self](RedisResult r) {
            if (!self || !r.ok() || r.value().elements().empty())
                return;
            qCInfo(lcConsumer).noquote() << "took over" << r.value().elements().size()
                                         << "entries of a consumer without a heartbeat";
            self->onEntries(r.value(), true);
        });
}

void StreamConsumer::readPauseFlag(std::function<void()> then)
{
    QPointer<StreamConsumer> self(this);
    m_redis->command({ "HMGET", m_keys.control(), "paused", "paused_cause" },
                     [self, sentAfter = m_pauseNowCount, then = std::move(then)](RedisResult r) {
                         if (!self)
                             return;
                         // Stale: sent before this process paused the fleet.
                         if (r.ok() && self->m_pauseNowCount == sentAfter)
                             self->onPauseFlag(r.value());
                         if (then)
                             then();
                     });
}

void StreamConsumer::onPauseFlag(const RedisReply &fields)
{
    // [paused reason or nil, cause or nil]
    m_pausedCause = pauseCauseFromName(fields.at(1).bytes());
    setPaused(fields.at(0).isString(), QString::fromUtf8(fields.at(0).bytes()));
}

void StreamConsumer::pauseNow(const QString &reason, PauseCause cause)
{
    ++m_pauseNowCount;
    m_pausedCause = cause;
    setPaused(true, reason);
}

void StreamConsumer::setPaused(bool paused, const QString &reason)
{
    if (paused == m_paused && reason == m_pausedReason)
        return;
    m_paused = paused;
    m_pausedReason = reason;
    Q_EMIT pausedChanged(paused, reason);
    readMore();
}

} // namespace sluice

#include "moc_streamconsumer.cpp" // NOLINT(bugprone-suspicious-include)
