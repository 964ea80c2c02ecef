#include "sandboxstore.h"

#include "core/lead.h"
#include "net/httpserver.h"

#include <QDateTime>
#include <QSet>
#include <QUuid>

#include <nlohmann/json.hpp>

namespace sluice {

using json = nlohmann::json;

namespace {

constexpr int kMaxBulkLeads = 1000;
constexpr int kMaxPageLimit = 100;

QString qs(const std::string &s)
{
    return QString::fromStdString(s);
}

std::string ss(const QString &s)
{
    return s.toStdString();
}

StoreReply reply(int status, json body)
{
    return StoreReply { status, std::make_shared<const json>(std::move(body)) };
}

std::string nowIso()
{
    return ss(QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
}

std::string newId()
{
    return ss(QUuid::createUuid().toString(QUuid::WithoutBraces));
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

/// Validates a lead object of a create or bulk request; `path` prefixes error messages.
std::optional<StoreReply> checkLeadShape(const json &lead, const std::string &path)
{
    if (!lead.is_object())
        return badField(path, "must be object");
    if (!lead.contains("email"))
        return badField(path, "must have required property 'email'");
    if (!lead["email"].is_string())
        return badField(subPath(path, "email"), "must be string");
    for (const char *key : { "first_name", "last_name", "company_name" }) {
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

bool containsCaseInsensitive(const json &value, const QString &needle)
{
    return value.is_string() && qs(value.get<std::string>()).contains(needle, Qt::CaseInsensitive);
}

} // namespace

StoreReply instantlyError(int status, const QString &message)
{
    return reply(status,
                 json { { "statusCode", status },
                        { "error", httpReasonPhrase(status).toStdString() },
                        { "message", ss(message) } });
}

struct SandboxStore::Impl
{
    quint64 nextSeq = 1;
    std::map<quint64, json> campaigns; ///< by creation order
    QHash<QString, quint64> campaignSeq;
    std::map<quint64, json> leads; ///< by creation order
    QHash<QString, quint64> leadSeq;
    QHash<QString, QList<quint64>> leadsByEmail; ///< normalized email -> leads
    QHash<QString, json> closeLeads;

    bool emailInCampaign(const QString &email, const std::string &campaignId) const
    {
        for (quint64 seq : leadsByEmail.value(normalizedEmail(email))) {
            const json &lead = leads.at(seq);
            if (lead["campaign"].is_string() && lead["campaign"].get<std::string>() == campaignId)
                return true;
        }
        return false;
    }

    bool emailInWorkspace(const QString &email) const
    {
        return !leadsByEmail.value(normalizedEmail(email)).isEmpty();
    }

    json insertLead(const json &in, const std::string &campaignId)
    {
        const quint64 seq = nextSeq++;
        const std::string stamp = nowIso();
        json lead = {
            { "id", newId() },
            { "timestamp_created", stamp },
            { "timestamp_updated", stamp },
            { "campaign", campaignId.empty() ? json() : json(campaignId) },
            { "email", in["email"] },
            { "first_name", in.value("first_name", json()) },
            { "last_name", in.value("last_name", json()) },
            { "company_name", in.value("company_name", json()) },
            { "payload", in.value("custom_variables", json::object()) },
            { "status", 1 },
        };
        const QString id = qs(lead["id"].get<std::string>());
        leadSeq.insert(id, seq);
        leadsByEmail[normalizedEmail(qs(in["email"].get<std::string>()))].append(seq);
        leads.emplace(seq, lead);
        return lead;
    }

    void eraseLead(quint64 seq)
    {
        const json &lead = leads.at(seq);
        leadSeq.remove(qs(lead["id"].get<std::string>()));
        const QString email = normalizedEmail(qs(lead["email"].get<std::string>()));
        auto it = leadsByEmail.find(email);
        if (it != leadsByEmail.end()) {
            it->removeAll(seq);
            if (it->isEmpty())
                leadsByEmail.erase(it);
        }
        leads.erase(seq);
    }

    std::optional<std::string> campaignIdIfExists(const json &value) const
    {
        if (!value.is_string())
            return std::nullopt;
        const std::string id = value.get<std::string>();
        if (!campaignSeq.contains(qs(id)))
            return std::nullopt;
        return id;
    }
};

SandboxStore::SandboxStore()
    : d(std::make_unique<Impl>())
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
    d = std::make_unique<Impl>();
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
    return reply(200, std::move(out));
}

StoreReply SandboxStore::getCampaign(const QString &id) const
{
    const auto it = d->campaignSeq.constFind(id);
    if (it == d->campaignSeq.constEnd())
        return instantlyError(404, QStringLiteral("Campaign not found"));
    return reply(200, d->campaigns.at(it.value()));
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
    if (!schedule.is_object() || !schedule.contains("schedules")
        || !schedule["schedules"].is_array() || schedule["schedules"].empty())
        return badField("campaign_schedule", "must have a non-empty 'schedules' array");
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
    return reply(200, std::move(campaign));
}

StoreReply SandboxStore::deleteCampaign(const QString &id)
{
    const auto it = d->campaignSeq.constFind(id);
    if (it == d->campaignSeq.constEnd())
        return instantlyError(404, QStringLiteral("Campaign not found"));
    const quint64 seq = it.value();
    json campaign = d->campaigns.at(seq);
    // Deleting a campaign deletes its leads.
    const std::string campaignId = ss(id);
    std::vector<quint64> doomed;
    for (const auto &[leadSeq, lead] : d->leads) {
        if (lead["campaign"].is_string() && lead["campaign"].get<std::string>() == campaignId)
            doomed.push_back(leadSeq);
    }
    for (quint64 leadSeq : doomed)
        d->eraseLead(leadSeq);
    d->campaigns.erase(seq);
    d->campaignSeq.remove(id);
    return reply(200, std::move(campaign));
}

StoreReply SandboxStore::createLead(const json &body)
{
    if (auto bad = checkLeadShape(body, ""))
        return *bad;
    for (const char *key : { "campaign", "list_id" }) {
        if (auto bad = checkOptionalString(body, key))
            return *bad;
    }
    for (const char *key : { "skip_if_in_campaign", "skip_if_in_workspace" }) {
        if (auto bad = checkOptionalBool(body, key))
            return *bad;
    }
    const QString email = qs(body["email"].get<std::string>());
    if (auto problem = emailProblem(email))
        return badField("email", "must match format \"email\"");
    std::string campaignId;
    if (body.contains("campaign") && body["campaign"].is_string()) {
        const auto id = d->campaignIdIfExists(body["campaign"]);
        if (!id)
            return instantlyError(404, QStringLiteral("Campaign not found"));
        campaignId = *id;
    }
    const bool skipInCampaign = body.value("skip_if_in_campaign", false);
    const bool skipInWorkspace = body.value("skip_if_in_workspace", false);
    if ((skipInWorkspace && d->emailInWorkspace(email))
        || (skipInCampaign && !campaignId.empty() && d->emailInCampaign(email, campaignId))) {
        // The existing lead comes back unchanged, as the real API does when it skips.
        for (quint64 seq : d->leadsByEmail.value(normalizedEmail(email))) {
            const json &lead = d->leads.at(seq);
            if (skipInWorkspace || lead["campaign"] == json(campaignId))
                return reply(200, lead);
        }
    }
    return reply(200, d->insertLead(body, campaignId));
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
    if (auto bad = checkOptionalString(body, hasCampaign ? "campaign_id" : "list_id"))
        return *bad;
    for (const char *key : { "skip_if_in_campaign", "skip_if_in_workspace" }) {
        if (auto bad = checkOptionalBool(body, key))
            return *bad;
    }
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
    std::string campaignId;
    if (hasCampaign) {
        const auto id = d->campaignIdIfExists(body["campaign_id"]);
        if (!id)
            return instantlyError(404, QStringLiteral("Campaign not found"));
        campaignId = *id;
    }
    const bool skipInCampaign = body.value("skip_if_in_campaign", false);
    const bool skipInWorkspace = body.value("skip_if_in_workspace", false);

    int uploaded = 0, invalid = 0, duplicates = 0, skipped = 0, alreadyInCampaign = 0;
    json created = json::array();
    json duplicated = json::array();
    QSet<QString> seen;
    for (size_t i = 0; i < leads.size(); ++i) {
        const QString email = qs(leads[i]["email"].get<std::string>());
        if (emailProblem(email)) {
            ++invalid;
            continue;
        }
        const QString key = normalizedEmail(email);
        if (seen.contains(key)) {
            ++duplicates;
            duplicated.push_back(leads[i]["email"]);
            continue;
        }
        seen.insert(key);
        if (skipInWorkspace && d->emailInWorkspace(email)) {
            ++skipped;
            continue;
        }
        if (skipInCampaign && !campaignId.empty() && d->emailInCampaign(email, campaignId)) {
            ++skipped;
            ++alreadyInCampaign;
            continue;
        }
        const json lead = d->insertLead(leads[i], campaignId);
        ++uploaded;
        created.push_back({ { "id", lead["id"] }, { "email", lead["email"] }, { "index", i } });
    }
    return reply(200,
                 json {
                     { "status", "success" },
                     { "total_sent", leads.size() },
                     { "leads_uploaded", uploaded },
                     { "in_blocklist", 0 },
                     { "blocklist_used", json() },
                     { "already_in_campaign", alreadyInCampaign },
                     { "skipped_count", skipped },
                     { "invalid_email_count", invalid },
                     { "duplicate_email_count", duplicates },
                     { "duplicated_leads", duplicated },
                     { "remaining_in_plan", 1'000'000 - int(d->leads.size()) },
                     { "created_leads", created },
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
            contacts.insert(normalizedEmail(qs(c.get<std::string>())));
        }
    }
    const json campaign = body.value("campaign", json());
    const QString search = qs(body.value("search", std::string()));
    const QString startingAfter = qs(body.value("starting_after", std::string()));
    bool cursorValid = true;
    json out = page(
        d->leads, d->leadSeq, limit, startingAfter,
        [&](const json &lead) {
            if (campaign.is_string() && lead["campaign"] != campaign)
                return false;
            if (!contacts.isEmpty()
                && !contacts.contains(normalizedEmail(qs(lead["email"].get<std::string>()))))
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
    return reply(200, std::move(out));
}

StoreReply SandboxStore::getLead(const QString &id) const
{
    const auto it = d->leadSeq.constFind(id);
    if (it == d->leadSeq.constEnd())
        return instantlyError(404, QStringLiteral("Lead not found"));
    return reply(200, d->leads.at(it.value()));
}

StoreReply SandboxStore::deleteLead(const QString &id)
{
    const auto it = d->leadSeq.constFind(id);
    if (it == d->leadSeq.constEnd())
        return instantlyError(404, QStringLiteral("Lead not found"));
    json lead = d->leads.at(it.value());
    d->eraseLead(it.value());
    return reply(200, std::move(lead));
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
    return reply(200, json { { "count", doomed.size() } });
}

json SandboxStore::allLeads(const QString &campaignId) const
{
    json out = json::array();
    const json wanted = campaignId.isEmpty() ? json() : json(ss(campaignId));
    for (const auto &[seq, lead] : d->leads) {
        if (campaignId.isEmpty() || lead["campaign"] == wanted)
            out.push_back(lead);
    }
    return out;
}

StoreReply SandboxStore::putCloseLead(const json &lead)
{
    if (!lead.is_object() || !lead.contains("id") || !lead["id"].is_string())
        return instantlyError(400,
                              QStringLiteral("a Close lead must be an object with a string 'id'"));
    d->closeLeads.insert(qs(lead["id"].get<std::string>()), lead);
    return reply(200, lead);
}

StoreReply SandboxStore::getCloseLead(const QString &id) const
{
    const auto it = d->closeLeads.constFind(id);
    if (it == d->closeLeads.constEnd())
        return reply(404, json { { "error", "Lead not found" } });
    return reply(200, it.value());
}

} // namespace sluice
