#include "sandboxstore.h"

#include "campaignschedule.h"
#include "instantlyworkspace.h"
#include "net/httpserver.h"
#include "sandboxemail.h"
#include "stdstrings.h"

#include <QDateTime>
#include <QSet>
#include <QUuid>

#include <nlohmann/json.hpp>

#include <map>

namespace sluice {

using json = nlohmann::json;

namespace {

using sandboxtext::newId;
using sandboxtext::nowIso;
using sandboxtext::qs;

constexpr int kMaxBulkLeads = 1000;
constexpr int kMaxPageLimit = 100;

std::string storeStd(const QString &s)
{
    return s.toStdString();
}

/// Fastify-style validation message, as Instantly v2 answers them.
StoreReply badField(const std::string &path, const std::string &problem)
{
    return instantlyError(400, qs((path.empty() ? "body " : "body/" + path + " ") + problem));
}

std::string subPath(const std::string &path, const std::string &key)
{
    return path.empty() ? key : path + "/" + key;
}

std::optional<StoreReply> checkOptionalString(const json &body, const char *key)
{
    if (body.contains(key) && !body[key].is_null() && !body[key].is_string())
        return badField(key, "must be string");
    return std::nullopt;
}

std::optional<StoreReply> checkOptionalBool(const json &body, const char *key)
{
    if (body.contains(key) && !body[key].is_boolean())
        return badField(key, "must be boolean");
    return std::nullopt;
}

/// Schema checks of one lead object (types only; a missing email is the caller's business):
/// a failure rejects the whole request, as Instantly's body validation does.
std::optional<StoreReply> checkLeadShape(const json &lead, const std::string &path)
{
    if (!lead.is_object())
        return badField(path, "must be object");
    for (const char *key : { "email", "first_name", "last_name", "company_name" }) {
        if (lead.contains(key) && !lead[key].is_null() && !lead[key].is_string())
            return badField(subPath(path, key), "must be string");
    }
    if (lead.contains("custom_variables")) {
        const json &vars = lead["custom_variables"];
        if (!vars.is_object())
            return badField(subPath(path, "custom_variables"), "must be object");
        for (auto it = vars.begin(); it != vars.end(); ++it) {
            if (it->is_object() || it->is_array())
                return badField(subPath(path, "custom_variables/" + it.key()),
                                "must be string, number, boolean or null");
        }
    }
    return std::nullopt;
}

/// A string member with something other than blanks in it.
bool hasText(const json &lead, const char *key)
{
    return lead.contains(key) && lead[key].is_string()
        && !qs(lead[key].get<std::string>()).trimmed().isEmpty();
}

bool containsCaseInsensitive(const json &value, const QString &needle)
{
    return value.is_string() && qs(value.get<std::string>()).contains(needle, Qt::CaseInsensitive);
}

std::optional<StoreReply> readSkipFlags(const json &body, LeadSkipFlags *flags)
{
    for (const char *key : { "skip_if_in_campaign", "skip_if_in_workspace", "skip_if_in_list" }) {
        if (auto bad = checkOptionalBool(body, key))
            return bad;
    }
    flags->inWorkspace = body.value("skip_if_in_workspace", false);
    flags->inCampaign = body.value("skip_if_in_campaign", false);
    flags->inList = body.value("skip_if_in_list", false);
    return std::nullopt;
}

} // namespace

StoreReply instantlyError(int status, const QString &message)
{
    return jsonReply(status,
                     json { { "statusCode", status },
                            { "error", httpReasonPhrase(status).toStdString() },
                            { "message", storeStd(message) } });
}

SandboxStore::SandboxStore()
    : d(std::make_unique<InstantlyWorkspace>())
{ }
SandboxStore::~SandboxStore() = default;

int SandboxStore::leadCount() const
{
    return int(d->leads.size());
}

int SandboxStore::campaignCount() const
{
    return int(d->campaigns.size());
}

void SandboxStore::clear()
{
    d->clearData();
    m_close.clear();
    m_closeTasks.clear();
}

void SandboxStore::setBlocklist(const QStringList &entries)
{
    d->blockedEmails.clear();
    d->blockedDomains.clear();
    for (const QString &entry : entries) {
        const QString key = sandboxEmailKey(entry);
        if (key.isEmpty())
            continue;
        if (key.contains(QLatin1Char('@')))
            d->blockedEmails.insert(key);
        else
            d->blockedDomains.insert(key);
    }
}

QStringList SandboxStore::blocklist() const
{
    QStringList out = d->blockedEmails.values();
    out += d->blockedDomains.values();
    out.sort();
    return out;
}

void SandboxStore::setRemainingInPlan(qint64 remaining)
{
    d->remainingInPlan = remaining;
}

qint64 SandboxStore::remainingInPlan() const
{
    return d->remainingInPlan;
}

void SandboxStore::setSameCampaignDuplicates(SameCampaignDuplicates behaviour)
{
    d->sameCampaign = behaviour;
}

SameCampaignDuplicates SandboxStore::sameCampaignDuplicates() const
{
    return d->sameCampaign;
}

StoreReply SandboxStore::putCloseLead(const json &lead)
{
    if (!lead.is_object())
        return closeError(400, QStringLiteral("a Close lead must be an object with a string 'id'"));
    const StoreReply r = m_close.putLeads(lead);
    return r.status == 200 ? jsonReply(200, lead) : r;
}

StoreReply SandboxStore::getCloseLead(const QString &id) const
{
    return m_close.getLead(id);
}

template<typename Map, typename Pred>
static json page(const Map &items, const QHash<QString, quint64> &index, int limit,
                 const QString &startingAfter, Pred accept, bool *cursorValid)
{
    auto it = items.begin();
    *cursorValid = true;
    if (!startingAfter.isEmpty()) {
        const auto found = index.constFind(startingAfter);
        if (found == index.constEnd()) {
            *cursorValid = false;
            return {};
        }
        it = items.upper_bound(found.value());
    }
    json out = { { "items", json::array() } };
    for (; it != items.end() && int(out["items"].size()) < limit; ++it) {
        if (accept(it->second))
            out["items"].push_back(it->second);
    }
    // Like the real API, a full page carries a cursor even when it happens to be the last one:
    // clients must stop on an empty page.
    if (int(out["items"].size()) == limit)
        out["next_starting_after"] = out["items"].back()["id"];
    return out;
}

StoreReply SandboxStore::listCampaigns(const QString &search, int limit,
                                       const QString &startingAfter) const
{
    if (limit < 1 || limit > kMaxPageLimit)
        return instantlyError(400, QStringLiteral("querystring/limit must be <= 100 and >= 1"));
    bool cursorValid = true;
    json out = page(
        d->campaigns, d->campaignSeq, limit, startingAfter,
        [&](const json &c) {
            return search.isEmpty() || containsCaseInsensitive(c["name"], search);
        },
        &cursorValid);
    if (!cursorValid)
        return instantlyError(400, QStringLiteral("querystring/starting_after is not a known id"));
    return jsonReply(200, std::move(out));
}

StoreReply SandboxStore::getCampaign(const QString &id) const
{
    const auto it = d->campaignSeq.constFind(id);
    if (it == d->campaignSeq.constEnd())
        return instantlyError(404, QStringLiteral("Campaign not found"));
    return jsonReply(200, d->campaigns.at(it.value()));
}

StoreReply SandboxStore::createCampaign(const json &body)
{
    if (!body.is_object())
        return instantlyError(400, QStringLiteral("body must be object"));
    if (!body.contains("name"))
        return badField("", "must have required property 'name'");
    if (!body["name"].is_string() || body["name"].get<std::string>().empty())
        return badField("name", "must be a non-empty string");
    if (!body.contains("campaign_schedule"))
        return badField("", "must have required property 'campaign_schedule'");
    const json &schedule = body["campaign_schedule"];
    if (auto problem = campaignScheduleProblem(schedule))
        return badField(problem->path, problem->problem);
    const quint64 seq = d->nextSeq++;
    const std::string stamp = nowIso();
    json campaign = {
        { "id", newId() },
        { "name", body["name"] },
        { "status", 0 }, // draft
        { "campaign_schedule", schedule },
        { "timestamp_created", stamp },
        { "timestamp_updated", stamp },
    };
    d->campaignSeq.insert(qs(campaign["id"].get<std::string>()), seq);
    d->campaigns.emplace(seq, campaign);
    return jsonReply(200, std::move(campaign));
}

StoreReply SandboxStore::deleteCampaign(const QString &id)
{
    const auto it = d->campaignSeq.constFind(id);
    if (it == d->campaignSeq.constEnd())
        return instantlyError(404, QStringLiteral("Campaign not found"));
    const quint64 seq = it.value();
    json campaign = d->campaigns.at(seq);
    // Deleting a campaign deletes its leads.
    const std::string campaignId = storeStd(id);
    std::vector<quint64> doomed;
    for (const auto &[leadSeq, lead] : d->leads) {
        if (lead["campaign"].is_string() && lead["campaign"].get<std::string>() == campaignId)
            doomed.push_back(leadSeq);
    }
    for (quint64 leadSeq : doomed)
        d->eraseLead(leadSeq);
    d->campaigns.erase(seq);
    d->campaignSeq.remove(id);
    return jsonReply(200, std::move(campaign));
}

StoreReply SandboxStore::createLead(const json &body)
{
    if (!body.is_object())
        return instantlyError(400, QStringLiteral("body must be object"));
    if (auto bad = checkLeadShape(body, ""))
        return *bad;
    for (const char *key : { "campaign", "list_id" }) {
        if (auto bad = checkOptionalString(body, key))
            return *bad;
    }
    LeadSkipFlags flags;
    if (auto bad = readSkipFlags(body, &flags))
        return *bad;
    const bool hasCampaign = body.contains("campaign") && body["campaign"].is_string();
    const bool hasList = body.contains("list_id") && body["list_id"].is_string();
    if (hasCampaign && hasList)
        return instantlyError(400,
                              QStringLiteral("body must have at most one of 'campaign' or "
                                             "'list_id'"));
    const QString email = leadEmail(body);
    if (!hasList && email.isEmpty())
        return body.contains("email") && !body["email"].is_null()
            ? badField("email", "must NOT be empty")
            : badField("", "must have required property 'email'");
    if (hasList && email.isEmpty() && !hasText(body, "first_name") && !hasText(body, "last_name"))
        return badField("", "must have at least one of 'email', 'first_name' or 'last_name'");
    if (!email.isEmpty() && !sandboxEmailValid(email))
        return badField("email", "must match format \"email\"");
    LeadTarget target;
    if (hasCampaign) {
        const auto id = d->campaignIdIfExists(body["campaign"]);
        if (!id)
            return instantlyError(404, QStringLiteral("Campaign not found"));
        target.campaignId = *id;
    } else if (hasList) {
        target.listId = body["list_id"].get<std::string>();
    }
    switch (d->refusal(email, flags, target)) {
    case LeadRefusal::Blocklisted:
        return instantlyError(400, QStringLiteral("email is on the workspace blocklist"));
    case LeadRefusal::Skipped:
        // The existing lead comes back unchanged: nothing new was made.
        return jsonReply(200, *d->skippedBy(email, flags));
    case LeadRefusal::AlreadyInTarget:
        return jsonReply(200, *d->inTarget(email, target));
    case LeadRefusal::PlanExhausted:
        return instantlyError(402, QStringLiteral("Lead upload limit of the plan reached"));
    default:
        break;
    }
    return jsonReply(200, d->insertLead(body, target));
}

StoreReply SandboxStore::addLeads(const json &body)
{
    if (!body.is_object())
        return instantlyError(400, QStringLiteral("body must be object"));
    const bool hasCampaign = body.contains("campaign_id") && !body["campaign_id"].is_null();
    const bool hasList = body.contains("list_id") && !body["list_id"].is_null();
    if (hasCampaign == hasList)
        return instantlyError(
            400, QStringLiteral("body must have exactly one of 'campaign_id' or 'list_id'"));
    for (const char *key : { "campaign_id", "list_id", "blocklist_id" }) {
        if (auto bad = checkOptionalString(body, key))
            return *bad;
    }
    LeadSkipFlags flags;
    if (auto bad = readSkipFlags(body, &flags))
        return *bad;
    if (!body.contains("leads"))
        return badField("", "must have required property 'leads'");
    const json &leads = body["leads"];
    if (!leads.is_array())
        return badField("leads", "must be array");
    if (leads.empty())
        return badField("leads", "must NOT have fewer than 1 items");
    if (leads.size() > kMaxBulkLeads)
        return badField("leads", "must NOT have more than 1000 items");
    for (size_t i = 0; i < leads.size(); ++i) {
        if (auto bad = checkLeadShape(leads[i], "leads/" + std::to_string(i)))
            return *bad;
    }
    LeadTarget target;
    if (hasCampaign) {
        const auto id = d->campaignIdIfExists(body["campaign_id"]);
        if (!id)
            return instantlyError(404, QStringLiteral("Campaign not found"));
        target.campaignId = *id;
    } else {
        target.listId = body["list_id"].get<std::string>();
    }

    std::map<LeadRefusal, int> refused;
    json created = json::array();
    QSet<QString> seen;
    for (size_t i = 0; i < leads.size(); ++i) {
        const json &lead = leads[i];
        const QString email = leadEmail(lead);
        const bool incomplete = hasCampaign
            ? email.isEmpty()
            : email.isEmpty() && !hasText(lead, "first_name") && !hasText(lead, "last_name");
        LeadRefusal why = LeadRefusal::None;
        if (incomplete) {
            why = LeadRefusal::Incomplete;
        } else if (!email.isEmpty() && !sandboxEmailValid(email)) {
            why = LeadRefusal::InvalidEmail;
        } else if (!email.isEmpty() && seen.contains(sandboxEmailKey(email))) {
            why = LeadRefusal::DuplicateInRequest;
        } else {
            if (!email.isEmpty())
                seen.insert(sandboxEmailKey(email));
            why = d->refusal(email, flags, target);
        }
        if (why != LeadRefusal::None) {
            ++refused[why];
            continue;
        }
        const json stored = d->insertLead(lead, target);
        created.push_back({ { "id", stored["id"] }, { "email", stored["email"] }, { "index", i } });
    }
    auto count = [&](LeadRefusal r) {
        const auto it = refused.find(r);
        return it == refused.end() ? 0 : it->second;
    };
    return jsonReply(200,
                     json {
                         { "status", "success" },
                         { "total_sent", leads.size() },
                         { "leads_uploaded", created.size() },
                         { "in_blocklist", count(LeadRefusal::Blocklisted) },
                         { "blocklist_used", kDefaultBlocklistId },
                         { "duplicated_leads", count(LeadRefusal::AlreadyInTarget) },
                         { "skipped_count", count(LeadRefusal::Skipped) },
                         { "invalid_email_count", count(LeadRefusal::InvalidEmail) },
                         { "incomplete_count", count(LeadRefusal::Incomplete) },
                         { "duplicate_email_count", count(LeadRefusal::DuplicateInRequest) },
                         { "remaining_in_plan", std::max<qint64>(0, d->remainingInPlan) },
                         { "created_leads", std::move(created) },
                     });
}
StoreReply SandboxStore::listLeads(const json &body) const
{
    if (!body.is_object())
        return instantlyError(400, QStringLiteral("body must be object"));
    for (const char *key : { "campaign", "search", "starting_after", "list_id" }) {
        if (auto bad = checkOptionalString(body, key))
            return *bad;
    }
    int limit = 100;
    if (body.contains("limit")) {
        if (!body["limit"].is_number_integer())
            return badField("limit", "must be integer");
        limit = body["limit"].get<int>();
        if (limit < 1 || limit > kMaxPageLimit)
            return badField("limit", "must be <= 100 and >= 1");
    }
    QSet<QString> contacts;
    if (body.contains("contacts")) {
        if (!body["contacts"].is_array())
            return badField("contacts", "must be array");
        for (const json &c : body["contacts"]) {
            if (!c.is_string())
                return badField("contacts", "must be array of strings");
            contacts.insert(sandboxEmailKey(qs(c.get<std::string>())));
        }
    }
    const json campaign = body.value("campaign", json());
    const json listId = body.value("list_id", json());
    const QString search = qs(body.value("search", std::string()));
    const QString startingAfter = qs(body.value("starting_after", std::string()));
    bool cursorValid = true;
    json out = page(
        d->leads, d->leadSeq, limit, startingAfter,
        [&](const json &lead) {
            if (campaign.is_string() && lead["campaign"] != campaign)
                return false;
            if (listId.is_string() && lead["list_id"] != listId)
                return false;
            if (!contacts.isEmpty() && !contacts.contains(sandboxEmailKey(leadEmail(lead))))
                return false;
            if (!search.isEmpty()
                && !(containsCaseInsensitive(lead["email"], search)
                     || containsCaseInsensitive(lead["first_name"], search)
                     || containsCaseInsensitive(lead["last_name"], search)
                     || containsCaseInsensitive(lead["company_name"], search)))
                return false;
            return true;
        },
        &cursorValid);
    if (!cursorValid)
        return badField("starting_after", "is not a known lead id");
    return jsonReply(200, std::move(out));
}

StoreReply SandboxStore::getLead(const QString &id) const
{
    const auto it = d->leadSeq.constFind(id);
    if (it == d->leadSeq.constEnd())
        return instantlyError(404, QStringLiteral("Lead not found"));
    return jsonReply(200, d->leads.at(it.value()));
}

StoreReply SandboxStore::deleteLead(const QString &id)
{
    const auto it = d->leadSeq.constFind(id);
    if (it == d->leadSeq.constEnd())
        return instantlyError(404, QStringLiteral("Lead not found"));
    json lead = d->leads.at(it.value());
    d->eraseLead(it.value());
    return jsonReply(200, std::move(lead));
}

StoreReply SandboxStore::deleteLeads(const json &body)
{
    if (!body.is_object())
        return instantlyError(400, QStringLiteral("body must be object"));
    if (!body.contains("campaign_id") || !body["campaign_id"].is_string())
        return badField("", "must have required property 'campaign_id'");
    const std::string campaignId = body["campaign_id"].get<std::string>();
    if (!d->campaignSeq.contains(qs(campaignId)))
        return instantlyError(404, QStringLiteral("Campaign not found"));
    QSet<QString> ids;
    const bool byIds = body.contains("ids");
    if (byIds) {
        if (!body["ids"].is_array())
            return badField("ids", "must be array");
        for (const json &id : body["ids"]) {
            if (!id.is_string())
                return badField("ids", "must be array of strings");
            ids.insert(qs(id.get<std::string>()));
        }
    }
    int limit = std::numeric_limits<int>::max();
    if (body.contains("limit")) {
        if (!body["limit"].is_number_integer() || body["limit"].get<int>() < 1)
            return badField("limit", "must be integer >= 1");
        limit = body["limit"].get<int>();
    }
    std::vector<quint64> doomed;
    for (const auto &[seq, lead] : d->leads) {
        if (int(doomed.size()) >= limit)
            break;
        if (lead["campaign"] != json(campaignId))
            continue;
        if (byIds && !ids.contains(qs(lead["id"].get<std::string>())))
            continue;
        doomed.push_back(seq);
    }
    for (quint64 seq : doomed)
        d->eraseLead(seq);
    return jsonReply(200, json { { "count", doomed.size() } });
}

json SandboxStore::allLeads(const QString &campaignId) const
{
    json out = json::array();
    const json wanted = campaignId.isEmpty() ? json() : json(storeStd(campaignId));
    for (const auto &[seq, lead] : d->leads) {
        if (campaignId.isEmpty() || lead["campaign"] == wanted)
            out.push_back(lead);
    }
    return out;
}

std::optional<QString> SandboxStore::closeLeadName(const QString &leadId) const
{
    const StoreReply r
        = m_close.getLead(leadId, { QStringLiteral("display_name"), QStringLiteral("name") });
    if (r.status != 200 || !r.body)
        return std::nullopt;
    for (const char *key : { "display_name", "name" }) {
        const auto it = r.body->find(key);
        if (it != r.body->end() && it->is_string())
            return QString::fromStdString(it->get<std::string>());
    }
    return QString();
}

} // namespace sluice
