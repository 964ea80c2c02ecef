#include "dispatcher.h"

#include "breaker/sharedbreaker.h"
#include "close/closeclient.h"
#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "journal/leadjournal.h"
#include "limiter/sendaudit.h"
#include "net/apitransport.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"
#include "retrypolicy.h"

#include <QCoreApplication>
#include <QHostInfo>
#include <QLoggingCategory>
#include <QPointer>
#include <QRandomGenerator>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sluice {

Q_LOGGING_CATEGORY(lcDispatcher, "sluice.dispatcher")

using std::chrono::milliseconds;

namespace {

const QString kSettle = QStringLiteral("dispatch_settle");
/// Records per dispatch_settle call (see settle()).
constexpr size_t kSettleChunk = 50;
const QString kExpand = QStringLiteral("dispatch_expand");
const QString kPromote = QStringLiteral("dispatch_promote");
const QString kRetryDead = QStringLiteral("dispatch_retry_dead");

QByteArray num(qint64 n)
{
    return QByteArray::number(n);
}

QString describe(const RedisResult &r)
{
    return r.ok() ? r.value().describe() : r.error().describe();
}

/// The value of `field` in a flat [field, value, ...] config or hash reply.
QByteArray pairValue(const RedisReply &reply, const QByteArray &field)
{
    const auto &e = reply.elements();
    for (size_t i = 0; i + 1 < e.size(); i += 2) {
        if (e[i].bytes() == field)
            return e[i + 1].bytes();
    }
    return {};
}

QString defaultConsumerName()
{
    return QStringLiteral("%1-%2-%3")
        .arg(QHostInfo::localHostName().isEmpty() ? QStringLiteral("host")
                                                  : QHostInfo::localHostName())
        .arg(QCoreApplication::applicationPid())
        .arg(QRandomGenerator::global()->generate() % 100000);
}

} // namespace

Dispatcher::Dispatcher(const DispatcherServices &services, DispatcherOptions options,
                       QObject *parent)
    : QObject(parent)
    , m_services(services)
    , m_options(std::move(options))
    , m_keys(m_options.keyNamespace)
{
    if (m_options.consumerName.isEmpty())
        m_options.consumerName = defaultConsumerName();
    m_snapshot.consumer = m_options.consumerName;
    m_maintenance.setInterval(m_options.maintenanceInterval);
    connect(&m_maintenance, &QTimer::timeout, this, &Dispatcher::maintain);
}

Dispatcher::~Dispatcher() = default;

std::optional<QString> Dispatcher::start()
{
    if (auto problem = m_options.problem())
        return problem;
    if (!m_services.redis || !m_services.instantly || !m_services.limiter || !m_services.breaker)
        return QStringLiteral("the dispatcher needs Redis, Instantly, a limiter and a breaker");
    if (m_running)
        return std::nullopt;
    RedisClient *redis = m_services.redis;
    for (const QString &name : { kSettle, kExpand, kPromote, kRetryDead })
        redis->loadScript(name, bundledLuaScript(name));
    if (!m_blocking) {
        m_blocking = new RedisClient(redis->options(), this);
        m_blocking->connectToServer();
    }
    m_running = true;
    m_stopping = false;
    m_snapshot.running = true;
    checkRedisConfig();
    QPointer<Dispatcher> self(this);
    // The group first, then the pause flag, and only then the first read.
    redis->command(
        { "XGROUP", "CREATE", m_keys.leads(), RedisKeys::dispatcherGroup(), "0", "MKSTREAM" },
        [self](RedisResult r) {
            if (self && !r.ok() && r.error().code != "BUSYGROUP")
                self->noteError(QStringLiteral("cannot create the consumer group: %1")
                                    .arg(r.error().describe()));
        });
    redis->command({ "HGET", m_keys.control(), "paused" }, [self](RedisResult r) {
        if (!self)
            return;
        if (r.ok())
            self->setPaused(r.value().isString(), QString::fromUtf8(r.value().bytes()));
        self->readNext();
    });
    m_sinceHeartbeat.start();
    m_maintenance.start();
    qCInfo(lcDispatcher).noquote() << "dispatcher" << m_options.consumerName << "started,"
                                   << deliveryModeName(m_options.mode) << "mode";
    changed();
    return std::nullopt;
}

