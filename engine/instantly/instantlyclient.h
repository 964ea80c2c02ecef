#pragma once

#include "core/result.h"
#include "instantlytypes.h"
#include "net/apitransport.h"

#include <QHash>
#include <QObject>

#include <functional>
#include <optional>

namespace sluice {

/// Instantly API v2, asynchronous on the owner's event loop. Every method sends exactly the
/// requests it says (the caller takes the rate-limiter slot first); `requestFinished` reports
/// each one for the send audit. The API key is only ever written into the Authorization
/// header: no message, log or error text contains it.
class InstantlyClient : public QObject
{
    Q_OBJECT
public:
    explicit InstantlyClient(const InstantlyOptions &options, QObject *parent = nullptr);

    void listCampaigns(const QString &search, int limit, const QString &startingAfter,
                       ApiCallback<Page<Campaign>> done);
    void getCampaign(const QString &id, ApiCallback<Campaign> done);
    /// Creates a draft campaign with a weekday 9-to-5 schedule.
    void createCampaign(const QString &name, ApiCallback<Campaign> done);
    void deleteCampaign(const QString &id, ApiCallback<Campaign> done);
    /// Campaign by exact name (Instantly's search is a substring match), following cursors;
    /// nullopt when there is none. Hits are cached; createCampaign() and deleteCampaign()
    /// keep the cache right.
    void findCampaign(const QString &name, ApiCallback<std::optional<Campaign>> done);
    void clearCampaignCache() { m_campaignCache.clear(); }

    /// POST /api/v2/leads: one lead.
    void createLead(const QString &campaignId, const Lead &lead, SkipFlags flags,
                    ApiCallback<LeadRecord> done);
    /// POST /api/v2/leads/add: 1..1000 leads in one request.
    void addLeads(const QString &campaignId, const std::vector<Lead> &leads, SkipFlags flags,
                  ApiCallback<BulkAddResult> done);
    void listLeads(const LeadFilter &filter, ApiCallback<Page<LeadRecord>> done);
    /// Follows cursors until an empty or final page. One request per page.
    void listAllLeads(const LeadFilter &filter, ApiCallback<std::vector<LeadRecord>> done);
    void deleteLead(const QString &id, ApiCallback<LeadRecord> done);
    /// DELETE /api/v2/leads: the campaign's leads, only `ids` when not empty. Returns the count.
    void deleteLeads(const QString &campaignId, const QStringList &ids, ApiCallback<int> done);

    ApiTransport *transport() const { return m_transport; }

Q_SIGNALS:
    void requestFinished(const sluice::ApiResult &result);

private:
    template<typename T> void send(const ApiRequest &request, ApiCallback<T> done);
    void findCampaignPage(const QString &name, const QString &cursor,
                          ApiCallback<std::optional<Campaign>> done);
    void listAllLeadsFrom(LeadFilter filter, std::shared_ptr<std::vector<LeadRecord>> acc,
                          ApiCallback<std::vector<LeadRecord>> done);

    ApiTransport *m_transport;
    QHash<QString, Campaign> m_campaignCache; ///< by exact name
};

} // namespace sluice
