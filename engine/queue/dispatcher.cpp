#include "dispatcher.h"

#include "breaker/sharedbreaker.h"
#include "campaigncheck.h"
#include "campaignresolver.h"
#include "close/closeclient.h"
#include "close/closelookup.h"
#include "core/clock.h"
#include "core/jsontext.h"
#include "instantly/instantlyclient.h"
#include "journal/leadjournal.h"
#include "limiter/sendaudit.h"
#include "net/apitransport.h"
#include "net/upstreamgate.h"
#include "parkedcampaigns.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"
#include "redis/redisdurability.h"
#include "retrypolicy.h"
#include "schemagate.h"
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
const QString kResume = QStringLiteral("control_resume");
const QString kDelivered = QStringLiteral("dispatch_delivered");

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
    if (!m_gate)
        m_gate = m_services.gate
            ? m_services.gate
            : new UpstreamGate(m_services.limiter, m_services.breaker, m_services.audit, this);
    if (m_services.close && !m_closeLookup) {
        CloseLookupOptions lookups;
        lookups.batch = m_options.lookupBatch;
        lookups.window = m_options.lookupWindow;
        m_closeLookup = new CloseLookup(m_services.close, lookups, this);
        connect(m_closeLookup, &CloseLookup::noticeRaised, this, &Dispatcher::warningRaised);
    }
    for (const QString &name : { kExpand, kResume, kDelivered })
        redis->loadScript(name, bundledLuaScript(name));
    if (!m_consumer) {
        m_consumer = new StreamConsumer(redis, m_keys, m_options, this);
        m_consumer->setHandler([this](const QByteArray &id, const QList<QByteArray> &fields,
                                      bool reclaimed) { onEntry(id, fields, reclaimed); });
        connect(m_consumer, &StreamConsumer::errorNoted, this, &Dispatcher::noteError);
        connect(m_consumer, &StreamConsumer::pausedChanged, this, &Dispatcher::setPaused);
        connect(m_consumer, &StreamConsumer::readFinished, this, &Dispatcher::finishStopIfIdle);
        connect(m_consumer, &StreamConsumer::entriesLost, this, &Dispatcher::dropLost);
        connect(m_consumer, &StreamConsumer::heldChanged, this,
                [this](int held) { m_snapshot.inFlight = held; });
        InstantlyClient *lookups = m_services.lookups ? m_services.lookups : m_services.instantly;
        m_campaigns = new CampaignResolver(redis, m_keys, lookups, m_options, this);
        connect(m_campaigns, &CampaignResolver::errorNoted, this, &Dispatcher::noteError);
        m_settler = new Settler(redis, m_keys, m_options.consumerName.toUtf8(),
                                m_options.deliveredRetention, this);
        m_check = new CampaignCheck(lookups, this);
        m_parked = new ParkedCampaigns(redis, m_keys, m_campaigns, m_options.consumerName.toUtf8(),
                                       m_options.journal, this);
        m_parkedTimer.setInterval(m_options.parkedRecheck);
        connect(&m_parkedTimer, &QTimer::timeout, this,
                [this] { m_parked->recheck(m_options.parkedRecheck); });
        // Asked often; the shared lock makes it one probe per interval for the fleet.
        m_probeTimer.setInterval(std::max(milliseconds { 100 }, m_options.probeInterval / 10));
        connect(&m_probeTimer, &QTimer::timeout, this, &Dispatcher::probe);
    }
    m_running = true;
    m_stopping = false;
    m_snapshot.running = true;
    checkRedisConfig();
    // No lead is read before the data is known to be of this build's schema (migrated once
    // if older; refused if newer).
    if (!m_schema)
        m_schema = new SchemaGate(redis, m_keys, m_options.consumerName.toUtf8(), this);
    QPointer<Dispatcher> self(this);
    m_schema->ensure([self](std::optional<QString> refusal) {
        if (!self || !self->m_running)
            return;
        if (refusal) {
            qCCritical(lcDispatcher).noquote() << *refusal;
            self->noteError(*refusal);
            self->stop();
            Q_EMIT self->refused(*refusal);
            return;
        }
        self->m_consumer->start();
        self->m_parkedTimer.start();
        self->m_probeTimer.start();
    });
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
    // Three GETs: CONFIG GET with several patterns needs Redis 7.
    m_services.redis->command({ "CONFIG", "GET", "appendonly" }, [self](RedisResult aof) {
        if (!self || !aof.ok())
            return;
        self->m_services.redis->command(
            { "CONFIG", "GET", "appendfsync" }, [self, aof](RedisResult fsync) {
                if (!self || !fsync.ok())
                    return;
                self->m_services.redis->command(
                    { "CONFIG", "GET", "save" }, [self, aof, fsync](RedisResult rdb) {
                        if (!self || !rdb.ok())
                            return;
                        const auto problem
                            = redisDurabilityProblem(pairValue(aof.value(), "appendonly"),
                                                     pairValue(fsync.value(), "appendfsync"),
                                                     pairValue(rdb.value(), "save"));
                        if (problem) {
                            qCWarning(lcDispatcher).noquote() << *problem;
                            Q_EMIT self->warningRaised(*problem);
                        }
                    });
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
    m_parkedTimer.stop();
    m_probeTimer.stop();
    // Hand back what has not been sent: another instance may take it at once.
    handBack(takeUnsent());
    m_snapshot.running = false;
    changed();
    finishStopIfIdle();
}

std::vector<Dispatcher::Work> Dispatcher::takeUnsent()
{
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
    // The batch the open breaker holds in the gate (one taking its limiter slot goes on to
    // the fence, which sees the stop or pause).
    if (m_admission && m_gate->withdraw(m_admission)) {
        for (Work &w : m_admitting->items)
            unsent.push_back(std::move(w));
        m_admission = 0;
        m_admitting.reset();
        m_acquiring = false;
    }
    return unsent;
}

void Dispatcher::dropLost(const QList<QByteArray> &ids)
{
    // Another consumer took these over (this one looked dead): they are its to send now.
    auto lost = [&ids](const Work &w) { return ids.contains(w.entryId); };
    for (auto &waiting : m_awaitingCampaign)
        std::erase_if(waiting, lost);
    for (const BatchPtr &b : std::as_const(m_open))
        std::erase_if(b->items, lost);
    for (const BatchPtr &b : m_queue)
        std::erase_if(b->items, lost);
    noteError(QStringLiteral("%1 leads were taken over by another consumer").arg(ids.size()));
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

void Dispatcher::onEntry(const QByteArray &id, const QList<QByteArray> &fields, bool reclaimed)
{
    auto parsed = QueuedLead::fromFields(fields);
    if (!parsed.ok()) {
        // Not ours to repair: count it failed (when it names a task) and drop it.
        SettleRecord s;
        s.entryId = id;
        s.kind = Settlement::Dead;
        s.code = LeadReason::UnreadableEntry;
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
    // Taken over from a consumer that stopped mid-way: its request may have gone out, so the
    // campaign is listed for the lead before it is sent (Instantly has no idempotency keys).
    if (reclaimed)
        work.lead.uncertain = true;
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
        settle({ outcome(work, Settlement::Dead, answer.reason, LeadReason::CloseLeadMissing) });
        return;
    case CloseLookupAnswer::Status::Failed:
        doneLookingUp();
        noteError(answer.reason);
        if (answer.call.httpStatus == 401 || answer.call.httpStatus == 403) {
            // The key, not the lead: the fleet pauses and the lead waits in the queue.
            pauseFleet(PauseCause::CloseKeyRejected,
                       QStringLiteral("Close API key rejected (HTTP %1)%2")
                           .arg(answer.call.httpStatus)
                           .arg(m_services.close && !m_services.close->hasKey()
                                    ? QStringLiteral(": CLOSE_API_KEY is not set")
                                    : QString()));
            handBack({ work });
            return;
        }
        if (answer.call.outcome == CallOutcome::Permanent)
            settle(
                { outcome(work, Settlement::Dead, answer.reason, LeadReason::CloseLeadUnusable) });
        else
            settle({ transientFailure(work, answer.reason) });
        return;
    case CloseLookupAnswer::Status::Found:
        break;
    }
    QList<QByteArray> args { RedisKeys::dispatcherGroup(), work.entryId, num(fleetClockMs()) };
    const QString reason = noUsableContactText(work.lead.closeLeadId, answer.leads.skipped);
    // No prefix: no journal (see DispatcherOptions::journal).
    args << reason.toUtf8() << (m_options.journal ? m_keys.prefix : QByteArray())
         << work.lead.closeLeadId.toUtf8() << work.lead.taskId.toUtf8() << campaign.toUtf8()
         << m_options.consumerName.toUtf8()
         << leadReasonCode(answer.leads.allUnsubscribed() ? LeadReason::Unsubscribed
                                                          : LeadReason::NoUsableEmail);
    for (const Lead &lead : answer.leads.leads) {
        QueuedLead q = work.lead;
        q.needsLookup = false;
        q.closeLeadId.clear();
        q.attempt = 0;
        q.lead = lead;
        nlohmann::json fields = nlohmann::json::array();
        for (const QByteArray &f : q.toFields())
            fields.push_back(f.toStdString());
        args << jsonBytes(fields);
    }
    const QByteArray entryId = work.entryId;
    QPointer<Dispatcher> self(this);
    m_services.redis->evalScript(
        kExpand, { m_keys.leads(), m_keys.task(work.lead.taskId), m_keys.deadLetters() }, args,
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
        if (answer.httpStatus == 401 || answer.httpStatus == 403) {
            // The key, not the leads: the fleet pauses and they wait in the queue.
            pauseFleet(PauseCause::InstantlyKeyRejected,
                       QStringLiteral("Instantly API key rejected (HTTP %1) looking up campaign "
                                      "'%2'")
                           .arg(answer.httpStatus)
                           .arg(name));
            handBack(ready);
            finishStopIfIdle();
            return;
        }
        // A campaign that does not exist (yet): its leads wait for it, parked, and go out by
        // themselves once it appears. A lookup that failed for good fails them.
        std::vector<SettleRecord> records;
        records.reserve(ready.size());
        for (const Work &w : ready)
            records.push_back(answer.missing ? outcome(w, Settlement::Park, answer.reason,
                                                       LeadReason::CampaignMissing)
                                             : outcome(w, Settlement::Failed, answer.reason));
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
    // Single mode sends one lead per request, but a lead whose earlier request may have been
    // applied (taken back after a crash, or after a lost answer) is first looked for in its
    // campaign: those are coalesced like a bulk batch, so one listing checks up to 100 of
    // them instead of one listing each (checkUncertain splits the batch again).
    if (m_options.mode == DeliveryMode::Single && !work.lead.uncertain) {
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
            timer->start(
                int(std::min<qint64>(kExpandedGraceMs, m_options.lookupHold.count() - held)));
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
    // One acquisition at a time, and a slot only while a connection is free (the cap holds
    // at the wire; see DispatcherOptions::maxRequestsInFlight).
    if (m_acquiring || m_queue.empty() || !m_running || m_snapshot.paused
        || m_requestsOut >= m_options.maxRequestsInFlight)
        return;
    BatchPtr batch = m_queue.front();
    m_queue.pop_front();
    m_acquiring = true;
    // Leads already delivered (a replay, a reclaimed entry) and repeats inside the batch are
    // no-ops: settled as skipped without a request.
    QList<QByteArray> argv { QByteArray::number(fleetClockMs()
                                                - qint64(m_options.deliveredRetention.count())) };
    for (const Work &w : batch->items)
        argv << w.member;
    QPointer<Dispatcher> self(this);
    m_services.redis->evalScript(kDelivered, { m_keys.delivered(), m_keys.legacyDelivered() }, argv,
                                 [self, batch](RedisResult r) {
                                     if (!self)
                                         return;
                                     std::vector<SettleRecord> skips;
                                     std::vector<Work> keep;
                                     QSet<QByteArray> seen;
                                     for (size_t i = 0; i < batch->items.size(); ++i) {
                                         Work &w = batch->items[i];
                                         const bool delivered
                                             = r.ok() && r.value().at(i).integer() == 1;
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
                                     self->checkUncertain(batch);
                                 });
}

void Dispatcher::checkUncertain(BatchPtr batch)
{
    // An earlier request for these may have been applied (a timeout, a 5xx, an unreadable
    // 2xx): Instantly has no idempotency keys, so the campaign is listed for them first.
    QStringList emails;
    for (const Work &w : batch->items)
        if (w.lead.uncertain)
            emails << normalizedEmail(w.lead.lead.email);
    if (emails.isEmpty()) {
        gate(batch);
        return;
    }
    QPointer<Dispatcher> self(this);
    m_check->present(
        batch->campaignId, emails, [self, batch](Result<QSet<QString>, ApiResult> found) {
            if (!self)
                return;
            std::vector<SettleRecord> records;
            std::vector<Work> send;
            for (Work &w : batch->items) {
                if (!w.lead.uncertain) {
                    send.push_back(std::move(w));
                } else if (!found.ok()) {
                    records.push_back(self->transientFailure(
                        w,
                        QStringLiteral(
                            "an earlier answer was uncertain, and the campaign could not "
                            "be listed for it: %1")
                            .arg(found.error().describe()),
                        true));
                } else if (found->contains(normalizedEmail(w.lead.lead.email))) {
                    records.push_back(self->outcome(
                        w, Settlement::Delivered,
                        QStringLiteral("in the campaign after an uncertain answer (seen in its "
                                       "listing): not sent again")));
                } else {
                    w.lead.uncertain = false; // not there: send it
                    send.push_back(std::move(w));
                }
            }
            batch->items = std::move(send);
            self->settle(std::move(records));
            if (batch->items.empty()) {
                self->m_acquiring = false;
                self->finishStopIfIdle();
                self->pump();
                return;
            }
            if (self->m_options.mode == DeliveryMode::Single && batch->items.size() > 1) {
                // Checked together, sent one by one: the rest wait at the front of the line.
                for (size_t i = batch->items.size() - 1; i >= 1; --i) {
                    auto one = std::make_shared<Batch>();
                    one->campaignId = batch->campaignId;
                    one->items.push_back(std::move(batch->items[i]));
                    self->m_queue.push_front(std::move(one));
                }
                batch->items.resize(1);
            }
            self->gate(batch);
        });
}

void Dispatcher::probe()
{
    if (!m_running || !m_snapshot.paused)
        return;
    const PauseCause cause = m_consumer->pausedCause();
    if (cause == PauseCause::Operator)
        return; // an operator's pause ends by hand
    QPointer<Dispatcher> self(this);
    // One probe for the whole fleet per interval.
    m_services.redis->command({ "SET", m_keys.probe(), m_options.consumerName.toUtf8(), "NX", "PX",
                                QByteArray::number(qint64(m_options.probeInterval.count())) },
                              [self, cause](RedisResult won) {
                                  if (self && won.ok() && won.value().isStatus())
                                      self->runProbe(cause);
                              });
}

void Dispatcher::runProbe(PauseCause cause)
{
    QPointer<Dispatcher> self(this);
    InstantlyClient *instantly = m_services.lookups ? m_services.lookups : m_services.instantly;
    auto passed = [self, cause](const QString &why) {
        if (self)
            self->resumeFleet(cause, why);
    };
    switch (cause) {
    case PauseCause::InstantlyKeyRejected:
        instantly->listCampaigns({}, 1, {}, [passed](ApiReply<Page<Campaign>> r) {
            if (r.ok())
                passed(QStringLiteral("the Instantly API key is accepted again"));
        });
        return;
    case PauseCause::CloseKeyRejected:
        if (!m_services.close)
            return;
        // A lead that does not exist: 404 is an accepted key, 401/403 is not.
        m_services.close->getLead(
            QStringLiteral("lead_sluice_probe"), [passed](ApiReply<QByteArray> r) {
                if (r.ok() || r.error().httpStatus == 404)
                    passed(QStringLiteral("the Close API key is accepted again"));
            });
        return;
    case PauseCause::PlanExhausted:
        // A bulk add of one invalid address creates nothing, and the answer says what is left
        // of the plan. It needs a campaign: any the fleet knows.
        m_services.redis->command(
            { "HRANDFIELD", m_keys.campaigns(), "1", "WITHVALUES" },
            [self, instantly, passed](RedisResult r) {
                if (!self)
                    return;
                if (!r.ok() || r.value().elements().size() < 2) {
                    passed(QStringLiteral("no campaign to probe the plan with: trying again"));
                    return;
                }
                Lead probe;
                probe.email = QStringLiteral("sluice plan probe");
                instantly->addLeads(
                    QString::fromUtf8(r.value().at(1).bytes()), { probe }, SkipFlags {},
                    [passed](ApiReply<BulkAddResult> answer) {
                        if (answer.ok() && answer->remainingInPlan != 0)
                            passed(QStringLiteral("the Instantly plan has leads left again"));
                    });
            });
        return;
    case PauseCause::Operator:
        return;
    }
}

void Dispatcher::resumeFleet(PauseCause cause, const QString &why)
{
    QPointer<Dispatcher> self(this);
    m_services.redis->evalScript(kResume, { m_keys.control() }, { pauseCauseName(cause) },
                                 [self, why](RedisResult r) {
                                     if (self && r.ok() && r.value().integer() == 1)
                                         qCInfo(lcDispatcher).noquote() << "resuming:" << why;
                                 });
}

void Dispatcher::pauseFleet(PauseCause cause, const QString &reason)
{
    // The whole fleet stops sending, with the reason everywhere (console, /healthz, logs). An
    // operator's pause already in force is left as it is.
    qCWarning(lcDispatcher).noquote() << "pausing the fleet:" << reason;
    QPointer<Dispatcher> self(this);
    m_services.redis->command(
        { "HSETNX", m_keys.control(), "paused", reason.toUtf8() }, [self, cause](RedisResult r) {
            if (!self || !r.ok() || r.value().integer() != 1)
                return;
            self->m_services.redis->command({ "HSET", self->m_keys.control(), "paused_cause",
                                              pauseCauseName(cause), "paused_ms",
                                              QByteArray::number(fleetClockMs()) },
                                            {});
        });
    m_consumer->pauseNow(reason, cause); // and through pausedChanged, this dispatcher
    if (!m_snapshot.paused)
        setPaused(true, reason);
}

void Dispatcher::noteRemainingInPlan(int remaining)
{
    if (remaining < 0)
        return;
    m_snapshot.remainingInPlan = remaining;
    m_services.redis->command(
        { "HSET", m_keys.control(), "remaining_in_plan", QByteArray::number(remaining) }, {});
    if (remaining == 0 && !m_snapshot.paused)
        pauseFleet(PauseCause::PlanExhausted,
                   QStringLiteral("Instantly plan exhausted: remaining_in_plan is 0"));
}

void Dispatcher::gate(BatchPtr batch)
{
    if (!m_running || m_snapshot.paused) {
        handBack(batch->items);
        m_acquiring = false;
        finishStopIfIdle();
        return;
    }
    // The breaker first (while open the batch waits in the gate; a pause or stop withdraws
    // it, see takeUnsent), then a limiter slot, immediately before the request.
    QPointer<Dispatcher> self(this);
    QPointer<UpstreamGate> gate(m_gate);
    m_admitting = batch;
    const quint64 admission = m_gate->request([self, gate, batch](quint64 ticket) {
        if (!self) {
            if (gate)
                gate->release(ticket);
            return;
        }
        self->admitted(batch, ticket);
    });
    if (m_admitting) // not admitted at once (no limiter): it may still be withdrawn
        m_admission = admission;
}

void Dispatcher::admitted(BatchPtr batch, quint64 ticket)
{
    m_admission = 0;
    m_admitting.reset();
    m_acquiring = false;
    batch->limiterWaitMs = m_gate->pass(ticket).value_or(UpstreamGate::Pass {}).limiterWaitMs;
    // The fence, right before the request: only what this consumer still owns leaves.
    QList<QByteArray> ids;
    for (const Work &w : batch->items)
        ids << w.entryId;
    QPointer<Dispatcher> self(this);
    m_consumer->confirmOwned(ids, [self, batch, ticket](std::optional<QList<QByteArray>> lost) {
        if (!self)
            return;
        if (lost && !lost->isEmpty())
            std::erase_if(batch->items, [&](const Work &w) { return lost->contains(w.entryId); });
        const bool mayGo = lost && self->m_running && !self->m_snapshot.paused;
        if (!mayGo || batch->items.empty()) {
            // Not sent: the slot is spent, a half-open trial permit goes back.
            self->m_gate->release(ticket);
            if (!lost || !self->m_running || self->m_snapshot.paused)
                self->handBack(batch->items);
            self->finishStopIfIdle();
            self->pump();
            return;
        }
        self->send(batch, ticket);
        self->pump();
    });
}

void Dispatcher::send(BatchPtr batch, quint64 ticket)
{
    m_sending += int(batch->items.size());
    ++m_requestsOut;
    ++m_snapshot.requests;
    m_snapshot.sending = m_sending;
    SkipFlags flags;
    flags.ifInCampaign = m_options.skipIf == SkipIf::InCampaign;
    flags.ifInWorkspace = m_options.skipIf == SkipIf::InWorkspace;
    QPointer<Dispatcher> self(this);
    if (m_options.mode == DeliveryMode::Single) {
        // Instantly answers a skip with the existing lead: one made before this request was
        // not created by it (see skipDetectionMargin), so it is delivered only once seen in
        // the campaign.
        const qint64 existedBeforeMs = wallClockMs() - m_options.skipDetectionMargin.count();
        m_services.instantly->createLead(
            batch->campaignId, batch->items.front().lead.lead, flags,
            [self, batch, ticket, existedBeforeMs](ApiReply<LeadRecord> r) {
                if (!self)
                    return;
                const bool existed
                    = r.ok() && r->createdAtMs > 0 && r->createdAtMs < existedBeforeMs;
                BulkLeadOutcome one;
                one.kind
                    = existed ? BulkLeadOutcome::Kind::Check : BulkLeadOutcome::Kind::Delivered;
                self->onAnswer(batch, ticket, r.call(), { one }, {});
            });
        return;
    }
    std::vector<Lead> leads;
    leads.reserve(batch->items.size());
    for (const Work &w : batch->items)
        leads.push_back(w.lead.lead);
    m_services.instantly->addLeads(
        batch->campaignId, leads, flags, [self, batch, ticket](ApiReply<BulkAddResult> r) {
            if (!self)
                return;
            if (!r.ok()) {
                self->onAnswer(batch, ticket, r.call(), {}, {});
                return;
            }
            self->noteRemainingInPlan(r->remainingInPlan);
            self->onAnswer(batch, ticket, r.call(), mapBulkAnswer(batch->items.size(), r.value()),
                           bulkCountsText(r.value()));
        });
}

void Dispatcher::onAnswer(BatchPtr batch, quint64 ticket, const ApiResult &result,
                          const std::vector<BulkLeadOutcome> &outcomes, const QString &counts)
{
    m_sending -= int(batch->items.size());
    m_snapshot.sending = m_sending;
    --m_requestsOut; // a connection is free: the next batch may take its slot
    QMetaObject::invokeMethod(this, &Dispatcher::pump, Qt::QueuedConnection);
    const BreakerState breakerState = m_gate->pass(ticket).value_or(UpstreamGate::Pass {}).breaker;
    m_gate->settle(ticket, result); // the limiter's 429 penalty, the breaker, the send audit

    SettledRequest request;
    request.status = result.httpStatus;
    request.latencyMs = result.latency.count();
    request.waitMs = batch->limiterWaitMs;
    request.breaker = breakerStateName(breakerState).toUtf8();
    request.leads = int(batch->items.size());
    auto sent = [&request](SettleRecord s, const Work &w) {
        s.request = request;
        s.request.number = w.lead.attempt + 1;
        return s;
    };
    std::vector<SettleRecord> records;
    switch (result.outcome) {
    case CallOutcome::Success: {
        // One outcome per lead (mapBulkAnswer): created is delivered; a reason the totals pin
        // on every missing lead is a dead letter; the rest are looked for in the campaign.
        std::vector<Work> check;
        std::vector<LeadReason> ifAbsent;
        for (size_t i = 0; i < batch->items.size(); ++i) {
            Work &w = batch->items[i];
            const BulkLeadOutcome o = i < outcomes.size() ? outcomes[i] : BulkLeadOutcome {};
            switch (o.kind) {
            case BulkLeadOutcome::Kind::Delivered:
                records.push_back(sent(outcome(w, Settlement::Delivered), w));
                break;
            case BulkLeadOutcome::Kind::Dead:
                records.push_back(sent(outcome(w, Settlement::Dead,
                                               QStringLiteral("%1 (Instantly's answer: %2)")
                                                   .arg(leadReasonTitle(o.reason), counts),
                                               o.reason),
                                       w));
                break;
            case BulkLeadOutcome::Kind::Check:
                check.push_back(std::move(w));
                ifAbsent.push_back(o.reason);
                break;
            }
        }
        if (!check.empty())
            confirmInCampaign(batch->campaignId, std::move(check), std::move(ifAbsent), request,
                              counts);
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
        // The request may have been applied (a timeout, a 5xx, a dropped connection): the
        // campaign is listed for these leads before they are sent again.
        noteError(result.describe());
        for (const Work &w : batch->items)
            records.push_back(sent(transientFailure(w, result.describe(), true), w));
        break;
    case CallOutcome::Permanent:
        noteError(result.describe());
        if (result.httpStatus >= 200 && result.httpStatus < 300) {
            // A 2xx that cannot be read: the leads may well have been created.
            for (const Work &w : batch->items)
                records.push_back(sent(transientFailure(w, result.describe(), true), w));
            break;
        }
        if (result.httpStatus == 401 || result.httpStatus == 403) {
            // The key (or its scope), not the leads: the fleet pauses, nobody dead-letters,
            // and the leads wait in the queue until a probe (or an operator) resumes.
            pauseFleet(PauseCause::InstantlyKeyRejected,
                       QStringLiteral("Instantly API key rejected (HTTP %1): %2")
                           .arg(result.httpStatus)
                           .arg(result.message.left(200)));
            journalAttempt(*batch, request,
                           QStringLiteral("API key rejected: the fleet pauses, the lead waits"));
            handBack(batch->items);
            changed();
            finishStopIfIdle();
            return;
        }
        if (result.httpStatus == 402) {
            // Instantly's answer for a plan without leads left (single create).
            pauseFleet(PauseCause::PlanExhausted,
                       QStringLiteral("Instantly plan exhausted (HTTP 402): %1")
                           .arg(result.message.left(200)));
            for (const Work &w : batch->items)
                records.push_back(sent(
                    outcome(w, Settlement::Dead, result.describe(), LeadReason::PlanExhausted), w));
            break;
        }
        if (result.httpStatus == 404 && !batch->items.front().campaignRechecked) {
            // The cached campaign id is stale (deleted, or made again under the same name):
            // every cache forgets it and the campaign is resolved again (parked if it is
            // gone). No attempt is counted; a second 404 after that is the lead's.
            const QString name = batch->items.front().lead.campaignName;
            m_campaigns->forget(name);
            journalAttempt(*batch, request,
                           QStringLiteral("campaign id unknown to Instantly (404): looking up "
                                          "campaign '%1' again")
                               .arg(name));
            for (Work &w : batch->items) {
                w.campaignRechecked = true;
                w.campaignId.clear();
                resolveCampaign(std::move(w));
            }
            changed();
            finishStopIfIdle();
            return;
        }
        for (const Work &w : batch->items)
            records.push_back(
                sent(outcome(w, Settlement::Dead, result.describe(), LeadReason::Rejected), w));
        break;
    }
    settle(std::move(records));
    finishStopIfIdle();
}

SettleRecord Dispatcher::outcome(const Work &work, Settlement kind, const QString &reason,
                                 LeadReason code) const
{
    SettleRecord s;
    s.entryId = work.entryId;
    s.kind = kind;
    s.code = code;
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

SettleRecord Dispatcher::transientFailure(const Work &work, const QString &reason,
                                          bool uncertain) const
{
    const int attempt = work.lead.attempt + 1;
    if (attempt >= m_options.maxAttempts)
        return outcome(work, Settlement::Dead,
                       QStringLiteral("gave up after %1 attempts: %2").arg(attempt).arg(reason),
                       LeadReason::GaveUp);
    SettleRecord s = outcome(work, Settlement::Retry, reason);
    s.attempt = attempt;
    s.uncertain = uncertain || work.lead.uncertain;
    s.retryAtMs = fleetClockMs()
        + retryDelay(attempt, m_options.retryBase, m_options.retryCap,
                     QRandomGenerator::global()->generateDouble())
              .count();
    return s;
}

void Dispatcher::confirmInCampaign(const QString &campaignId, std::vector<Work> items,
                                   std::vector<LeadReason> ifAbsent, const SettledRequest &request,
                                   const QString &counts)
{
    QStringList emails;
    for (const Work &w : items)
        emails << normalizedEmail(w.lead.lead.email);
    QPointer<Dispatcher> self(this);
    auto shared = std::make_shared<std::vector<Work>>(std::move(items));
    m_check->present(campaignId, emails,
                     [self, shared, ifAbsent = std::move(ifAbsent), request,
                      counts](Result<QSet<QString>, ApiResult> found) {
                         if (!self)
                             return;
                         std::vector<SettleRecord> records;
                         for (size_t i = 0; i < shared->size(); ++i) {
                             const Work &w = (*shared)[i];
                             SettleRecord s;
                             if (!found.ok()) {
                                 s = self->transientFailure(
                                     w,
                                     QStringLiteral("not created, and the campaign could not "
                                                    "be listed for it: %1")
                                         .arg(found.error().describe()),
                                     true);
                             } else if (found->contains(normalizedEmail(w.lead.lead.email))) {
                                 s = self->outcome(
                                     w, Settlement::Delivered,
                                     QStringLiteral("already in this campaign (seen in its "
                                                    "listing)"));
                             } else {
                                 const LeadReason why = ifAbsent[i];
                                 s = self->outcome(w, Settlement::Dead,
                                                   QStringLiteral("%1: not in the campaign "
                                                                  "either (Instantly's answer: "
                                                                  "%2)")
                                                       .arg(leadReasonTitle(why), counts),
                                                   why);
                             }
                             s.request = request;
                             s.request.number = w.lead.attempt + 1;
                             records.push_back(std::move(s));
                         }
                         self->settle(std::move(records));
                     });
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
    case Settlement::Park:
        ++m_snapshot.parked;
        break;
    }
}

void Dispatcher::setPaused(bool paused, const QString &reason)
{
    const bool wasPaused = m_snapshot.paused;
    m_snapshot.paused = paused;
    m_snapshot.pausedReason = reason;
    qCInfo(lcDispatcher).noquote()
        << (paused ? QStringLiteral("paused: %1").arg(reason) : QStringLiteral("resumed"));
    // Paused means no request leaves once the pause is seen: what waits in memory goes back
    // to the stream (requests already on the wire finish and settle).
    if (paused && !wasPaused && m_running)
        handBack(takeUnsent());
    if (!paused)
        pump();
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

void Dispatcher::recheckParked()
{
    if (m_parked)
        m_parked->recheck(m_options.parkedRecheck, true);
}

} // namespace sluice

#include "moc_dispatcher.cpp" // NOLINT(bugprone-suspicious-include)
