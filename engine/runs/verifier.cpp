#include "verifier.h"

#include "campaignreader.h"
#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"
#include "store/queuedlead.h"

#include <QHash>
#include <QLoggingCategory>
#include <QPointer>
#include <QSet>
#include <QTimer>

namespace sluice {

Q_LOGGING_CATEGORY(lcVerifier, "sluice.verify")

namespace {

const QString kRepairScript = QStringLiteral("run_repair");

/// Calls `done` from the event loop of `context`, for answers known before any I/O.
template<typename F> void later(QObject *context, F done)
{
    QTimer::singleShot(0, context, std::move(done));
}

} // namespace

std::optional<QString> VerifyOptions::problem() const
{
    if (pageSize < 1 || pageSize > 100)
        return QStringLiteral("the listing page size must be 1..100, not %1").arg(pageSize);
    return retry.problem();
}

void requeueLeads(const RepairTarget &target, const RunDefinition &run, const QString &campaignId,
                  const QStringList &emails,
                  std::function<void(Result<RepairResult, QString>)> done)
{
    RedisClient *redis = target.redis;
    Q_ASSERT(redis);
    auto fail = [redis, done](const QString &why) { later(redis, [done, why]() { done(why); }); };
    if (emails.isEmpty()) {
        later(redis, [done]() { done(RepairResult {}); });
        return;
    }
    if (campaignId.isEmpty()) {
        fail(QStringLiteral("cannot re-queue leads of run %1 without its campaign's id")
                 .arg(run.id));
        return;
    }
    if (target.retention.count() <= 0) {
        fail(QStringLiteral("the repair task's retention must be positive"));
        return;
    }
    const QStringList runEmails = run.emails();
    QHash<QString, int> number; // address -> lead number (1-based)
    for (int i = 0; i < runEmails.size(); ++i)
        number.insert(runEmails[i], i + 1);

    const qint64 now = wallClockMs();
    const QByteArray stem = "repair:" + run.id.toUtf8() + ':';
    QList<QByteArray> args { target.keys.prefix, stem, run.campaign.toUtf8(),
                             QByteArray::number(now),
                             QByteArray::number(qint64(target.retention.count())) };
    QSet<QString> seen;
    for (const QString &email : emails) {
        const QString key = normalizedEmail(email);
        const int i = number.value(key, 0);
        if (i == 0) {
            fail(QStringLiteral("'%1' is not an address of run %2; nothing was re-queued")
                     .arg(email, run.id));
            return;
        }
        if (seen.contains(key))
            continue;
        seen.insert(key);
        QueuedLead queued;
        queued.taskId = QString::fromUtf8(stem); // the script puts the task id it picks here
        queued.campaignName = run.campaign;
        queued.source = QStringLiteral("repair");
        queued.receivedMs = now;
        queued.lead = run.lead(i);
        const QList<QByteArray> fields = queued.toFields();
        args << campaignId.toUtf8() + '|' + key.toUtf8() << QByteArray::number(fields.size())
             << fields;
    }
    redis->loadScript(kRepairScript, bundledLuaScript(kRepairScript));
    redis->evalScript(
        kRepairScript,
        { target.keys.leads(), target.keys.delivered(), target.keys.tasks(),
          target.keys.legacyDelivered() },
        args, [done = std::move(done), count = int(seen.size())](RedisResult r) {
            if (!r.ok()) {
                const RedisError &e = r.error();
                const bool maybe = e.kind == RedisError::Kind::ConnectionLost
                    || e.kind == RedisError::Kind::Timeout;
                done(QStringLiteral("re-queuing %1 missing leads failed%2: %3")
                         .arg(count)
                         .arg(maybe ? QStringLiteral(" (it may have run: verify again before "
                                                     "repairing again)")
                                    : QString())
                         .arg(e.describe()));
                return;
            }
            const RedisReply &reply = r.value();
            if (!reply.isArray() || reply.at(0).bytes().isEmpty() || !reply.at(1).isInteger()) {
                done(QStringLiteral("unexpected answer from %1: %2")
                         .arg(kRepairScript, reply.describe()));
                return;
            }
            done(RepairResult { QString::fromUtf8(reply.at(0).bytes()),
                                int(reply.at(1).integer()) });
        });
}

Verifier::Verifier(InstantlyClient *instantly, VerifyOptions options, QObject *parent)
    : QObject(parent)
    , m_reader(new CampaignReader(instantly, options.pageSize, options.retry, this))
    , m_options(options)
{
    connect(m_reader, &CampaignReader::pageRead, this, &Verifier::progressed);
}

Verifier::~Verifier() = default;

bool Verifier::start(const RunDefinition &run, std::optional<RepairTarget> repair)
{
    if (m_running)
        return false;
    m_running = true;
    m_run = run;
    m_repair = std::move(repair);
    m_report = {};
    m_campaignId.clear();
    m_repairTaskId.clear();

    std::optional<QString> problem = m_options.problem();
    if (!problem)
        problem = run.problem();
    if (!problem && m_repair && !m_repair->redis)
        problem = QStringLiteral("--repair needs a Redis connection");
    if (problem) {
        later(this, [this, why = *problem]() {
            finish(QStringLiteral("cannot verify run %1: %2").arg(m_run.id, why));
        });
        return true;
    }
    m_reader->findCampaign(run.campaign, [this](Result<std::optional<Campaign>, QString> found) {
        if (!found.ok()) {
            finish(found.error());
            return;
        }
        if (!found.value()) {
            finish(QStringLiteral("campaign '%1' of run %2 is not in Instantly (never created, "
                                  "or deleted): none of its %3 leads can be there")
                       .arg(m_run.campaign, m_run.id)
                       .arg(m_run.leads));
            return;
        }
        m_campaignId = found.value()->id;
        m_reader->listLeads(m_campaignId, [this](Result<CampaignListing, QString> listing) {
            if (!listing.ok()) {
                finish(listing.error());
                return;
            }
            listed(listing.value());
        });
    });
    return true;
}

void Verifier::listed(const CampaignListing &listing)
{
    m_report = classify(m_run.emails(), listing.leads);
    if (!m_journal) {
        repairOrFinish();
        return;
    }
    const QSet<QString> missing(m_report.missing.cbegin(), m_report.missing.cend());
    const QSet<QString> duplicated(m_report.duplicated.cbegin(), m_report.duplicated.cend());
    QList<LeadJournal::Entry> entries;
    QSet<QString> seen;
    const qint64 now = wallClockMs();
    for (const QString &email : m_run.emails()) {
        const QString identity = journalIdentity(email);
        if (seen.contains(identity))
            continue;
        seen.insert(identity);
        JournalEvent e;
        e.atMs = now;
        e.campaign = m_run.campaign;
        if (missing.contains(identity)) {
            e.kind = QStringLiteral("missing");
            e.detail = QStringLiteral("verify of run %1: not in campaign '%2'")
                           .arg(m_run.id, m_run.campaign);
        } else if (duplicated.contains(identity)) {
            e.kind = QStringLiteral("duplicated");
            e.detail = QStringLiteral("verify of run %1: listed more than once in campaign '%2'")
                           .arg(m_run.id, m_run.campaign);
        } else {
            e.kind = QStringLiteral("verified");
            e.detail = QStringLiteral("verify of run %1: listed once in campaign '%2'")
                           .arg(m_run.id, m_run.campaign);
        }
        entries.append({ identity, e });
    }
    m_journal->append(entries, [self = QPointer<Verifier>(this)](Result<int, RedisError> r) {
        if (!self)
            return;
        if (!r.ok())
            qCWarning(lcVerifier).noquote()
                << "the lead journal did not take the findings:" << r.error().describe();
        self->repairOrFinish();
    });
}

void Verifier::repairOrFinish()
{
    if (!m_repair || m_report.missing.isEmpty()) {
        finish();
        return;
    }
    requeueLeads(*m_repair, m_run, m_campaignId, m_report.missing,
                 [self = QPointer<Verifier>(this)](Result<RepairResult, QString> repaired) {
                     if (!self)
                         return;
                     if (!repaired.ok()) {
                         self->finish(repaired.error());
                         return;
                     }
                     self->m_report.repaired = repaired->queued;
                     self->m_repairTaskId = repaired->taskId;
                     self->finish();
                 });
}

void Verifier::finish(const QString &error)
{
    m_report.error = error;
    m_report.atMs = wallClockMs();
    m_running = false;
    Q_EMIT finished(m_report);
}

VerifyReport Verifier::classify(const QStringList &runEmails, const std::vector<LeadRecord> &listed)
{
    VerifyReport report;
    report.listed = int(listed.size());
    QHash<QString, int> count;
    for (const LeadRecord &lead : listed)
        ++count[normalizedEmail(lead.email)];
    QSet<QString> ours;
    for (const QString &email : runEmails) {
        const QString key = normalizedEmail(email);
        if (ours.contains(key))
            continue;
        ours.insert(key);
        const int n = count.value(key, 0);
        if (n == 0)
            report.missing.append(key);
        else if (n == 1)
            ++report.present;
        else
            report.duplicated.append(key);
    }
    QSet<QString> extra;
    for (const LeadRecord &lead : listed) {
        const QString key = normalizedEmail(lead.email);
        if (!ours.contains(key) && !extra.contains(key)) {
            extra.insert(key);
            report.extra.append(key);
        }
    }
    return report;
}

} // namespace sluice

#include "moc_verifier.cpp" // NOLINT(bugprone-suspicious-include)
