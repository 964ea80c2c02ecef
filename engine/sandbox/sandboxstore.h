#pragma once

#include "closestore.h"
#include "closetaskstore.h"
#include "sandboxoptions.h"
#include "storereply.h"

#include <QString>
#include <QStringList>

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>

namespace sluice {

struct InstantlyWorkspace;

/// The sandbox's in-memory workspace: campaigns, leads (with the lists they were added to), the
/// workspace blocklist and plan, and the fake Close organisation's leads, with the rules of the
/// real Instantly v2 endpoints written in docs/sandbox-rules.md (field names, limits, skip
/// flags, in-request dedupe, blocklist, plan cap, email validation, cursors).
/// Pure logic, no HTTP: SandboxServer maps requests onto it.
class SandboxStore
{
public:
    /// The id the bulk answer gives as `blocklist_used`: the workspace default blocklist.
    static constexpr const char *kDefaultBlocklistId = "0190b10c-5a4d-7b0c-8000-000000000001";

    SandboxStore();
    ~SandboxStore();

    StoreReply listCampaigns(const QString &search, int limit, const QString &startingAfter) const;
    StoreReply getCampaign(const QString &id) const;
    StoreReply createCampaign(const nlohmann::json &body);
    StoreReply deleteCampaign(const QString &id);

    StoreReply createLead(const nlohmann::json &body);
    StoreReply addLeads(const nlohmann::json &body);
    StoreReply listLeads(const nlohmann::json &body) const;
    StoreReply getLead(const QString &id) const;
    StoreReply deleteLead(const QString &id);
    StoreReply deleteLeads(const nlohmann::json &body);

    /// Every lead (optionally of one campaign), for the control API and tests.
    nlohmann::json allLeads(const QString &campaignId = {}) const;
    int leadCount() const;
    int campaignCount() const;

    // Workspace rules the docs leave to the sandbox (docs/sandbox-rules.md).
    /// Emails and domains (an entry without '@'); compared case-insensitively.
    void setBlocklist(const QStringList &entries);
    QStringList blocklist() const;
    void setRemainingInPlan(qint64 remaining);
    qint64 remainingInPlan() const;
    void setSameCampaignDuplicates(SameCampaignDuplicates behaviour);
    SameCampaignDuplicates sameCampaignDuplicates() const;

    /// The fake Close organisation's leads.
    CloseStore &close() { return m_close; }
    const CloseStore &close() const { return m_close; }
    /// The fake Close organisation's tasks (GET /api/v1/task/).
    CloseTaskStore &closeTasks() { return m_closeTasks; }
    const CloseTaskStore &closeTasks() const { return m_closeTasks; }
    /// The display name of a stored Close lead, nullopt when there is no such lead.
    std::optional<QString> closeLeadName(const QString &leadId) const;
    /// Stores one Close lead (an object with a string "id"); kept for existing callers.
    StoreReply putCloseLead(const nlohmann::json &lead);
    StoreReply getCloseLead(const QString &id) const;

    /// Empties campaigns, leads, Close leads and tasks; the rules (blocklist, plan, duplicates)
    /// stay.
    void clear();

private:
    std::unique_ptr<InstantlyWorkspace> d;
    CloseStore m_close;
    CloseTaskStore m_closeTasks;
};

/// Instantly's error body: {"statusCode", "error", "message"}.
StoreReply instantlyError(int status, const QString &message);

} // namespace sluice
