#pragma once

#include "apiretry.h"
#include "core/result.h"
#include "instantly/instantlytypes.h"

#include <QObject>
#include <QString>

#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class InstantlyClient;

/// A campaign's leads as Instantly listed them, page after page.
struct CampaignListing
{
    std::vector<LeadRecord> leads;
    int pages = 0; ///< listing requests that succeeded (the last one may be an empty page)
};

/// What verify and clean-up share: finding a run's campaign by exact name and listing all its
/// leads, one request per page (each through the client's gate), with retries and a signal per
/// page for progress. Errors come back as sentences a person can act on.
class CampaignReader : public QObject
{
    Q_OBJECT
public:
    /// `instantly` must outlive the reader. `pageSize` is 1..100 (Instantly's maximum).
    CampaignReader(InstantlyClient *instantly, int pageSize, ApiRetryOptions retry,
                   QObject *parent = nullptr);

    using FindCallback = std::function<void(Result<std::optional<Campaign>, QString>)>;
    using ListCallback = std::function<void(Result<CampaignListing, QString>)>;

    /// The campaign named exactly `name`; nullopt when there is none. A hit from the client's
    /// cache is confirmed with Instantly first: a campaign deleted meanwhile must read as
    /// missing, not as a campaign without leads.
    void findCampaign(const QString &name, FindCallback done);
    /// Every lead of `campaignId`, following `starting_after` cursors until an empty or final
    /// page. A cursor that repeats is an error, not an endless loop.
    void listLeads(const QString &campaignId, ListCallback done);

    InstantlyClient *client() const { return m_instantly; }
    const ApiRetryOptions &retryOptions() const { return m_retry; }

Q_SIGNALS:
    /// After each page of a listing: pages read and leads listed so far in it.
    void pageRead(int pages, int listed);

private:
    void lookUp(const QString &name, bool confirmCached, FindCallback done);
    void listPage(std::shared_ptr<CampaignListing> listing, const QString &campaignId,
                  const QString &cursor, ListCallback done);

    InstantlyClient *m_instantly;
    int m_pageSize;
    ApiRetryOptions m_retry;
};

} // namespace sluice
