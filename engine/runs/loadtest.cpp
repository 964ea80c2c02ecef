#include "loadtest.h"

#include "close/closesignature.h"
#include "core/clock.h"
#include "core/jsontext.h"
#include "instantly/instantlyclient.h"
#include "limiter/sendaudit.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"
#include "runs/webhookfirer.h"

#include <QDateTime>
#include <QLoggingCategory>

#include <nlohmann/json.hpp>

#include <cmath>

namespace sluice {

Q_LOGGING_CATEGORY(lcLoadTest, "sluice.loadtest")

using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

const QString kProgressScript = QStringLiteral("run_progress");

/// Settled-per-second over this much recent history, for the ETA.
constexpr qint64 kDrainWindowMs = 5000;

QString ms(qint64 us)
{
    return QString::number(double(us) / 1000.0, 'f', us < 10'000 ? 1 : 0) + QStringLiteral(" ms");
}

} // namespace

LoadTestRun::LoadTestRun(RunDefinition definition, LoadTestServices services, QObject *parent)
    : QObject(parent)
    , m_services(std::move(services))
{
    m_record.definition = std::move(definition);
    m_progress.total = m_record.definition.leads;
    m_poll.setInterval(250);
    connect(&m_poll, &QTimer::timeout, this, &LoadTestRun::poll);
}

LoadTestRun::~LoadTestRun() = default;

std::optional<QString> LoadTestRun::problem() const
{
    if (auto p = m_record.definition.problem())
        return p;
    if (!m_services.redis || !m_services.instantly)
        return QStringLiteral("a load test needs Redis and an Instantly client");
    if (m_record.definition.target.isEmpty() && m_services.localTarget.isEmpty())
        return QStringLiteral("no target: give a URL, or run a local listener");
    if (!m_record.definition.inlineLeads && !m_services.seedCloseLeads)
        return QStringLiteral("lead-less webhooks (as Close sends them) need their leads in "
                              "Close, and there is no sandbox here to put them in: add "
                              "--inline-leads");
    return std::nullopt;
}

namespace {

std::string closeLeadId(const RunDefinition &d, int i)
{
    return "lead_" + d.id.toStdString() + "_" + std::to_string(i);
}

json closeLeadJson(const RunDefinition &d, int i)
{
    const Lead lead = d.lead(i);
    json custom = json::object();
    for (auto it = lead.customVariables.cbegin(); it != lead.customVariables.cend(); ++it)
        custom[it.key().toStdString()] = it.value().toString().toStdString();
    return { { "id", closeLeadId(d, i) },
             { "display_name", lead.companyName.toStdString() },
             { "custom", custom },
             { "contacts",
               json::array(
                   { { { "id", "cont_" + d.id.toStdString() + "_" + std::to_string(i) },
                       { "name",
                         QString(lead.firstName + QLatin1Char(' ') + lead.lastName).toStdString() },
                       { "emails",
                         json::array({ { { "email", lead.email.toStdString() },
                                         { "type", "office" } } }) } } }) } };
}

} // namespace

QByteArray LoadTestRun::closeLead(const RunDefinition &d, int i)
{
    return jsonBytes(closeLeadJson(d, i));
}

QByteArray LoadTestRun::webhookBody(const RunDefinition &d, int i)
{
    const std::string n = std::to_string(i);
    const std::string leadId = closeLeadId(d, i);
    json body = {
        { "subscription_id", "sluice_loadtest" },
        { "event",
          { { "id", "ev_" + d.id.toStdString() + "_" + n },
            { "object_type", "task.lead" },
            { "action", "created" },
            { "lead_id", leadId },
            { "object_id", "task_" + d.id.toStdString() + "_" + n },
            { "date_created", QDateTime::currentDateTimeUtc().toString(Qt::ISODate).toStdString() },
            { "data",
              { { "text", "Instantly: " + d.campaign.toStdString() },
                { "lead_id", leadId },
                { "is_complete", false } } } } },
    };
    if (d.inlineLeads)
        body["lead"] = closeLeadJson(d, i);
    return jsonBytes(body);
}

qint64 LoadTestRun::predictMs(int leads, qint64 queueDepth, const LoadTestServices &s,
                              bool inlineLeads)
{
    const double rate = std::max(0.1, s.effectivePerSecond);
    const qint64 ahead = std::max<qint64>(0, queueDepth) + leads;
    // Webhooks are acknowledged far faster than they are delivered; a campaign lookup and the
    // coalescing window come once.
    if (s.mode == DeliveryMode::Single)
        return qint64(std::ceil((double(ahead) + 1) / rate * 1000.0));
    const double requests = std::ceil(double(ahead) / std::max(1, s.maxBatch)) + 1;
    qint64 ms = qint64(std::ceil(requests / rate * 1000.0)) + s.coalescingWindow.count();
    // Lead-less: the leads come from Close lookups, a page at a time at Close's pace; bulk
    // requests wait for them, so the lookups come first.
    if (!inlineLeads)
        ms += qint64(std::ceil(std::ceil(double(leads) / std::max(1, s.lookupBatch))
                               / std::max(0.1, s.closePerSecond) * 1000.0));
    return ms;
}

void LoadTestRun::start()
{
    m_clock.start();
    m_record.createdMs = wallClockMs();
    if (auto p = problem()) {
        // Refused before anything was sent; finished() still comes from the event loop, as
        // it always does.
        m_record.stopReason = *p;
        QTimer::singleShot(0, this, [this] {
            judge();
            finish();
        });
        return;
    }
    m_record.cap1s = capWithin(m_services.caps, std::chrono::seconds { 1 });
    m_record.cap60s = capWithin(m_services.caps, std::chrono::seconds { 60 });
    m_services.redis->loadScript(kProgressScript, bundledLuaScript(kProgressScript));
    qCInfo(lcLoadTest).noquote() << "run" << m_record.definition.id << ":"
                                 << m_record.definition.leads << "leads to campaign"
                                 << m_record.definition.campaign;
    ensureCampaign();
}

void LoadTestRun::abort(const QString &reason)
{
    if (m_done)
        return;
    m_record.stopReason = reason;
    if (m_firer && !m_firer->isFinished()) {
        m_firer->stop(); // firingDone() follows when the requests on the wire are answered
        return;
    }
    deliveryDone(reason);
}

void LoadTestRun::ensureCampaign()
{
    QPointer<LoadTestRun> self(this);
    const QString name = m_record.definition.campaign;
    m_services.instantly->findCampaign(name, [self, name](ApiReply<std::optional<Campaign>> r) {
        if (!self || self->m_done)
            return;
        if (!r.ok()) {
            self->abort(QStringLiteral("cannot look up the campaign '%1': %2")
                            .arg(name, r.error().describe()));
            return;
        }
        if (r.value()) {
            self->seedCloseLeads();
            return;
        }
        self->m_services.instantly->createCampaign(name, [self, name](ApiReply<Campaign> made) {
            if (!self || self->m_done)
                return;
            if (!made.ok()) {
                self->abort(QStringLiteral("cannot create the campaign '%1': %2")
                                .arg(name, made.error().describe()));
                return;
            }
            self->m_record.campaignCreatedByRun = true;
            qCInfo(lcLoadTest).noquote() << "created campaign" << name << made.value().id;
            self->seedCloseLeads();
        });
    });
}

void LoadTestRun::seedCloseLeads()
{
    const RunDefinition &d = m_record.definition;
    if (d.inlineLeads) {
        predictAndFire();
        return;
    }
    QByteArray leads = "[";
    for (int i = 1; i <= d.leads; ++i) {
        if (i > 1)
            leads += ',';
        leads += closeLead(d, i);
    }
    leads += ']';
    QPointer<LoadTestRun> self(this);
    m_services.seedCloseLeads(leads, [self](std::optional<QString> error) {
        if (!self || self->m_done)
            return;
        if (error) {
            self->abort(QStringLiteral("cannot put the run's leads in Close: %1").arg(*error));
            return;
        }
        self->predictAndFire();
    });
}

void LoadTestRun::predictAndFire()
{
    QPointer<LoadTestRun> self(this);
    m_services.redis->command({ "XLEN", m_services.keys.leads() }, [self](RedisResult r) {
        if (!self || self->m_done)
            return;
        const qint64 depth = r.ok() ? r.value().integer() : 0;
        self->m_record.predictedMs
            = predictMs(self->m_record.definition.leads, depth, self->m_services,
                        self->m_record.definition.inlineLeads);
        self->fire();
    });
}

void LoadTestRun::fire()
{
    const RunDefinition &d = m_record.definition;
    std::vector<FireRequest> requests;
    requests.reserve(size_t(d.leads));
    const QByteArray stamp = QByteArray::number(wallClockMs() / 1000);
    for (int i = 1; i <= d.leads; ++i) {
        FireRequest r;
        r.body = webhookBody(d, i);
        if (!m_services.webhookSecret.isEmpty()) {
            r.headers.append({ "close-sig-timestamp", stamp });
            r.headers.append(
                { "close-sig-hash", closeSignatureHash(m_services.webhookSecret, stamp, r.body) });
        }
        requests.push_back(std::move(r));
    }
    m_record.definition.signedWebhooks = !m_services.webhookSecret.isEmpty();
    FireOptions options;
    options.target = d.target.isEmpty() ? m_services.localTarget : d.target;
    options.concurrency = d.concurrency;
    options.timeout = d.thresholds.ackTimeout;
    options.failFast = d.failFast;
    m_firer = std::make_unique<WebhookFirer>(options, std::move(requests));
    connect(m_firer.get(), &WebhookFirer::progress, this, [this](int completed, int) {
        m_progress.sent = completed;
        m_lastAckElapsedMs = m_clock.elapsed();
        // Progress lines want a few updates a second, not one per webhook.
        if (completed % 25 == 0)
            Q_EMIT progressChanged(progress());
    });
    connect(m_firer.get(), &WebhookFirer::finished, this, &LoadTestRun::firingDone);
    setState(RunRecord::State::Firing);
    m_record.firstSentMs = wallClockMs();
    m_firer->start();
    m_poll.start();
}

void LoadTestRun::firingDone()
{
    const std::vector<FireResult> &results = m_firer->results();
    m_record.sent = 0;
    m_record.acknowledged = 0;
    m_record.ackFailures = 0;
    m_record.taskIds.clear();
    for (const FireResult &r : results) {
        if (!r.sent)
            continue;
        ++m_record.sent;
        if (!r.acknowledged()) {
            ++m_record.ackFailures;
            continue;
        }
        ++m_record.acknowledged;
        const QString task = taskIdOf(size_t(&r - results.data()));
        if (!task.isEmpty())
            m_record.taskIds.append(task);
    }
    m_record.ack = summarizeLatency(results);
    m_record.lastAckMs = wallClockMs();
    const double seconds = std::max(0.001, double(m_firer->elapsedMs()) / 1000.0);
    m_record.acceptedPerSecond = double(m_record.acknowledged) / seconds;
    m_progress.acknowledged = m_record.acknowledged;
    m_lastAckElapsedMs = m_clock.elapsed();
    m_lastChangeElapsedMs = m_lastAckElapsedMs;
    if (auto reason = m_firer->stopReason()) {
        if (m_record.stopReason.isEmpty())
            m_record.stopReason = QStringLiteral("fail-fast: %1").arg(*reason);
    }
    if (!m_record.stopReason.isEmpty()) {
        deliveryDone(m_record.stopReason);
        return;
    }
    setState(RunRecord::State::Delivering);
    poll();
}

QString LoadTestRun::taskIdOf(size_t index)
{
    // Each answer is parsed once, however often the progress is polled while firing.
    const FireResult &r = m_firer->results()[index];
    if (m_taskIdOf.size() != m_firer->results().size())
        m_taskIdOf.resize(m_firer->results().size());
    if (!r.acknowledged() || !m_taskIdOf[index].isEmpty())
        return m_taskIdOf[index];
    const json body = parseJson(r.body);
    if (body.is_object() && body.contains("task_id") && body["task_id"].is_string())
        m_taskIdOf[index] = QString::fromStdString(body["task_id"].get<std::string>());
    return m_taskIdOf[index];
}

void LoadTestRun::poll()
{
    if (m_polling || m_done)
        return;
    // Task ids as they are acknowledged; all of them once firing is over.
    QList<QByteArray> keys;
    if (m_record.state == RunRecord::State::Delivering) {
        for (const QString &id : std::as_const(m_record.taskIds))
            keys << m_services.keys.task(id);
    } else if (m_firer) {
        for (size_t i = 0; i < m_firer->results().size(); ++i) {
            const QString task = taskIdOf(i);
            if (!task.isEmpty())
                keys << m_services.keys.task(task);
        }
    }
    if (keys.isEmpty()) {
        onTotals({});
        return;
    }
    m_polling = true;
    QPointer<LoadTestRun> self(this);
    m_services.redis->evalScript(kProgressScript, keys, {}, [self](RedisResult r) {
        if (!self)
            return;
        self->m_polling = false;
        if (!r.ok()) {
            qCWarning(lcLoadTest).noquote() << "reading progress:" << r.error().describe();
            return;
        }
        std::vector<qint64> sums;
        for (const RedisReply &e : r.value().elements())
            sums.push_back(e.integer());
        self->onTotals(sums);
    });
}

void LoadTestRun::onTotals(const std::vector<qint64> &sums)
{
    if (m_done)
        return;
    const auto at = [&](size_t i) { return i < sums.size() ? sums[i] : 0; };
    m_tasksFound = int(at(0));
    const int total = int(at(1));
    const int processed = int(at(2));
    m_record.delivered = int(at(3));
    m_record.skipped = int(at(4));
    m_record.failed = int(at(5));
    m_record.dead = int(at(6));
    m_record.retries = int(at(7));
    m_record.rateLimitDelays = int(at(8));
    m_progress.settled = processed;
    m_progress.delivered = m_record.delivered + m_record.skipped;

    const qint64 now = m_clock.elapsed();
    if (processed != m_lastSettled) {
        m_lastSettled = processed;
        m_lastChangeElapsedMs = now;
    }
    m_drain.emplace_back(now, processed);
    while (m_drain.size() > 2 && m_drain.front().first < now - kDrainWindowMs)
        m_drain.pop_front();
    if (m_drain.size() >= 2 && m_drain.back().first > m_drain.front().first) {
        m_progress.drainPerSecond = double(m_drain.back().second - m_drain.front().second)
            / (double(m_drain.back().first - m_drain.front().first) / 1000.0);
    }
    const int remaining = m_record.definition.leads - processed;
    if (m_progress.drainPerSecond > 0)
        m_progress.etaMs = qint64(double(remaining) / m_progress.drainPerSecond * 1000.0);
    else if (m_record.predictedMs > 0)
        m_progress.etaMs = std::max<qint64>(0, m_record.predictedMs - now);
    Q_EMIT progressChanged(progress());

    if (m_record.state != RunRecord::State::Delivering)
        return;
    const int tasks = int(m_record.taskIds.size());
    if (m_tasksFound == tasks && total > 0 && processed >= total) {
        deliveryDone({});
        return;
    }
    if (m_tasksFound == 0 && tasks > 0 && now - m_lastAckElapsedMs > 5000) {
        m_progress.deliveryObservable = false;
        m_record.deliveryObservable = false;
        deliveryDone(QString()); // judged as not observable
        return;
    }
    const qint64 patience
        = std::max<qint64>(60'000, qint64(double(m_record.predictedMs) * kDeliveryPatience));
    if (now - m_lastChangeElapsedMs > patience) {
        m_record.stopReason = QStringLiteral("gave up waiting: no lead settled for %1 s, %2 of "
                                             "%3 still open")
                                  .arg(patience / 1000)
                                  .arg(std::max(0, total - processed))
                                  .arg(total);
        deliveryDone(m_record.stopReason);
    }
}

void LoadTestRun::deliveryDone(const QString &)
{
    if (m_done)
        return;
    m_poll.stop();
    m_record.deliveredMs = wallClockMs();
    if (!m_services.audit) {
        judge();
        finish();
        return;
    }
    // The send log of the run's span: every instance's requests, as the workspace saw them.
    QPointer<LoadTestRun> self(this);
    const qint64 from = m_record.firstSentMs > 0 ? m_record.firstSentMs : m_record.createdMs;
    const qint64 to = wallClockMs();
    m_services.audit->summarize(from, to, [self, from, to](Result<AuditSummary, RedisError> r) {
        if (!self)
            return;
        if (r.ok()) {
            self->m_record.upstreamRequests = r->requests;
            self->m_record.upstream429 = r->rateLimited;
            self->m_record.worst1s = r->worst1s;
            self->m_record.worst60s = r->worst60s;
        }
        self->m_services.redis->command(
            { "XRANGE", self->m_services.keys.breaker() + ":transitions", QByteArray::number(from),
              QByteArray::number(to) },
            [self](RedisResult t) {
                if (!self)
                    return;
                if (t.ok()) {
                    for (const RedisReply &entry : t.value().elements()) {
                        const auto &f = entry.at(1).elements();
                        for (size_t i = 0; i + 1 < f.size(); i += 2)
                            if (f[i].bytes() == "to" && f[i + 1].bytes() == "open")
                                ++self->m_record.breakerTrips;
                    }
                }
                self->judge();
                self->finish();
            });
    });
}

void LoadTestRun::judge()
{
    judgeRecord(m_record);
}

void LoadTestRun::finish()
{
    if (m_done)
        return;
    m_done = true;
    m_poll.stop();
    m_record.finishedMs = wallClockMs();
    setState(m_record.stopReason.isEmpty() ? RunRecord::State::Finished
                                           : RunRecord::State::Aborted);
    qCInfo(lcLoadTest).noquote() << "run" << m_record.definition.id
                                 << (m_record.passed ? "passed" : "failed");
    Q_EMIT finished();
}

void LoadTestRun::setState(RunRecord::State state)
{
    m_record.state = state;
    m_progress.state = state;
    Q_EMIT progressChanged(progress());
}

LoadTestProgress LoadTestRun::progress() const
{
    LoadTestProgress p = m_progress;
    p.elapsedMs = m_clock.isValid() ? m_clock.elapsed() : 0;
    if (m_firer)
        p.sent = m_firer->completed();
    p.predictedMs = m_record.predictedMs;
    return p;
}

void judgeRecord(RunRecord &r)
{
    const RunDefinition &d = r.definition;
    const RunThresholds &t = d.thresholds;
    std::vector<RunCheck> checks;
    if (!r.stopReason.isEmpty())
        checks.push_back({ QStringLiteral("run completed"), false, r.stopReason });

    const bool allAcked = r.sent == d.leads && r.ackFailures == 0 && r.acknowledged == d.leads;
    const bool inTime = r.ack.max < qint64(t.ackTimeout.count()) * 1000;
    checks.push_back({ QStringLiteral("every webhook acknowledged under %1 s")
                           .arg(double(t.ackTimeout.count()) / 1000.0),
                       allAcked && inTime,
                       QStringLiteral("%1 of %2 acknowledged, %3 failed, slowest %4")
                           .arg(r.acknowledged)
                           .arg(d.leads)
                           .arg(r.ackFailures)
                           .arg(ms(r.ack.max)) });
    checks.push_back({ QStringLiteral("p99 acknowledgement under %1 ms").arg(t.ackP99.count()),
                       r.ack.count > 0 && r.ack.p99 <= qint64(t.ackP99.count()) * 1000,
                       QStringLiteral("p50 %1, p95 %2, p99 %3")
                           .arg(ms(r.ack.p50), ms(r.ack.p95), ms(r.ack.p99)) });
    if (t.allDelivered) {
        RunCheck c { kDeliveredCheck, false, {} };
        if (r.verify && r.verify->error.isEmpty()) {
            c.passed = r.verify->missing.isEmpty()
                && r.verify->present + r.verify->duplicated.size() >= d.leads;
            c.detail = QStringLiteral("verified in Instantly: %1 present, %2 missing")
                           .arg(r.verify->present + r.verify->duplicated.size())
                           .arg(r.verify->missing.size());
        } else if (r.deliveryObservable) {
            const int in = r.delivered + r.skipped;
            c.passed = in == d.leads;
            c.detail = QStringLiteral("%1 of %2 (%3 created, %4 already there, %5 failed, %6 "
                                      "dead-lettered)")
                           .arg(in)
                           .arg(d.leads)
                           .arg(r.delivered)
                           .arg(r.skipped)
                           .arg(r.failed)
                           .arg(r.dead);
        } else {
            c.detail = kNotObservable
                + QStringLiteral(": the target's tasks are not in this Redis; verify against "
                                 "Instantly");
        }
        checks.push_back(c);
    }
    if (t.noDuplicates && r.verify && r.verify->error.isEmpty())
        checks.push_back({ QStringLiteral("no lead duplicated"), r.verify->duplicated.isEmpty(),
                           QStringLiteral("%1 duplicated").arg(r.verify->duplicated.size()) });
    if (r.verify && !r.verify->error.isEmpty())
        checks.push_back({ QStringLiteral("verification"), false, r.verify->error });
    if (r.cap1s > 0 || r.cap60s > 0) {
        const bool within
            = (r.cap1s == 0 || r.worst1s <= r.cap1s) && (r.cap60s == 0 || r.worst60s <= r.cap60s);
        checks.push_back({ QStringLiteral("send log within the caps"), within,
                           QStringLiteral("worst 1 s: %1 of %2, worst 60 s: %3 of %4")
                               .arg(r.worst1s)
                               .arg(r.cap1s)
                               .arg(r.worst60s)
                               .arg(r.cap60s) });
    }
    checks.push_back(
        { QStringLiteral("429s from upstream at most %1").arg(t.max429), r.upstream429 <= t.max429,
          QStringLiteral("%1 of %2 requests").arg(r.upstream429).arg(r.upstreamRequests) });
    if (r.cleanup && !r.cleanup->dryRun)
        checks.push_back({ QStringLiteral("cleaned up"),
                           r.cleanup->error.isEmpty() && r.cleanup->remaining == 0,
                           r.cleanup->error.isEmpty() ? QStringLiteral("%1 deleted, %2 remaining")
                                                            .arg(r.cleanup->deleted)
                                                            .arg(r.cleanup->remaining)
                                                      : r.cleanup->error });
    r.checks = std::move(checks);
    r.passed
        = std::all_of(r.checks.begin(), r.checks.end(), [](const RunCheck &c) { return c.passed; });
}

} // namespace sluice

#include "moc_loadtest.cpp" // NOLINT(bugprone-suspicious-include)
