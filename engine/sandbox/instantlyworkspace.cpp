#include "instantlyworkspace.h"

#include "sandboxemail.h"
#include "stdstrings.h"

#include <QDateTime>
#include <QUuid>

namespace sluice {

using json = nlohmann::json;

namespace {

using sandboxtext::newId;
using sandboxtext::nowIso;
using sandboxtext::qs;

bool inACampaign(const json &lead)
{
    return lead["campaign"].is_string();
}

bool inAList(const json &lead)
{
    return lead["list_id"].is_string();
}

/// The first existing lead with this email that `match` accepts, or nullptr.
template<typename Pred>
const json *findByEmail(const InstantlyWorkspace &w, const QString &email, Pred match)
{
    if (email.isEmpty())
        return nullptr;
    for (quint64 seq : w.leadsByEmail.value(sandboxEmailKey(email))) {
        const json &lead = w.leads.at(seq);
        if (match(lead))
            return &lead;
    }
    return nullptr;
}

} // namespace

QString leadEmail(const json &lead)
{
    if (!lead.contains("email") || !lead["email"].is_string())
        return {};
    const QString email = qs(lead["email"].get<std::string>());
    return email.trimmed().isEmpty() ? QString() : email;
}

void InstantlyWorkspace::clearData()
{
    nextSeq = 1;
    campaigns.clear();
    campaignSeq.clear();
    leads.clear();
    leadSeq.clear();
    leadsByEmail.clear();
}

const json *InstantlyWorkspace::skippedBy(const QString &email, const LeadSkipFlags &flags) const
{
    if (flags.inWorkspace)
        return findByEmail(*this, email,
                           [](const json &l) { return inACampaign(l) || inAList(l); });
    return findByEmail(*this, email, [&](const json &l) {
        return (flags.inCampaign && inACampaign(l)) || (flags.inList && inAList(l));
    });
}

const json *InstantlyWorkspace::inTarget(const QString &email, const LeadTarget &target) const
{
    return findByEmail(*this, email, [&](const json &l) {
        return target.campaignId.empty() ? l["list_id"] == json(target.listId)
                                         : l["campaign"] == json(target.campaignId);
    });
}

bool InstantlyWorkspace::blocklisted(const QString &email) const
{
    const QString key = sandboxEmailKey(email);
    return blockedEmails.contains(key) || blockedDomains.contains(sandboxEmailDomain(key));
}

LeadRefusal InstantlyWorkspace::refusal(const QString &email, const LeadSkipFlags &flags,
                                        const LeadTarget &target) const
{
    if (!email.isEmpty() && blocklisted(email))
        return LeadRefusal::Blocklisted;
    if (skippedBy(email, flags))
        return LeadRefusal::Skipped;
    if (sameCampaign == SameCampaignDuplicates::Skip && inTarget(email, target))
        return LeadRefusal::AlreadyInTarget;
    if (remainingInPlan <= 0)
        return LeadRefusal::PlanExhausted;
    return LeadRefusal::None;
}

json InstantlyWorkspace::insertLead(const json &in, const LeadTarget &target)
{
    const quint64 seq = nextSeq++;
    const std::string stamp = nowIso();
    auto nullable = [](const std::string &s) { return s.empty() ? json() : json(s); };
    json lead = {
        { "id", newId() },
        { "timestamp_created", stamp },
        { "timestamp_updated", stamp },
        { "campaign", nullable(target.campaignId) },
        { "list_id", nullable(target.listId) },
        { "email", in.value("email", json()) },
        { "first_name", in.value("first_name", json()) },
        { "last_name", in.value("last_name", json()) },
        { "company_name", in.value("company_name", json()) },
        { "payload", in.value("custom_variables", json::object()) },
        { "status", 1 },
    };
    leadSeq.insert(qs(lead["id"].get<std::string>()), seq);
    const QString email = leadEmail(in);
    if (!email.isEmpty())
        leadsByEmail[sandboxEmailKey(email)].append(seq);
    leads.emplace(seq, lead);
    --remainingInPlan;
    return lead;
}

void InstantlyWorkspace::eraseLead(quint64 seq)
{
    const json &lead = leads.at(seq);
    leadSeq.remove(qs(lead["id"].get<std::string>()));
    const QString email = leadEmail(lead);
    if (!email.isEmpty()) {
        auto it = leadsByEmail.find(sandboxEmailKey(email));
        if (it != leadsByEmail.end()) {
            it->removeAll(seq);
            if (it->isEmpty())
                leadsByEmail.erase(it);
        }
    }
    leads.erase(seq);
}

std::optional<std::string> InstantlyWorkspace::campaignIdIfExists(const json &value) const
{
    if (!value.is_string())
        return std::nullopt;
    const std::string id = value.get<std::string>();
    if (!campaignSeq.contains(qs(id)))
        return std::nullopt;
    return id;
}

} // namespace sluice
