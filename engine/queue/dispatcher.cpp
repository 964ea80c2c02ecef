#include "dispatcher.h"

#include "breaker/sharedbreaker.h"
#include "campaignresolver.h"
#include "close/closeclient.h"
#include "close/closelookup.h"
#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "journal/leadjournal.h"
#include "limiter/sendaudit.h"
#include "net/apitransport.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"
#include "retrypolicy.h"
#include "streamconsumer.h"

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

/// Expanded Close leads reach the stream reader within a read; a batch waits this long for
/// them after the last expansion (and re-checks this often while lookups are under way).
constexpr qint64 kExpandedGraceMs = 50;
const QString kExpand = QStringLiteral("dispatch_expand");
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
    Settler::loadScript(redis);
    if (m_services.close && !m_closeLookup) {
        CloseLookupOptions lookups;
        lookups.batch = m_options.lookupBatch;
        lookups.window = m_options.lookupWindow;
        m_closeLookup = new CloseLookup(m_services.close, lookups, this);
        connect(m_closeLookup, &CloseLookup::noticeRaised, this, &Dispatcher::warningRaised);
    }
    for (const QString &name : { kExpand, kRetryDead })
        redis->loadScript(name, bundledLuaScript(name));
    if (!m_consumer) {
        m_consumer = new StreamConsumer(redis, m_keys, m_options, this);
        m_consumer->setHandler(
            [this](const QByteArray &id, const QList<QByteArray> &fields) { onEntry(id, fields); });
        connect(m_consumer, &StreamConsumer::errorNoted, this, &Dispatcher::noteError);
        connect(m_consumer, &StreamConsumer::pausedChanged, this, &Dispatcher::setPaused);
        connect(m_consumer, &StreamConsumer::readFinished, this, &Dispatcher::finishStopIfIdle);
        connect(m_consumer, &StreamConsumer::heldChanged, this,
                [this](int held) { m_snapshot.inFlight = held; });
        InstantlyClient *lookups = m_services.lookups ? m_services.lookups : m_services.instantly;
        m_campaigns = new CampaignResolver(redis, m_keys, lookups, m_options, this);
        connect(m_campaigns, &CampaignResolver::errorNoted, this, &Dispatcher::noteError);
        m_settler = new Settler(redis, m_keys, m_options.consumerName.toUtf8(), this);
    }
    m_running = true;
    m_stopping = false;
    m_snapshot.running = true;
    checkRedisConfig();
    m_consumer->start();
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
    m_consumer->stop();
    // Hand back what has not been sent: another instance may take it at once.
    std::vector<Work> unsent;
    for (auto &waiting : m_awaitingCampaign)
        for (Work &w : waiting)
            unsent.push_back(std::move(w));
    m_awaitingCampaign.clear();
    m_campaigns->cancelAll();
    for (const BatchPtr &b : std::as_const(m_open))
        for (Work &w : b->items)
            unsent.push_back(std::move(w));
    m_open.clear();
    qDeleteAll(m_openTimers);
    m_openTimers.clear();
    for (const BatchPtr &b : m_queue)
        for (Work &w : b->items)
            unsent.push_back(std::move(w));
    m_queue.clear();
    handBack(unsent);
    m_snapshot.running = false;
    changed();
    finishStopIfIdle();
}

void Dispatcher::finishStopIfIdle()
{
    if (!m_stopping || m_consumer->isReading() || m_acquiring || m_sending > 0)
        return;
    // Lookups and settles still in flight finish on their own; their entries stay reclaimable.
    m_stopping = false;
    qCInfo(lcDispatcher).noquote() << "dispatcher" << m_options.consumerName << "stopped";
    Q_EMIT stopped();
}

void Dispatcher::handBack(const std::vector<Work> &items)
{
    QList<QByteArray> ids;
    for (const Work &w : items)
        ids << w.entryId;
    m_consumer->handBack(ids);
}

void Dispatcher::forget(const QByteArray &entryId)
{
    m_consumer->forget(entryId);
}

DispatcherSnapshot Dispatcher::snapshot() const
{
    return m_snapshot;
}