void Dispatcher::checkRedisConfig()
{
    QPointer<Dispatcher> self(this);
    m_services.redis->command({ "CONFIG", "GET", "maxmemory-policy" }, [self](RedisResult r) {
        if (!self || !r.ok())
            return; // CONFIG may be refused (managed Redis): nothing to say then
        const QByteArray policy = pairValue(r.value(), "maxmemory-policy");
        if (!policy.isEmpty() && policy != "noeviction") {
            const QString message
                = QStringLiteral("Redis maxmemory-policy is '%1': queued leads may be "
                                 "evicted; set it to noeviction")
                      .arg(QString::fromUtf8(policy));
            qCWarning(lcDispatcher).noquote() << message;
            Q_EMIT self->warningRaised(message);
        }
    });
    m_services.redis->command({ "CONFIG", "GET", "appendonly" }, [self](RedisResult aof) {
        if (!self || !aof.ok())
            return;
        self->m_services.redis->command({ "CONFIG", "GET", "save" }, [self, aof](RedisResult rdb) {
            if (!self || !rdb.ok())
                return;
            const bool aofOn = pairValue(aof.value(), "appendonly") == "yes";
            const bool rdbOn = !pairValue(rdb.value(), "save").trimmed().isEmpty();
            if (!aofOn && !rdbOn) {
                const QString message = QStringLiteral(
                    "Redis persistence is off (no AOF, no RDB): a Redis restart loses "
                    "every queued lead");
                qCWarning(lcDispatcher).noquote() << message;
                Q_EMIT self->warningRaised(message);
            }
        });
    });
}

void Dispatcher::stop()
{
    if (!m_running)
        return;
    m_running = false;
    m_stopping = true;
    m_maintenance.stop();
    // Hand back what has not been sent: another instance may take it at once.
    QList<QByteArray> ids;
    for (auto it = m_awaitingCampaign.cbegin(); it != m_awaitingCampaign.cend(); ++it)
        for (const Work &w : it.value())
            ids << w.entryId;
    m_awaitingCampaign.clear();
    for (const BatchPtr &b : std::as_const(m_open))
        for (const Work &w : b->items)
            ids << w.entryId;
    m_open.clear();
    qDeleteAll(m_openTimers);
    m_openTimers.clear();
    for (const BatchPtr &b : m_queue)
        for (const Work &w : b->items)
            ids << w.entryId;
    m_queue.clear();
    handBack(ids);
    m_snapshot.running = false;
    changed();
    finishStopIfIdle();
}

void Dispatcher::finishStopIfIdle()
{
    if (!m_stopping || m_reading || m_acquiring || m_sending > 0)
        return;
    // Lookups and settles still in flight finish on their own; their entries stay reclaimable.
    m_stopping = false;
    qCInfo(lcDispatcher).noquote() << "dispatcher" << m_options.consumerName << "stopped";
    Q_EMIT stopped();
}

void Dispatcher::handBack(const QList<QByteArray> &ids)
{
    if (ids.isEmpty())
        return;
    for (const QByteArray &id : ids)
        forget(id);
    // IDLE makes them look abandoned, so the next XAUTOCLAIM anywhere takes them.
    QList<QByteArray> argv { "XCLAIM", m_keys.leads(), RedisKeys::dispatcherGroup(),
                             m_options.consumerName.toUtf8(), "0" };
    argv << ids;
    argv << "IDLE" << num(m_options.claimIdleTimeout.count()) << "JUSTID";
    m_services.redis->command(argv, {});
}

void Dispatcher::forget(const QByteArray &entryId)
{
    if (m_known.remove(entryId))
        m_snapshot.inFlight = int(m_known.size());
}

DispatcherSnapshot Dispatcher::snapshot() const
{
    return m_snapshot;
}

