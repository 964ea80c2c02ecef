#include "campaignreader.h"

#include "instantly/instantlyclient.h"

namespace sluice {

CampaignReader::CampaignReader(InstantlyClient *instantly, int pageSize, ApiRetryOptions retry,
                               QObject *parent)
    : QObject(parent)
    , m_instantly(instantly)
    , m_pageSize(pageSize)
    , m_retry(retry)
{ }

void CampaignReader::findCampaign(const QString &name, FindCallback done)
{
    lookUp(name, true, std::move(done));
}

void CampaignReader::lookUp(const QString &name, bool confirmCached, FindCallback done)
{
    InstantlyClient *client = m_instantly;
    callWithRetries<std::optional<Campaign>>(
        this, m_retry,
        [client, name](ApiCallback<std::optional<Campaign>> cb) {
            client->findCampaign(name, std::move(cb));
        },
        [this, client, name, confirmCached,
         done = std::move(done)](ApiReply<std::optional<Campaign>> found) {
            if (!found.ok()) {
                done(QStringLiteral("looking up campaign '%1' failed: %2")
                         .arg(name, found.error().describe()));
                return;
            }
            const bool fromCache = found.call().endpoint.isEmpty();
            if (!found.value() || !fromCache || !confirmCached) {
                done(found.value());
                return;
            }
            const Campaign cached = *found.value();
            callWithRetries<Campaign>(
                this, m_retry,
                [client, id = cached.id](ApiCallback<Campaign> cb) {
                    client->getCampaign(id, std::move(cb));
                },
                [this, client, name, cached, done](ApiReply<Campaign> got) {
                    if (got.ok() && got->name == name) {
                        done(std::optional<Campaign>(got.value()));
                        return;
                    }
                    if (got.ok() || got.error().httpStatus == 404) {
                        // Deleted or renamed behind our back: ask Instantly by name.
                        client->clearCampaignCache();
                        lookUp(name, false, done);
                        return;
                    }
                    done(QStringLiteral("confirming campaign '%1' (%2) failed: %3")
                             .arg(name, cached.id, got.error().describe()));
                });
        });
}

void CampaignReader::listLeads(const QString &campaignId, ListCallback done)
{
    listPage(std::make_shared<CampaignListing>(), campaignId, QString(), std::move(done));
}

void CampaignReader::listPage(std::shared_ptr<CampaignListing> listing, const QString &campaignId,
                              const QString &cursor, ListCallback done)
{
    LeadFilter filter;
    filter.campaignId = campaignId;
    filter.limit = m_pageSize;
    filter.startingAfter = cursor;
    InstantlyClient *client = m_instantly;
    callWithRetries<Page<LeadRecord>>(
        this, m_retry,
        [client, filter](ApiCallback<Page<LeadRecord>> cb) {
            client->listLeads(filter, std::move(cb));
        },
        [this, listing, campaignId, cursor,
         done = std::move(done)](ApiReply<Page<LeadRecord>> page) mutable {
            if (!page.ok()) {
                done(QStringLiteral("listing the leads of campaign %1 failed on page %2 (after "
                                    "%3 leads): %4")
                         .arg(campaignId)
                         .arg(listing->pages + 1)
                         .arg(int(listing->leads.size()))
                         .arg(page.error().describe()));
                return;
            }
            ++listing->pages;
            for (LeadRecord &lead : page.value().items)
                listing->leads.push_back(std::move(lead));
            Q_EMIT pageRead(listing->pages, int(listing->leads.size()));
            const QString next = page->nextStartingAfter;
            if (page->items.empty() || next.isEmpty()) {
                done(std::move(*listing));
                return;
            }
            if (next == cursor) {
                done(QStringLiteral("listing the leads of campaign %1: Instantly answered cursor "
                                    "'%2' with the same cursor again")
                         .arg(campaignId, cursor));
                return;
            }
            listPage(listing, campaignId, next, std::move(done));
        });
}

} // namespace sluice

#include "moc_campaignreader.cpp" // NOLINT(bugprone-suspicious-include)