void Dispatcher::onEntry(const QByteArray &id, const QList<QByteArray> &fields)
{
    auto parsed = QueuedLead::fromFields(fields);
    if (!parsed.ok()) {
        // Not ours to repair: count it failed (when it names a task) and drop it.
        SettleRecord s;
        s.entryId = id;
        s.kind = Settlement::Failed;
        for (qsizetype i = 0; i + 1 < fields.size(); i += 2)
            if (fields[i] == "task")
                s.taskId = QString::fromUtf8(fields[i + 1]);
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
    if (!m_closeLookup) {
        settle({ outcome(
            work, Settlement::Dead,
            QStringLiteral("no Close client to look up lead %1").arg(work.lead.closeLeadId)) });
        return;
    }
    // While its leads are being looked up, the campaign's batch stays open (see closeBatch()).
    ++m_lookingUp[work.lead.campaignName];
    QPointer<Dispatcher> self(this);
    m_closeLookup->lookUp(work.lead.closeLeadId, [self, work](const CloseLookupAnswer &a) {
        if (!self)
            return;
        self->lookedUp(work, a);
    });
}

void Dispatcher::lookedUp(const Work &work, const CloseLookupAnswer &answer)
{
    const QString campaign = work.lead.campaignName;
    auto doneLookingUp = [this, campaign] {
        if (--m_lookingUp[campaign] <= 0)
            m_lookingUp.remove(campaign);
    };
    switch (answer.status) {
    case CloseLookupAnswer::Status::NotFound:
        doneLookingUp();
        noteError(answer.reason);
        settle({ outcome(work, Settlement::Dead, answer.reason) });
        return;
    case CloseLookupAnswer::Status::Failed:
        doneLookingUp();
        noteError(answer.reason);
        if (answer.call.outcome == CallOutcome::Permanent)
            settle({ outcome(work, Settlement::Dead, answer.reason) });
        else
            settle({ transientFailure(work, answer.reason) });
        return;
    case CloseLookupAnswer::Status::Found:
        break;
    }
    QList<QByteArray> args { RedisKeys::dispatcherGroup(), work.entryId, num(wallClockMs()) };
    QString reason
        = QStringLiteral("Close lead %1 has no usable contact").arg(work.lead.closeLeadId);
    if (!answer.leads.skipped.isEmpty())
        reason += QStringLiteral(" (%1)").arg(answer.leads.skipped.join(QStringLiteral("; ")));
    // No prefix: no journal (see DispatcherOptions::journal).
    args << reason.toUtf8() << (m_options.journal ? m_keys.prefix : QByteArray())
         << work.lead.closeLeadId.toUtf8() << work.lead.taskId.toUtf8() << campaign.toUtf8()
         << m_options.consumerName.toUtf8();
    for (const Lead &lead : answer.leads.leads) {
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
    QPointer<Dispatcher> self(this);
    m_services.redis->evalScript(
        kExpand, { m_keys.leads(), m_keys.task(work.lead.taskId) }, args,
        [self, entryId, doneLookingUp](RedisResult done) {
            if (!self)
                return;
            // The expanded entries come back through the stream within a read: until then,
            // the campaign's batch is still waiting for them.
            doneLookingUp();
            self->m_lastExpanded.start();
            if (!done.ok())
                self->noteError(
                    QStringLiteral("expanding a Close lead failed: %1").arg(describe(done)));
            self->forget(entryId);
            self->changed();
            self->m_consumer->readMore();
        });
}

void Dispatcher::resolveCampaign(Work work)
{
    const QString name = work.lead.campaignName;
    auto &waiting = m_awaitingCampaign[name];
    waiting.push_back(std::move(work));
    if (waiting.size() > 1)
        return; // the resolver answers them together
    m_campaigns->resolve(name, [this, name](const CampaignAnswer &answer) {
        std::vector<Work> ready = m_awaitingCampaign.take(name);
        if (answer.id) {
            for (Work &w : ready) {
                w.campaignId = *answer.id;
                enqueue(std::move(w));
            }
            return;
        }
        if (answer.reason.isEmpty()) { // stopping: stop() handed them back
            finishStopIfIdle();
            return;
        }
        std::vector<SettleRecord> records;
        for (const Work &w : ready)
            records.push_back(outcome(w, Settlement::Failed, answer.reason));
        settle(std::move(records));
    });
}

void Dispatcher::enqueue(Work work)
{
    if (!m_running) {
        handBack({ work });
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
        open->opened.start();
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
    BatchPtr batch = m_open.value(campaignId);
    if (!batch || batch->items.empty()) {
        if (QTimer *timer = m_openTimers.take(campaignId))
            timer->deleteLater();
        m_open.remove(campaignId);
        return;
    }
    // Lead-less webhooks: the campaign's leads come back from Close lookups a page at a time.
    // While some are still being looked up (or were just expanded and are on their way back
    // through the stream), the batch stays open, up to lookupHold, so they leave together.
    const bool full = int(batch->items.size()) >= m_options.maxBatch;
    const QString name = batch->items.front().lead.campaignName;
    const bool lookupsUnderway = m_lookingUp.value(name) > 0
        || (m_lastExpanded.isValid() && m_lastExpanded.elapsed() < kExpandedGraceMs);
    const qint64 held = batch->opened.elapsed();
    if (!full && m_running && lookupsUnderway && held < m_options.lookupHold.count()) {
        if (QTimer *timer = m_openTimers.value(campaignId))
            timer->start(std::min<qint64>(kExpandedGraceMs, m_options.lookupHold.count() - held));
        return;
    }
    if (QTimer *timer = m_openTimers.take(campaignId))
        timer->deleteLater();
    m_open.remove(campaignId);
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
        std::vector<SettleRecord> skips;
        std::vector<Work> keep;
        QSet<QByteArray> seen;
        for (size_t i = 0; i < batch->items.size(); ++i) {
            Work &w = batch->items[i];
            const bool delivered = r.ok() && r.value().at(i).integer() == 1;
            if (delivered || seen.contains(w.member)) {
                skips.push_back(self->outcome(w, Settlement::Skipped));
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
        handBack(batch->items);
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

    SettledRequest request;
    request.status = result.httpStatus;
    request.latencyMs = result.latency.count();
    request.waitMs = batch->limiterWaitMs;
    request.breaker = breakerStateName(permit.state).toUtf8();
    request.leads = int(batch->items.size());
    auto sent = [&request](SettleRecord s, const Work &w) {
        s.request = request;
        s.request.number = w.lead.attempt + 1;
        return s;
    };
    std::vector<SettleRecord> records;
    switch (result.outcome) {
    case CallOutcome::Success: {
        std::vector<bool> created(batch->items.size(), false);
        for (int index : createdIndices)
            if (index >= 0 && size_t(index) < created.size())
                created[size_t(index)] = true;
        for (size_t i = 0; i < batch->items.size(); ++i) {
            const Work &w = batch->items[i];
            if (created[i])
                records.push_back(sent(outcome(w, Settlement::Delivered), w));
            else if (auto problem = emailProblem(w.lead.lead.email))
                records.push_back(
                    sent(outcome(w, Settlement::Dead,
                                 QStringLiteral("Instantly rejected the email '%1': %2")
                                     .arg(w.lead.lead.email, *problem)),
                         w));
            else
                records.push_back(
                    sent(outcome(w, Settlement::Skipped,
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
            handBack(batch->items);
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
            records.push_back(sent(outcome(w, Settlement::Dead, result.describe()), w));
        break;
    }
    settle(std::move(records));
    finishStopIfIdle();
}

SettleRecord Dispatcher::outcome(const Work &work, Settlement kind, const QString &reason) const
{
    SettleRecord s;
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

void Dispatcher::journalAttempt(const Batch &batch, const SettledRequest &request,
                                const QString &detail)
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

SettleRecord Dispatcher::transientFailure(const Work &work, const QString &reason) const
{
    const int attempt = work.lead.attempt + 1;
    if (attempt >= m_options.maxAttempts)
        return outcome(work, Settlement::Dead,
                       QStringLiteral("gave up after %1 attempts: %2").arg(attempt).arg(reason));
    SettleRecord s = outcome(work, Settlement::Retry, reason);
    s.attempt = attempt;
    s.retryAtMs = wallClockMs()
        + retryDelay(attempt, m_options.retryBase, m_options.retryCap,
                     QRandomGenerator::global()->generateDouble())
              .count();
    return s;
}

void Dispatcher::settle(std::vector<SettleRecord> records)
{
    if (records.empty())
        return;
    m_settler->settle(std::move(records),
                      [this](const std::vector<SettleRecord> &settled, const QString &error) {
                          for (const SettleRecord &s : settled)
                              forget(s.entryId);
                          if (!error.isEmpty()) {
                              // Nothing happened: the entries stay pending and are reclaimed.
                              noteError(QStringLiteral("settling %1 leads failed, they will be "
                                                       "reclaimed: %2")
                                            .arg(settled.size())
                                            .arg(error));
                          } else {
                              for (const SettleRecord &s : settled)
                                  count(s.kind);
                          }
                          changed();
                          m_consumer->readMore();
                      });
}

void Dispatcher::count(Settlement kind)
{
    switch (kind) {
    case Settlement::Delivered:
        ++m_snapshot.succeeded;
        break;
    case Settlement::Skipped:
        ++m_snapshot.skipped;
        break;
    case Settlement::Failed:
        ++m_snapshot.failed;
        break;
    case Settlement::Dead:
        ++m_snapshot.dead;
        break;
    case Settlement::Retry:
        ++m_snapshot.retried;
        break;
    }
}

void Dispatcher::setPaused(bool paused, const QString &reason)
{
    m_snapshot.paused = paused;
    m_snapshot.pausedReason = reason;
    qCInfo(lcDispatcher).noquote()
        << (paused ? QStringLiteral("paused: %1").arg(reason) : QStringLiteral("resumed"));
    changed();
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
