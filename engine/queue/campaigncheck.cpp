#include "campaigncheck.h"

#include "core/lead.h"
#include "instantly/instantlyclient.h"

#include <QPointer>

#include <memory>

namespace sluice {

namespace {

/// Emails per listing: the list endpoint's page size.
constexpr qsizetype kChunk = 100;

} // namespace

CampaignCheck::CampaignCheck(InstantlyClient *client, QObject *parent)
    : QObject(parent)
    , m_client(client)
{ }

void CampaignCheck::present(const QString &campaignId, const QStringList &emails, Done done)
{
    struct Join
    {
        QSet<QString> found;
        std::optional<ApiResult> failed;
        qsizetype pending = 0;
        Done done;
        QString campaignId;
    };
    auto join = std::make_shared<Join>();
    join->campaignId = campaignId;
    join->done = std::move(done);
    if (emails.isEmpty()) {
        join->done(QSet<QString> {});
        return;
    }
    join->pending = (emails.size() + kChunk - 1) / kChunk;
    QPointer<CampaignCheck> self(this);
    for (qsizetype i = 0; i < emails.size(); i += kChunk) {
        LeadFilter filter;
        filter.campaignId = campaignId;
        filter.contacts = emails.mid(i, kChunk);
        filter.limit = 100;
        m_client->listAllLeads(filter, [self, join](ApiReply<std::vector<LeadRecord>> r) {
            if (r.ok()) {
                for (const LeadRecord &lead : r.value())
                    if (lead.campaignId.isEmpty() || lead.campaignId == join->campaignId)
                        join->found.insert(normalizedEmail(lead.email));
            } else if (!join->failed) {
                join->failed = r.error();
            }
            if (--join->pending > 0 || !self)
                return;
            if (join->failed)
                join->done(*join->failed);
            else
                join->done(join->found);
        });
    }
}

} // namespace sluice

#include "moc_campaigncheck.cpp" // NOLINT(bugprone-suspicious-include)