void Dispatcher::readNext()
{
    const int room = m_options.maxInFlight - int(m_known.size());
    if (!m_running || m_reading || m_paused || room <= 0)
        return;
    m_reading = true;
    const QByteArray from = m_readHistory ? QByteArray("0") : QByteArray(">");
    QList<QByteArray> argv { "XREADGROUP",
                             "GROUP",
                             RedisKeys::dispatcherGroup(),
                             m_options.consumerName.toUtf8(),
                             "COUNT",
                             num(std::min(room, m_options.maxBatch)) };
    if (!m_readHistory)
        argv << "BLOCK" << num(m_options.blockTime.count());
    argv << "STREAMS" << m_keys.leads() << from;
    QPointer<Dispatcher> self(this);
    m_blocking->command(
        argv,
        [self](RedisResult r) {
            if (!self)
                return;
            self->m_reading = false;
            if (!r.ok()) {
                self->noteError(
                    QStringLiteral("reading the stream failed: %1").arg(r.error().describe()));
                if (r.error().code == "NOGROUP" && self->m_running)
                    self->m_services.redis->command({ "XGROUP", "CREATE", self->m_keys.leads(),
                                                      RedisKeys::dispatcherGroup(), "0",
                                                      "MKSTREAM" },
                                                    {});
                QTimer::singleShot(500, self, [self] { self->readNext(); });
                self->finishStopIfIdle();
                return;
            }
            // [[stream, [[id, [f, v, ...]], ...]]] or nil when the block timed out
            const RedisReply &entries = r.value().at(0).at(1);
            if (self->m_readHistory && entries.elements().empty())
                self->m_readHistory = false;
            self->onEntries(entries);
            self->finishStopIfIdle();
            self->readNext();
        },
        m_options.blockTime + milliseconds { 5000 });
}

void Dispatcher::onEntries(const RedisReply &entries)
{
    for (const RedisReply &e : entries.elements())
        onEntry(e.at(0).bytes(), e.at(1));
}

void Dispatcher::onEntry(const QByteArray &id, const RedisReply &fields)
{
    if (id.isEmpty() || m_known.contains(id))
        return;
    if (!m_running) {
        handBack({ id });
        return;
    }
    m_known.insert(id);
    m_snapshot.inFlight = int(m_known.size());
    QList<QByteArray> flat;
    for (const RedisReply &f : fields.elements())
        flat << f.bytes();
    auto parsed = QueuedLead::fromFields(flat);
    if (!parsed.ok()) {
        // Not ours to repair: count it failed (when it names a task) and drop it.
        Settle s;
        s.entryId = id;
        s.kind = "fail";
        for (qsizetype i = 0; i + 1 < flat.size(); i += 2)
            if (flat[i] == "task")
                s.taskId = QString::fromUtf8(flat[i + 1]);
        s.reason = QStringLiteral("unreadable queue entry: %1").arg(parsed.error());
        noteError(s.reason);
        settle({ s });
        return;
    }
    Work work;
    work.entryId = id;
    work.lead = std::move(parsed).value();
    if (work.lead.needsLookup)
        lookup(std::move(work));
    else
        resolveCampaign(std::move(work));
}

void Dispatcher::lookup(Work work)
{
    if (!m_services.close) {
        settle({ outcome(
            work, "dead",
            QStringLiteral("no Close client to look up lead %1").arg(work.lead.closeLeadId)) });
        return;
    }
    QPointer<Dispatcher> self(this);
    m_services.close->fetchLeads(
        work.lead.closeLeadId, [self, work](Result<CloseLeadConversion, ApiResult> r) {
            if (!self)
                return;
            if (!r.ok()) {
                const ApiResult &e = r.error();
                const QString reason = QStringLiteral("Close lookup of %1: %2")
                                           .arg(work.lead.closeLeadId, e.describe());
                self->noteError(reason);
                if (e.outcome == CallOutcome::Permanent)
                    self->settle({ self->outcome(work, "dead", reason) });
                else
                    self->settle({ self->transientFailure(work, reason) });
                return;
            }
            QList<QByteArray> args { RedisKeys::dispatcherGroup(), work.entryId,
                                     num(wallClockMs()) };
            QString reason
                = QStringLiteral("Close lead %1 has no usable contact").arg(work.lead.closeLeadId);
            if (!r->skipped.isEmpty())
                reason += QStringLiteral(" (%1)").arg(r->skipped.join(QStringLiteral("; ")));
            // No prefix: no journal (see DispatcherOptions::journal).
            args << reason.toUtf8()
                 << (self->m_options.journal ? self->m_keys.prefix : QByteArray())
                 << work.lead.closeLeadId.toUtf8() << work.lead.taskId.toUtf8()
                 << work.lead.campaignName.toUtf8() << self->m_options.consumerName.toUtf8();
            for (const Lead &lead : r->leads) {
                QueuedLead q = work.lead;
                q.needsLookup = false;
                q.closeLeadId.clear();
                q.attempt = 0;
                q.lead = lead;
                nlohmann::json fields = nlohmann::json::array();
                for (const QByteArray &f : q.toFields())
                    fields.push_back(f.toStdString());
                args << QByteArray::fromStdString(fields.dump());
            }
            const QByteArray entryId = work.entryId;
            self->m_services.redis->evalScript(
                kExpand, { self->m_keys.leads(), self->m_keys.task(work.lead.taskId) }, args,
                [self, entryId](RedisResult done) {
                    if (!self)
                        return;
                    if (!done.ok())
                        self->noteError(QStringLiteral("expanding a Close lead failed: %1")
                                            .arg(describe(done)));
                    self->forget(entryId);
                    self->changed();
                    self->readNext();
                });
        });
}

