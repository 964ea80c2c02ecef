#pragma once

#include "apiretry.h"
#include "journal/leadjournal.h"
#include "run.h"

#include <QObject>
#include <QSet>
#include <QString>
#include <QStringList>

#include <chrono>
#include <optional>

namespace sluice {

class CampaignReader;
class InstantlyClient;
struct CampaignListing;

/// Whether clean-up deletes, or only says what it would delete.
enum class CleanupMode { Delete, DryRun };

struct CleanupOptions
{
    int pageSize = 100; ///< leads per listing request, 1..100 (Instantly's maximum)
    /// Lead ids per bulk DELETE /api/v2/leads, 1..1000. Instantly documents no maximum for
    /// `ids` and the sandbox enforces none; a listing page's worth keeps each request small
    /// and a refused one cheap to redo lead by lead.
    int deleteChunk = 100;
    /// Rounds of delete-then-list before leftovers are reported: Instantly may still list a
    /// lead for a moment after deleting it, and a round deletes only what its listing showed.
    int maxPasses = 3;
    std::chrono::milliseconds passDelay { 2000 }; ///< before each round after the first
    ApiRetryOptions retry;

    std::optional<QString> problem() const;
};

/// Removes a run's test leads from Instantly (DESIGN.md §1, "Clean up"): finds the run's
/// campaign by exact name, lists its leads, picks the run's by exact address (case-insensitive),
/// deletes them by id (bulk DELETE /api/v2/leads in chunks; lead by lead when Instantly
/// refuses the bulk call), then lists again and reports what remains (0 for success). The
/// campaign itself is deleted only when the run created it and no one else's leads are in it:
/// deleting a campaign deletes its leads, so a campaign holding leads that are not the run's
/// is kept, and CleanupReport::campaignNote says why.
///
/// Never sends a bulk delete without ids (that would delete every lead of the campaign).
/// Dry run: the listing only; `found` filled, nothing deleted, `remaining` = `found`.
/// Asynchronous on the owner's event loop; one clean-up at a time; errors end in
/// CleanupReport::error.
class Cleaner : public QObject
{
    Q_OBJECT
public:
    /// `instantly` must outlive the cleaner; in production it carries an UpstreamGate.
    explicit Cleaner(InstantlyClient *instantly, CleanupOptions options = {},
                     QObject *parent = nullptr);
    ~Cleaner() override;

    /// Starts cleaning up after `record`; finished() follows exactly once, never from inside
    /// this call. Returns false, and does nothing, while a clean-up is running.
    bool start(const RunRecord &record, CleanupMode mode = CleanupMode::Delete);
    /// Writes a "deleted" event for each lead it deleted to this journal before finishing (a
    /// journal that fails is logged, never fails the clean-up).
    void setJournal(const LeadJournal &journal) { m_journal = journal; }
    bool isRunning() const { return m_running; }

    /// The latest report (complete once finished() was emitted).
    const CleanupReport &report() const { return m_report; }
    QString campaignId() const { return m_campaignId; }
    /// Instantly refused a bulk delete, so the rest went lead by lead.
    bool deletedOneByOne() const { return m_oneByOne; }

Q_SIGNALS:
    /// After each listing page and each delete request: pages read so far (all listings),
    /// leads deleted so far, run leads the first listing found.
    void progressed(int pages, int deleted, int found);
    void finished(const sluice::CleanupReport &report);

private:
    void list();
    void listed(const CampaignListing &listing);
    void deleteNext();
    void deleteFailed(const QString &what, const ApiResult &result);
    void settleCampaign();
    void finish(const QString &error = {});
    void journalAndFinish();
    void noteProgress();

    CampaignReader *m_reader; ///< child
    CleanupOptions m_options;
    bool m_running = false;
    RunRecord m_record;
    CleanupMode m_mode = CleanupMode::Delete;
    std::optional<LeadJournal> m_journal;
    QHash<QString, QString> m_emailOfId; ///< the run's leads seen in any listing, by lead id
    QSet<QString> m_lastListed; ///< the run's lead ids in the latest listing
    QSet<QString> m_runEmails;
    CleanupReport m_report;
    QString m_campaignId;
    int m_pagesDone = 0; ///< of finished listings
    int m_pagesNow = 0; ///< of the listing under way
    int m_listings = 0;
    int m_passes = 0; ///< delete rounds started
    QStringList m_pendingIds; ///< to delete in this round
    QString m_deleteError; ///< a delete failed: list once more for `remaining`, then report
    bool m_oneByOne = false;
};

} // namespace sluice
