#pragma once

#include "core/result.h"
#include "net/apitransport.h"

#include <QObject>
#include <QSet>
#include <QStringList>

#include <functional>

namespace sluice {

class InstantlyClient;

/// Which of some emails are in a campaign, by listing it (POST /api/v2/leads/list with those
/// emails as `contacts`, 100 at a time, every page): how Sluice confirms a lead that Instantly
/// did not say it created, or that an uncertain answer (a timeout, a 5xx, an unreadable 2xx)
/// may have created, before it counts it delivered or sends it again.
class CampaignCheck : public QObject
{
    Q_OBJECT
public:
    /// `client` (gated, so every page takes a limiter slot) must outlive the check.
    explicit CampaignCheck(InstantlyClient *client, QObject *parent = nullptr);

    using Done = std::function<void(Result<QSet<QString>, ApiResult>)>;
    /// `done` gets the lower-cased emails found in the campaign, or the first failed request.
    void present(const QString &campaignId, const QStringList &emails, Done done);

private:
    InstantlyClient *m_client;
};

} // namespace sluice