void Dispatcher::resolveCampaign(Work work)
{
    const QString name = work.lead.campaignName;
    const auto cached = m_campaignIds.constFind(name);
    if (cached != m_campaignIds.constEnd()) {
        work.campaignId = cached.value();
        enqueue(std::move(work));
        return;
    }
    if (m_unknownCampaigns.value(name) > wallClockMs()) {
        settle({ outcome(work, "fail",
                         QStringLiteral("campaign '%1' not found in Instantly").arg(name)) });
        return;
    }
    auto &waiting = m_awaitingCampaign[name];
    waiting.push_back(std::move(work));
    if (waiting.size() > 1)
        return; // a lookup is under way
    QPointer<Dispatcher> self(this);
    m_services.redis->command(
        { "HGET", m_keys.campaigns(), name.toUtf8() }, [self, name](RedisResult r) {
            if (!self)
                return;
            if (r.ok() && r.value().isString() && !r.value().bytes().isEmpty()) {
                self->campaignResolved(name, QString::fromUtf8(r.value().bytes()), {});
                return;
            }
            self->lookUpCampaign(name, 1);
        });
}

void Dispatcher::lookUpCampaign(const QString &name, int attempt)
{
    if (!m_running) {
        campaignResolved(name, std::nullopt, {}); // hands the leads back
        return;
    }
    // The lookup client's gate holds every page of the search to the breaker and the limiter.
    InstantlyClient *client = m_services.lookups ? m_services.lookups : m_services.instantly;
    QPointer<Dispatcher> self(this);
    client->findCampaign(name, [self, name, attempt](ApiReply<std::optional<Campaign>> r) {
        if (!self)
            return;
        if (r.ok()) {
            if (r.value())
                self->campaignResolved(name, r.value()->id, {});
            else
                self->campaignResolved(
                    name, std::nullopt,
                    QStringLiteral("campaign '%1' not found in Instantly").arg(name));
            return;
        }
        const ApiResult &result = r.error();
        self->noteError(
            QStringLiteral("looking up campaign '%1': %2").arg(name, result.describe()));
        if (result.outcome == CallOutcome::Permanent) {
            self->campaignResolved(
                name, std::nullopt,
                QStringLiteral("looking up campaign '%1' failed: %2").arg(name, result.describe()));
            return;
        }
        const milliseconds delay = result.outcome == CallOutcome::RateLimited
            ? milliseconds { 0 } // the limiter's shared penalty does the waiting
            : std::max(milliseconds { 10 },
                       retryDelay(attempt, self->m_options.retryBase, self->m_options.retryCap,
                                  0.5 + QRandomGenerator::global()->generateDouble() / 2));
        QTimer::singleShot(delay, self,
                           [self, name, attempt] { self->lookUpCampaign(name, attempt + 1); });
    });
}

