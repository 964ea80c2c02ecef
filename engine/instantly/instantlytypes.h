#pragma once

#include "core/lead.h"

#include <QString>
#include <QStringList>
#include <QUrl>

#include <chrono>
#include <vector>

namespace sluice {

struct Campaign
{
    QString id;
    QString name;
    int status = 0; ///< 0 draft, 1 active, 2 paused, 3 completed, ...
};

/// A lead as Instantly stores it.
struct LeadRecord
{
    QString id;
    QString email;
    QString firstName;
    QString lastName;
    QString companyName;
    QString campaignId; ///< empty when the lead is in no campaign
    QVariantMap customVariables;
    qint64 createdAtMs = 0; ///< `timestamp_created` as Unix ms; 0 when absent or unreadable
};

/// One page of a cursor-paginated listing. An empty `nextStartingAfter` means the end; so does
/// an empty page.
template<typename T> struct Page
{
    std::vector<T> items;
    QString nextStartingAfter;
};

/// What POST /api/v2/leads/add reports.
struct BulkAddResult
{
    struct Created
    {
        QString id;
        QString email;
        int index = 0; ///< position in the request's `leads`
    };
    // Every field of Instantly's documented answer to POST /api/v2/leads/add. The counts say
    // how many leads each reason stopped, not which: only `created` names leads.
    QString status;
    int totalSent = 0;
    int leadsUploaded = 0;
    int inBlocklist = 0;
    QString blocklistUsed;
    int duplicatedLeads = 0;
    int skippedCount = 0;
    int invalidEmailCount = 0;
    int incompleteCount = 0;
    int duplicateEmailCount = 0;
    int remainingInPlan = -1; ///< -1 when the answer did not say
    std::vector<Created> created;
};

/// Instantly's skip flags, all off unless asked for. `ifInCampaign` skips a lead that is in
/// ANY campaign of the workspace, `ifInWorkspace` one in any campaign or list: they are never
/// what makes a resend safe (see SkipIf).
struct SkipFlags
{
    bool ifInCampaign = false;
    bool ifInWorkspace = false;
};

/// Filters of POST /api/v2/leads/list.
struct LeadFilter
{
    QString campaignId;
    QString search;
    QStringList contacts; ///< exact emails
    int limit = 100; ///< 1..100
    QString startingAfter;
};

struct InstantlyOptions
{
    QUrl baseUrl = QUrl(QStringLiteral("https://api.instantly.ai"));
    QString apiKey;
    std::chrono::milliseconds timeout { 30'000 };
    /// Requests on the wire at once (ApiTransport::setMaxInFlight, 1..6).
    int maxInFlight = 4;
};

} // namespace sluice
