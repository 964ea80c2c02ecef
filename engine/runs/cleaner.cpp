#include "cleaner.h"

#include "campaignreader.h"
#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "redis/redisclient.h"

#include <QLoggingCategory>
#include <QPointer>
#include <QTimer>

namespace sluice {

Q_LOGGING_CATEGORY(lcCleaner, "sluice.cleanup")

std::optional<QString> CleanupOptions::problem() const
{
    if (pageSize < 1 || pageSize > 100)
        return QStringLiteral("the listing page size must be 1..100, not %1").arg(pageSize);
    if (deleteChunk < 1 || deleteChunk > 1000)
        return QStringLiteral("the delete chunk must be 1..1000 ids, not %1").arg(deleteChunk);
    if (maxPasses < 1 || maxPasses > 10)
        return QStringLiteral("delete rounds must be 1..10, not %1").arg(maxPasses);
    if (passDelay.count() < 0)
        return QStringLiteral("the delay between delete rounds must not be negative");
    return retry.problem();
}

Cleaner::Cleaner(InstantlyClient *instantly, CleanupOptions options, QObject *parent)
    : QObject(parent)
    , m_reader(new CampaignReader(instantly, options.pageSize, options.retry, this))
    , m_options(options)
{
    connect(m_reader, &CampaignReader::pageRead, this, [this](int pages, int) {
        m_pagesNow = pages;
        noteProgress();
    });
}

Cleaner::~Cleaner() = default;

bool Cleaner::start(const RunRecord &record, CleanupMode mode)
{
    if (m_running)
        return false;
    m_running = true;
    m_record = record;
    m_mode = mode;
    m_report = {};
    m_emailOfId.clear();
    m_lastListed.clear();
    m_report.dryRun = mode == CleanupMode::DryRun;
    m_campaignId.clear();
    m_pagesDone = m_pagesNow = m_listings = m_passes = 0;
    m_pendingIds.clear();
    m_deleteError.clear();
    m_oneByOne = false;
    const QStringList emails = record.definition.emails();
    m_runEmails = QSet<QString>(emails.cbegin(), emails.cend());

    std::optional<QString> problem = m_options.problem();
    if (!problem)
        problem = record.definition.problem();
    if (problem) {
        QTimer::singleShot(0, this, [this, why = *problem]() {
            finish(QStringLiteral("cannot clean up run %1: %2").arg(m_record.definition.id, why));
        });
        return true;
    }
    const QString name = record.definition.campaign;
    m_reader->findCampaign(name, [this, name](Result<std::optional<Campaign>, QString> found) {
        if (!found.ok()) {
            finish(found.error());
            return;
        }
        if (!found.value()) {
            finish(QStringLiteral("campaign '%1' of run %2 is not in Instantly (already cleaned "
                                  "up, or never created): nothing to clean up")
                       .arg(name, m_record.definition.id));
            return;
        }
        m_campaignId = found.value()->id;
        list();
    });
    return true;
}

void Cleaner::list()
{
    m_pagesNow = 0;
    m_reader->listLeads(m_campaignId, [this](Result<CampaignListing, QString> listing) {
        m_pagesDone += m_pagesNow;
        m_pagesNow = 0;
        if (!listing.ok()) {
            m_report.remaining = -1;
            m_report.campaignNote = QStringLiteral("kept: the clean-up did not finish");
            finish(m_deleteError.isEmpty()
                       ? listing.error()
                       : m_deleteError + QStringLiteral("; then ") + listing.error());
            return;
        }
        listed(listing.value());
    });
}

void Cleaner::listed(const CampaignListing &listing)
{
    QStringList ids;
    int foreign = 0;
    m_lastListed.clear();
    for (const LeadRecord &lead : listing.leads) {
        if (m_runEmails.contains(normalizedEmail(lead.email))) {
            ids.append(lead.id);
            m_emailOfId.insert(lead.id, normalizedEmail(lead.email));
            m_lastListed.insert(lead.id);
        } else {
            ++foreign;
        }
    }
    if (++m_listings == 1)
        m_report.found = int(ids.size());
    m_report.remaining = int(ids.size());
    m_report.foreign = foreign;
    noteProgress();

    if (!m_deleteError.isEmpty()) {
        m_report.campaignNote = QStringLiteral("kept: the run's leads could not all be deleted");
        finish(m_deleteError);
        return;
    }
    if (m_mode == CleanupMode::DryRun) {
        if (!m_record.campaignCreatedByRun)
            m_report.campaignNote = QStringLiteral("would be kept: not created by this run");
        else if (foreign > 0)
            m_report.campaignNote
                = QStringLiteral("would be kept: it holds %1 leads that are not this run's")
                      .arg(foreign);
        else
            m_report.campaignNote = QStringLiteral(
                "would be deleted: created by this run, and no other leads are in it");
        finish();
        return;
    }
    if (ids.isEmpty()) {
        settleCampaign();
        return;
    }
    if (m_passes >= m_options.maxPasses) {
        m_report.campaignNote = QStringLiteral("kept: the run's leads are still in it");
        finish(QStringLiteral("%1 of run %2's leads are still listed in campaign '%3' after %4 "
                              "rounds of deleting")
                   .arg(ids.size())
                   .arg(m_record.definition.id, m_record.definition.campaign)
                   .arg(m_passes));
        return;
    }
    m_pendingIds = ids;
    if (m_passes++ == 0)
        deleteNext();
    else
        QTimer::singleShot(m_options.passDelay, this, &Cleaner::deleteNext);
}

void Cleaner::deleteNext()
{
    if (m_pendingIds.isEmpty()) {
        list();
        return;
    }
    InstantlyClient *client = m_reader->client();
    if (!m_oneByOne) {
        // Never empty: DELETE /api/v2/leads without ids deletes the whole campaign's leads.
        const QStringList chunk = m_pendingIds.mid(0, m_options.deleteChunk);
        m_pendingIds.remove(0, chunk.size());
        callWithRetries<int>(
            this, m_options.retry,
            [client, campaign = m_campaignId, chunk](ApiCallback<int> cb) {
                client->deleteLeads(campaign, chunk, std::move(cb));
            },
            [this, chunk](ApiReply<int> deleted) {
                if (deleted.ok()) {
                    m_report.deleted += deleted.value();
                    noteProgress();
                    deleteNext();
                    return;
                }
                const ApiResult &e = deleted.error();
                const bool refused
                    = (e.outcome == CallOutcome::Permanent || e.outcome == CallOutcome::ErrorInBody)
                    && e.httpStatus != 401 && e.httpStatus != 403;
                if (!refused) {
                    deleteFailed(QStringLiteral("deleting %1 leads").arg(chunk.size()), e);
                    return;
                }
                qCInfo(lcCleaner).noquote()
                    << QStringLiteral("bulk delete refused (%1); deleting lead by lead")
                           .arg(e.describe());
                m_oneByOne = true;
                m_pendingIds = chunk + m_pendingIds;
                deleteNext();
            });
        return;
    }
    const QString id = m_pendingIds.takeFirst();
    callWithRetries<LeadRecord>(
        this, m_options.retry,
        [client, id](ApiCallback<LeadRecord> cb) { client->deleteLead(id, std::move(cb)); },
        [this, id](ApiReply<LeadRecord> deleted) {
            if (deleted.ok()) {
                ++m_report.deleted;
                noteProgress();
            } else if (deleted.error().httpStatus != 404) { // 404: gone already, as wanted
                deleteFailed(QStringLiteral("deleting lead %1").arg(id), deleted.error());
                return;
            }
            deleteNext();
        });
}

void Cleaner::deleteFailed(const QString &what, const ApiResult &result)
{
    m_deleteError = QStringLiteral("%1 of campaign '%2' failed: %3")
                        .arg(what, m_record.definition.campaign, result.describe());
    m_pendingIds.clear();
    list(); // so `remaining` says where it stopped
}

void Cleaner::settleCampaign()
{
    if (!m_record.campaignCreatedByRun) {
        m_report.campaignNote = QStringLiteral("kept: not created by this run");
        finish();
        return;
    }
    if (m_report.foreign > 0) {
        m_report.campaignNote = QStringLiteral("kept: it holds %1 leads that are not this run's")
                                    .arg(m_report.foreign);
        finish();
        return;
    }
    InstantlyClient *client = m_reader->client();
    callWithRetries<Campaign>(
        this, m_options.retry,
        [client, id = m_campaignId](ApiCallback<Campaign> cb) {
            client->deleteCampaign(id, std::move(cb));
        },
        [this](ApiReply<Campaign> deleted) {
            if (!deleted.ok() && deleted.error().httpStatus != 404) {
                m_report.campaignNote = QStringLiteral("kept: deleting it failed");
                finish(QStringLiteral("the run's leads are gone, but deleting campaign '%1' "
                                      "failed: %2")
                           .arg(m_record.definition.campaign, deleted.error().describe()));
                return;
            }
            m_report.campaignDeleted = true;
            m_report.campaignNote = deleted.ok()
                ? QStringLiteral("deleted: created by this run, and no other leads were in it")
                : QStringLiteral("gone: someone else deleted it meanwhile");
            finish();
        });
}

void Cleaner::noteProgress()
{
    Q_EMIT progressed(m_pagesDone + m_pagesNow, m_report.deleted, m_report.found);
}

void Cleaner::finish(const QString &error)
{
    m_report.error = error;
    m_report.atMs = wallClockMs();
    if (m_journal && m_mode == CleanupMode::Delete && !m_campaignId.isEmpty()) {
        // A deleted lead is no longer delivered: sent again, it must go through.
        QList<QByteArray> zrem { "ZREM", m_journal->keys().delivered() };
        QList<QByteArray> srem { "SREM", m_journal->keys().legacyDelivered() };
        for (auto it = m_emailOfId.cbegin(); it != m_emailOfId.cend(); ++it) {
            if (m_lastListed.contains(it.key()))
                continue;
            const QByteArray member = m_campaignId.toUtf8() + '|' + it.value().toLower().toUtf8();
            zrem << member;
            srem << member;
        }
        if (zrem.size() > 2) {
            m_journal->redis()->command(zrem, {});
            // Same connection, so in order: finished() follows once both are applied.
            m_journal->redis()->command(srem, [self = QPointer<Cleaner>(this)](RedisResult r) {
                if (!self)
                    return;
                if (!r.ok())
                    qCWarning(lcCleaner).noquote()
                        << "the delivered set kept the deleted leads:" << r.error().describe();
                self->journalAndFinish();
            });
            return;
        }
    }
    journalAndFinish();
}

void Cleaner::journalAndFinish()
{
    QList<LeadJournal::Entry> entries;
    if (m_journal && m_mode == CleanupMode::Delete) {
        for (auto it = m_emailOfId.cbegin(); it != m_emailOfId.cend(); ++it) {
            if (m_lastListed.contains(it.key()))
                continue;
            JournalEvent e;
            e.kind = QStringLiteral("deleted");
            e.atMs = m_report.atMs;
            e.campaign = m_record.definition.campaign;
            e.detail = QStringLiteral("clean-up of run %1: deleted from campaign '%2' (lead %3)")
                           .arg(m_record.definition.id, m_record.definition.campaign, it.key());
            entries.append({ it.value(), e });
        }
    }
    if (entries.isEmpty()) {
        m_running = false;
        Q_EMIT finished(m_report);
        return;
    }
    m_journal->append(entries, [self = QPointer<Cleaner>(this)](Result<int, RedisError> r) {
        if (!self)
            return;
        if (!r.ok())
            qCWarning(lcCleaner).noquote()
                << "the lead journal did not take the deletions:" << r.error().describe();
        self->m_running = false;
        Q_EMIT self->finished(self->m_report);
    });
}

} // namespace sluice

#include "moc_cleaner.cpp" // NOLINT(bugprone-suspicious-include)