void Dispatcher::campaignResolved(const QString &name, const std::optional<QString> &id,
                                  const QString &reason)
{
    std::vector<Work> waiting = m_awaitingCampaign.take(name);
    if (id) {
        if (m_campaignIds.value(name) != *id)
            m_services.redis->command({ "HSET", m_keys.campaigns(), name.toUtf8(), id->toUtf8() },
                                      {});
        m_campaignIds.insert(name, *id);
        m_unknownCampaigns.remove(name);
        for (Work &w : waiting) {
            w.campaignId = *id;
            enqueue(std::move(w));
        }
        return;
    }
    if (reason.isEmpty()) { // stopping
        QList<QByteArray> ids;
        for (const Work &w : waiting)
            ids << w.entryId;
        handBack(ids);
        finishStopIfIdle();
        return;
    }
    // Remembered briefly, so a flood of leads for a missing campaign costs one lookup.
    m_unknownCampaigns.insert(name, wallClockMs() + 10'000);
    noteError(reason);
    std::vector<Settle> records;
    for (const Work &w : waiting)
        records.push_back(outcome(w, "fail", reason));
    settle(std::move(records));
}

void Dispatcher::enqueue(Work work)
{
    if (!m_running) {
        handBack({ work.entryId });
        return;
    }
    work.member = work.campaignId.toUtf8() + '|' + normalizedEmail(work.lead.lead.email).toUtf8();
    const QString campaignId = work.campaignId;
    if (m_options.mode == DeliveryMode::Single) {
        auto batch = std::make_shared<Batch>();
        batch->campaignId = campaignId;
        batch->items.push_back(std::move(work));
        m_queue.push_back(batch);
        pump();
        return;
    }
    BatchPtr &open = m_open[campaignId];
    if (!open) {
        open = std::make_shared<Batch>();
        open->campaignId = campaignId;
        auto *timer = new QTimer(this);
        timer->setSingleShot(true);
        connect(timer, &QTimer::timeout, this, [this, campaignId] { closeBatch(campaignId); });
        timer->start(m_options.coalescingWindow);
        m_openTimers.insert(campaignId, timer);
    }
    open->items.push_back(std::move(work));
    if (int(open->items.size()) >= m_options.maxBatch)
        closeBatch(campaignId);
}

void Dispatcher::closeBatch(const QString &campaignId)
{
    if (QTimer *timer = m_openTimers.take(campaignId))
        timer->deleteLater();
    BatchPtr batch = m_open.take(campaignId);
    if (!batch || batch->items.empty())
        return;
    m_queue.push_back(std::move(batch));
    pump();
}

void Dispatcher::pump()
{
    if (m_acquiring || m_queue.empty() || !m_running)
        return;
    BatchPtr batch = m_queue.front();
    m_queue.pop_front();
    m_acquiring = true;
    // Leads already delivered (a replay, a reclaimed entry) and repeats inside the batch are
    // no-ops: settled as skipped without a request.
    QList<QByteArray> argv { "SMISMEMBER", m_keys.delivered() };
    for (const Work &w : batch->items)
        argv << w.member;
    QPointer<Dispatcher> self(this);
    m_services.redis->command(argv, [self, batch](RedisResult r) {
        if (!self)
            return;
        std::vector<Settle> skips;
        std::vector<Work> keep;
        QSet<QByteArray> seen;
        for (size_t i = 0; i < batch->items.size(); ++i) {
            Work &w = batch->items[i];
            const bool delivered = r.ok() && r.value().at(i).integer() == 1;
            if (delivered || seen.contains(w.member)) {
                skips.push_back(self->outcome(w, "skip"));
                continue;
            }
            seen.insert(w.member);
            keep.push_back(std::move(w));
        }
        batch->items = std::move(keep);
        if (!skips.empty())
            self->settle(std::move(skips));
        if (batch->items.empty()) {
            self->m_acquiring = false;
            self->finishStopIfIdle();
            self->pump();
            return;
        }
        self->gate(batch);
    });
}

void Dispatcher::gate(BatchPtr batch)
{
    if (!m_running) {
        QList<QByteArray> ids;
        for (const Work &w : batch->items)
            ids << w.entryId;
        handBack(ids);
        m_acquiring = false;
        finishStopIfIdle();
        return;
    }
    const BreakerDecision permit = m_services.breaker->allow();
    if (!permit.permitted) {
        // Breaker open: wait, no attempt counted. Asked again at least every second, since
        // a force may be lifted (by any instance) long before it would expire.
        QTimer::singleShot(
            std::clamp(permit.retryAfter, milliseconds { 10 }, milliseconds { 1000 }), this,
            [this, batch] { gate(batch); });
        return;
    }
    QPointer<Dispatcher> self(this);
    QElapsedTimer waited;
    waited.start();
    m_services.limiter->acquire([self, batch, permit, waited](const LimiterGrant &grant) {
        if (!self)
            return;
        batch->limiterWaitMs = waited.elapsed();
        self->m_acquiring = false;
        self->send(batch, permit, grant);
        self->pump();
    });
}

void Dispatcher::send(BatchPtr batch, const BreakerDecision &permit, const LimiterGrant &grant)
{
    m_sending += int(batch->items.size());
    ++m_snapshot.requests;
    m_snapshot.sending = m_sending;
    QPointer<Dispatcher> self(this);
    if (m_options.mode == DeliveryMode::Single) {
        // Instantly answers a skip (already in the campaign) with the existing lead: one made
        // before this request is a skip, not a creation (see skipDetectionMargin).
        const qint64 existedBeforeMs = wallClockMs() - m_options.skipDetectionMargin.count();
        m_services.instantly->createLead(
            batch->campaignId, batch->items.front().lead.lead, SkipFlags {},
            [self, batch, permit, grant, existedBeforeMs](ApiReply<LeadRecord> r) {
                if (!self)
                    return;
                const bool existed
                    = r.ok() && r->createdAtMs > 0 && r->createdAtMs < existedBeforeMs;
                self->onAnswer(batch, permit, grant, r.call(),
                               existed ? std::vector<int> {} : std::vector<int> { 0 });
            });
        return;
    }
    std::vector<Lead> leads;
    leads.reserve(batch->items.size());
    for (const Work &w : batch->items)
        leads.push_back(w.lead.lead);
    m_services.instantly->addLeads(batch->campaignId, leads, SkipFlags {},
                                   [self, batch, permit, grant](ApiReply<BulkAddResult> r) {
                                       if (!self)
                                           return;
                                       std::vector<int> created;
                                       if (r.ok())
                                           for (const BulkAddResult::Created &c : r->created)
                                               created.push_back(c.index);
                                       self->onAnswer(batch, permit, grant, r.call(), created);
                                   });
}

void Dispatcher::onAnswer(BatchPtr batch, const BreakerDecision &permit, const LimiterGrant &grant,
                          const ApiResult &result, const std::vector<int> &createdIndices)
{
    m_sending -= int(batch->items.size());
    m_snapshot.sending = m_sending;
    m_services.limiter->report(result, grant);
    m_services.breaker->record(permit, result.outcome, result.latency);
    if (m_services.audit)
        m_services.audit->record(result, grant.grantedAtMs);

    Request request;
    request.status = result.httpStatus;
    request.latencyMs = result.latency.count();
    request.waitMs = batch->limiterWaitMs;
    request.breaker = breakerStateName(permit.state).toUtf8();
    request.leads = int(batch->items.size());
    auto sent = [&request](Settle s, const Work &w) {
        s.request = request;
        s.request.number = w.lead.attempt + 1;
        return s;
    };
    std::vector<Settle> records;
    switch (result.outcome) {
    case CallOutcome::Success: {
        std::vector<bool> created(batch->items.size(), false);
        for (int index : createdIndices)
            if (index >= 0 && size_t(index) < created.size())
                created[size_t(index)] = true;
        for (size_t i = 0; i < batch->items.size(); ++i) {
            const Work &w = batch->items[i];
            if (created[i])
                records.push_back(sent(outcome(w, "ok"), w));
            else if (auto problem = emailProblem(w.lead.lead.email))
                records.push_back(
                    sent(outcome(w, "dead",
                                 QStringLiteral("Instantly rejected the email '%1': %2")
                                     .arg(w.lead.lead.email, *problem)),
                         w));
            else
                records.push_back(
                    sent(outcome(w, "skip",
                                 QStringLiteral("Instantly already had it: nothing created twice")),
                         w));
        }
        break;
    }
    case CallOutcome::RateLimited: {
        // Back to waiting at the front of the line; the limiter's shared penalty does the
        // waiting, and no attempt is counted.
        ++m_snapshot.rateLimited;
        QSet<QString> tasks;
        for (const Work &w : batch->items)
            tasks.insert(w.lead.taskId);
        for (const QString &task : std::as_const(tasks))
            m_services.redis->command({ "HINCRBY", m_keys.task(task), "rate_limit_delays", "1" },
                                      {});
        journalAttempt(*batch, request,
                       QStringLiteral("rate limited: back at the front of the line, the shared "
                                      "penalty waits"));
        if (m_running) {
            m_queue.push_front(batch);
            pump();
        } else {
            QList<QByteArray> ids;
            for (const Work &w : batch->items)
                ids << w.entryId;
            handBack(ids);
        }
        changed();
        finishStopIfIdle();
        return;
    }
    case CallOutcome::Transient:
    case CallOutcome::ErrorInBody:
        noteError(result.describe());
        for (const Work &w : batch->items)
            records.push_back(sent(transientFailure(w, result.describe()), w));
        break;
    case CallOutcome::Permanent:
        noteError(result.describe());
        for (const Work &w : batch->items)
            records.push_back(sent(outcome(w, "dead", result.describe()), w));
        break;
    }
    settle(std::move(records));
    finishStopIfIdle();
}

Dispatcher::Settle Dispatcher::outcome(const Work &work, const char *kind,
                                       const QString &reason) const
{
    Settle s;
    s.entryId = work.entryId;
    s.kind = kind;
    s.taskId = work.lead.taskId;
    s.member = work.member;
    s.reason = reason;
    s.attempt = work.lead.attempt;
    if (m_options.journal) // an empty identity is not journalled
        s.identity = work.lead.needsLookup ? QStringLiteral("close:") + work.lead.closeLeadId
                                           : journalIdentity(work.lead.lead.email);
    s.campaign = work.lead.campaignName;
    return s;
}

void Dispatcher::journalAttempt(const Batch &batch, const Request &request, const QString &detail)
{
    if (!m_options.journal)
        return;
    QList<LeadJournal::Entry> entries;
    for (const Work &w : batch.items) {
        JournalEvent e;
        e.kind = QStringLiteral("attempt");
        e.atMs = wallClockMs();
        e.task = w.lead.taskId;
        e.campaign = w.lead.campaignName;
        e.detail = detail;
        e.instance = m_options.consumerName;
        e.attempt = w.lead.attempt + 1;
        e.status = request.status;
        e.latencyMs = request.latencyMs;
        e.waitMs = request.waitMs;
        e.breaker = QString::fromUtf8(request.breaker);
        e.batch = request.leads;
        entries.append({ journalIdentity(w.lead.lead.email), e });
    }
    LeadJournal(m_services.redis, m_keys).append(entries, {});
}

Dispatcher::Settle Dispatcher::transientFailure(const Work &work, const QString &reason) const
{
    const int attempt = work.lead.attempt + 1;
    if (attempt >= m_options.maxAttempts)
        return outcome(work, "dead",
                       QStringLiteral("gave up after %1 attempts: %2").arg(attempt).arg(reason));
    Settle s = outcome(work, "retry", reason);
    s.attempt = attempt;
    s.retryAtMs = wallClockMs()
        + retryDelay(attempt, m_options.retryBase, m_options.retryCap,
                     QRandomGenerator::global()->generateDouble())
              .count();
    return s;
}

void Dispatcher::settle(std::vector<Settle> records)
{
    if (records.empty())
        return;
    // Redis runs one script at a time: a 1000-lead settle held it for 15-20 ms (up to 70)
    // and every webhook acknowledgement waited behind it. Chunks keep each hold near 1 ms;
    // every entry is still settled atomically with its own bookkeeping.
    if (records.size() > kSettleChunk) {
        for (size_t i = 0; i < records.size(); i += kSettleChunk) {
            const auto first = records.begin() + qsizetype(i);
            const auto last
                = records.begin() + qsizetype(std::min(records.size(), i + kSettleChunk));
            settle(
                std::vector<Settle>(std::make_move_iterator(first), std::make_move_iterator(last)));
        }
        return;
    }
    QList<QByteArray> args { RedisKeys::dispatcherGroup(), num(wallClockMs()), m_keys.prefix,
                             m_options.consumerName.toUtf8() };
    for (const Settle &s : records)
        args << s.entryId << s.kind << s.taskId.toUtf8() << s.member << s.reason.toUtf8()
             << num(s.retryAtMs) << num(s.attempt) << s.identity.toUtf8() << s.campaign.toUtf8()
             << num(s.request.number) << num(s.request.status) << num(s.request.latencyMs)
             << num(s.request.waitMs) << s.request.breaker << num(s.request.leads);
    QPointer<Dispatcher> self(this);
    m_services.redis->evalScript(
        kSettle, { m_keys.leads(), m_keys.retries(), m_keys.deadLetters(), m_keys.delivered() },
        args, [self, records = std::move(records)](RedisResult r) {
            if (!self)
                return;
            for (const Settle &s : records)
                self->forget(s.entryId);
            if (!r.ok()) {
                // Nothing happened: the entries stay pending and are reclaimed later.
                self->noteError(
                    QStringLiteral("settling %1 leads failed, they will be reclaimed: %2")
                        .arg(records.size())
                        .arg(r.error().describe()));
            } else {
                for (const Settle &s : records) {
                    if (s.kind == "ok")
                        ++self->m_snapshot.succeeded;
                    else if (s.kind == "skip")
                        ++self->m_snapshot.skipped;
                    else if (s.kind == "fail")
                        ++self->m_snapshot.failed;
                    else if (s.kind == "dead")
                        ++self->m_snapshot.dead;
                    else if (s.kind == "retry")
                        ++self->m_snapshot.retried;
                }
            }
            self->changed();
            self->readNext();
        });
}

void Dispatcher::maintain()
{
    if (!m_running)
        return;
    RedisClient *redis = m_services.redis;
    QPointer<Dispatcher> self(this);
    redis->command({ "HGET", m_keys.control(), "paused" }, [self](RedisResult r) {
        if (self && r.ok())
            self->setPaused(r.value().isString(), QString::fromUtf8(r.value().bytes()));
    });
    if (m_paused)
        return;
    redis->evalScript(kPromote, { m_keys.retries(), m_keys.leads() }, { num(wallClockMs()), "500" },
                      {});
    // Keep what we hold from looking abandoned.
    if (!m_known.isEmpty()
        && m_sinceHeartbeat.elapsed() >= m_options.claimIdleTimeout.count() / 3) {
        m_sinceHeartbeat.restart();
        QList<QByteArray> argv { "XCLAIM", m_keys.leads(), RedisKeys::dispatcherGroup(),
                                 m_options.consumerName.toUtf8(), "0" };
        for (const QByteArray &id : std::as_const(m_known))
            argv << id;
        argv << "JUSTID";
        redis->command(argv, {});
    }
    const int room = m_options.maxInFlight - int(m_known.size());
    if (room <= 0)
        return;
    redis->command({ "XAUTOCLAIM", m_keys.leads(), RedisKeys::dispatcherGroup(),
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
                           qCInfo(lcDispatcher).noquote()
                               << "reclaimed" << entries.elements().size() << "entries";
                       self->onEntries(entries);
                   });
}

void Dispatcher::setPaused(bool paused, const QString &reason)
{
    if (paused == m_paused && reason == m_pausedReason)
        return;
    m_paused = paused;
    m_pausedReason = reason;
    m_snapshot.paused = paused;
    m_snapshot.pausedReason = reason;
    qCInfo(lcDispatcher).noquote()
        << (paused ? QStringLiteral("paused: %1").arg(reason) : QStringLiteral("resumed"));
    changed();
    readNext();
}

void Dispatcher::noteError(const QString &message)
{
    qCWarning(lcDispatcher).noquote() << message;
    m_snapshot.lastError = message;
    m_snapshot.lastErrorMs = wallClockMs();
}

void Dispatcher::changed()
{
    Q_EMIT snapshotChanged(m_snapshot);
}

void Dispatcher::retryDead(int maxCount, std::function<void(Result<int, RedisError>)> done)
{
    retryDead(m_services.redis, m_keys, maxCount, std::move(done));
}

void Dispatcher::retryDead(RedisClient *redis, const RedisKeys &keys, int maxCount,
                           std::function<void(Result<int, RedisError>)> done)
{
    redis->loadScript(kRetryDead, bundledLuaScript(kRetryDead));
    redis->evalScript(kRetryDead, { keys.deadLetters(), keys.leads() },
                      { keys.prefix, num(std::max(1, maxCount)) },
                      [done = std::move(done)](RedisResult r) {
                          if (!done)
                              return;
                          if (!r.ok())
                              done(r.error());
                          else
                              done(int(r.value().integer()));
                      });
}

} // namespace sluice
