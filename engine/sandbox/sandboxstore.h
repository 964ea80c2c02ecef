#pragma once

#include <QString>

#include <nlohmann/json_fwd.hpp>

#include <memory>

namespace sluice {

/// What an Instantly endpoint answers: a status and a JSON body.
struct StoreReply
{
    int status = 200;
    std::shared_ptr<const nlohmann::json> body;
};

/// The sandbox's in-memory workspace: campaigns, leads and Close leads, with the rules of the
/// real Instantly v2 endpoints (field names, limits, skip flags, in-request dedupe, cursors).
/// Pure logic, no HTTP: SandboxServer maps requests onto it.
class SandboxStore
{
public:
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

    /// Close leads the fake Close API serves; each must carry a string "id".
    StoreReply putCloseLead(const nlohmann::json &lead);
    StoreReply getCloseLead(const QString &id) const;

    void clear();

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// Instantly's error body: {"statusCode", "error", "message"}.
StoreReply instantlyError(int status, const QString &message);

} // namespace sluice
