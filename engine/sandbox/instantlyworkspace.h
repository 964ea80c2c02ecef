#pragma once

// Private to engine/sandbox (included by sandboxstore.cpp only): it holds JSON by value, so it
// needs the full nlohmann header, which public headers avoid.

#include "sandboxoptions.h"

#include <QHash>
#include <QList>
#include <QSet>
#include <QString>

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>

namespace sluice {

/// Where a create puts a lead: a campaign or a list (at most one is set).
struct LeadTarget
{
    std::string campaignId;
    std::string listId;
};

/// The skip flags as Instantly defines them (docs/sandbox-rules.md).
struct LeadSkipFlags
{
    bool inWorkspace = false; ///< in any campaign or list; overrides the other two
    bool inCampaign = false; ///< in ANY campaign of the workspace
    bool inList = false; ///< in ANY list of the workspace
};

/// Why a well-formed lead of a create was not created; each has its counter in the bulk answer.
enum class LeadRefusal {
    None,
    Incomplete, ///< incomplete_count
    InvalidEmail, ///< invalid_email_count
    DuplicateInRequest, ///< duplicate_email_count
    Blocklisted, ///< in_blocklist
    Skipped, ///< skipped_count: a skip_if flag
    AlreadyInTarget, ///< duplicated_leads: same_campaign_duplicates = skip
    PlanExhausted, ///< no counter; remaining_in_plan is 0
};

/// The fake Instantly workspace's data (campaigns, leads with their campaign or list, the
/// blocklist, the plan) and the rules that decide whether a lead is created. SandboxStore
/// speaks the endpoints' request and answer shapes on top of it.
struct InstantlyWorkspace
{
    quint64 nextSeq = 1;
    std::map<quint64, nlohmann::json> campaigns; ///< by creation order
    QHash<QString, quint64> campaignSeq;
    std::map<quint64, nlohmann::json> leads; ///< by creation order
    QHash<QString, quint64> leadSeq;
    QHash<QString, QList<quint64>> leadsByEmail; ///< sandboxEmailKey -> leads

    QSet<QString> blockedEmails; ///< email keys
    QSet<QString> blockedDomains; ///< lower-case domains
    qint64 remainingInPlan = 100'000;
    SameCampaignDuplicates sameCampaign = SameCampaignDuplicates::Create;

    void clearData();

    /// The existing lead that makes a skip flag skip this email, or nullptr.
    const nlohmann::json *skippedBy(const QString &email, const LeadSkipFlags &flags) const;
    /// An existing lead with this email in exactly this campaign or list, or nullptr.
    const nlohmann::json *inTarget(const QString &email, const LeadTarget &target) const;
    bool blocklisted(const QString &email) const;
    /// The checks that stop a well-formed lead, in the order docs/sandbox-rules.md gives.
    LeadRefusal refusal(const QString &email, const LeadSkipFlags &flags,
                        const LeadTarget &target) const;

    /// Stores a lead (uses one unit of the plan) and returns it as the API shows it.
    nlohmann::json insertLead(const nlohmann::json &in, const LeadTarget &target);
    void eraseLead(quint64 seq);
    std::optional<std::string> campaignIdIfExists(const nlohmann::json &value) const;
};

/// A lead's email when it has a non-blank one, else empty.
QString leadEmail(const nlohmann::json &lead);

} // namespace sluice
