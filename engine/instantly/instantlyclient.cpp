#include "instantlyclient.h"

#include "core/jsontext.h"
#include "core/jsonvariant.h"

#include <QDateTime>

#include <nlohmann/json.hpp>

namespace sluice {

using json = nlohmann::json;

namespace {

QString instantlyText(const json &value)
{
    return value.is_string() ? QString::fromStdString(value.get<std::string>()) : QString();
}

std::string instantlyStd(const QString &s)
{
    return s.toStdString();
}

QByteArray dump(const json &j)
{
    return jsonBytes(j);
}

json leadJson(const Lead &lead)
{
    json out = { { "email", instantlyStd(lead.email) } };
    if (!lead.firstName.isEmpty())
        out["first_name"] = instantlyStd(lead.firstName);
    if (!lead.lastName.isEmpty())
        out["last_name"] = instantlyStd(lead.lastName);
    if (!lead.companyName.isEmpty())
        out["company_name"] = instantlyStd(lead.companyName);
    if (!lead.customVariables.isEmpty()) {
        json vars = json::object();
        for (auto it = lead.customVariables.cbegin(); it != lead.customVariables.cend(); ++it)
            vars[instantlyStd(it.key())] = variantToJson(it.value());
        out["custom_variables"] = std::move(vars);
    }
    return out;
}

/// Reads one type out of a successful body; nullopt when the body is not what the API promises.
template<typename T> std::optional<T> parse(const json &j);

template<> std::optional<Campaign> parse<Campaign>(const json &j)
{
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
        return std::nullopt;
    return Campaign { instantlyText(j["id"]), instantlyText(j.value("name", json())),
                      j.value("status", json(0)).is_number_integer() ? j.value("status", 0) : 0 };
}

template<> std::optional<LeadRecord> parse<LeadRecord>(const json &j)
{
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
        return std::nullopt;
    LeadRecord r;
    r.id = instantlyText(j["id"]);
    r.email = instantlyText(j.value("email", json()));
    r.firstName = instantlyText(j.value("first_name", json()));
    r.lastName = instantlyText(j.value("last_name", json()));
    r.companyName = instantlyText(j.value("company_name", json()));
    r.campaignId = instantlyText(j.value("campaign", json()));
    const QDateTime created = QDateTime::fromString(
        instantlyText(j.value("timestamp_created", json())), Qt::ISODateWithMs);
    r.createdAtMs = created.isValid() ? created.toMSecsSinceEpoch() : 0;
    const json payload = j.value("payload", json());
    if (payload.is_object()) {
        for (auto it = payload.begin(); it != payload.end(); ++it)
            r.customVariables.insert(QString::fromStdString(it.key()), jsonToVariant(*it));
    }
    return r;
}

template<typename T> std::optional<Page<T>> parsePage(const json &j)
{
    if (!j.is_object() || !j.contains("items") || !j["items"].is_array())
        return std::nullopt;
    Page<T> page;
    for (const json &item : j["items"]) {
        auto parsed = parse<T>(item);
        if (!parsed)
            return std::nullopt;
        page.items.push_back(std::move(*parsed));
    }
    page.nextStartingAfter = instantlyText(j.value("next_starting_after", json()));
    return page;
}

template<> std::optional<Page<Campaign>> parse<Page<Campaign>>(const json &j)
{
    return parsePage<Campaign>(j);
}

template<> std::optional<Page<LeadRecord>> parse<Page<LeadRecord>>(const json &j)
{
    return parsePage<LeadRecord>(j);
}

template<> std::optional<BulkAddResult> parse<BulkAddResult>(const json &j)
{
    if (!j.is_object() || !j.contains("leads_uploaded") || !j.contains("created_leads")
        || !j["created_leads"].is_array())
        return std::nullopt;
    auto count = [&](const char *key) {
        const json v = j.value(key, json(0));
        return v.is_number_integer() ? v.get<int>() : 0;
    };
    BulkAddResult r;
    r.status = instantlyText(j.value("status", json()));
    r.totalSent = count("total_sent");
    r.leadsUploaded = count("leads_uploaded");
    r.inBlocklist = count("in_blocklist");
    r.blocklistUsed = instantlyText(j.value("blocklist_used", json()));
    r.duplicatedLeads = count("duplicated_leads");
    r.skippedCount = count("skipped_count");
    r.invalidEmailCount = count("invalid_email_count");
    r.incompleteCount = count("incomplete_count");
    r.duplicateEmailCount = count("duplicate_email_count");
    const json remaining = j.value("remaining_in_plan", json());
    if (remaining.is_number_integer())
        r.remainingInPlan = remaining.get<int>();
    for (const json &c : j["created_leads"]) {
        if (!c.is_object() || !c.contains("index") || !c["index"].is_number_integer())
            return std::nullopt;
        r.created.push_back({ instantlyText(c.value("id", json())),
                              instantlyText(c.value("email", json())), c["index"].get<int>() });
    }
    return r;
}

template<> std::optional<int> parse<int>(const json &j)
{
    if (!j.is_object() || !j.contains("count") || !j["count"].is_number_integer())
        return std::nullopt;
    return j["count"].get<int>();
}

} // namespace

InstantlyClient::InstantlyClient(const InstantlyOptions &options, QObject *parent)
    : QObject(parent)
    , m_transport(new ApiTransport(options.baseUrl, "Bearer " + options.apiKey.toUtf8(),
                                   options.timeout, this))
{
    m_transport->setMaxInFlight(options.maxInFlight);
    connect(m_transport, &ApiTransport::requestFinished, this, &InstantlyClient::requestFinished);
}

template<typename T> void InstantlyClient::send(const ApiRequest &request, ApiCallback<T> done)
{
    m_transport->call(request, [done = std::move(done)](const ApiResult &result) {
        if (!result.ok()) {
            done(result);
            return;
        }
        std::optional<T> value;
        try {
            value = parse<T>(parseJsonOrThrow(result.body));
        } catch (const json::exception &) { }
        if (!value) {
            ApiResult bad = result;
            bad.outcome = CallOutcome::Permanent;
            bad.message = QStringLiteral("unexpected response body: ")
                + QString::fromUtf8(result.body.left(200));
            done(bad);
            return;
        }
        done(ApiReply<T>(std::move(*value), result));
    });
}

void InstantlyClient::listCampaigns(const QString &search, int limit, const QString &startingAfter,
                                    ApiCallback<Page<Campaign>> done)
{
    ApiRequest request { "GET", QStringLiteral("/api/v2/campaigns"), {}, {} };
    if (!search.isEmpty())
        request.query.addQueryItem(QStringLiteral("search"),
                                   QString::fromLatin1(QUrl::toPercentEncoding(search)));
    request.query.addQueryItem(QStringLiteral("limit"), QString::number(limit));
    if (!startingAfter.isEmpty())
        request.query.addQueryItem(QStringLiteral("starting_after"), startingAfter);
    send<Page<Campaign>>(request, std::move(done));
}

void InstantlyClient::getCampaign(const QString &id, ApiCallback<Campaign> done)
{
    send<Campaign>(
        { "GET",
          QStringLiteral("/api/v2/campaigns/") + QString::fromLatin1(QUrl::toPercentEncoding(id)),
          {},
          {} },
        std::move(done));
}

void InstantlyClient::createCampaign(const QString &name, ApiCallback<Campaign> done)
{
    json days = json::object();
    for (const char *day : { "1", "2", "3", "4", "5" })
        days[day] = true;
    const json body = {
        { "name", instantlyStd(name) },
        { "campaign_schedule",
          { { "schedules",
              json::array({ { { "name", "Weekdays" },
                              { "timing", { { "from", "09:00" }, { "to", "17:00" } } },
                              { "days", days },
                              { "timezone", "America/Chicago" } } }) } } },
    };
    send<Campaign>({ "POST", QStringLiteral("/api/v2/campaigns"), {}, dump(body) },
                   [this, done = std::move(done)](ApiReply<Campaign> result) {
                       if (result.ok())
                           m_campaignCache.insert(result->name, result.value());
                       done(std::move(result));
                   });
}

void InstantlyClient::deleteCampaign(const QString &id, ApiCallback<Campaign> done)
{
    send<Campaign>(
        { "DELETE",
          QStringLiteral("/api/v2/campaigns/") + QString::fromLatin1(QUrl::toPercentEncoding(id)),
          {},
          {} },
        [this, id, done = std::move(done)](ApiReply<Campaign> result) {
            for (auto it = m_campaignCache.begin(); it != m_campaignCache.end();) {
                it = it->id == id ? m_campaignCache.erase(it) : std::next(it);
            }
            done(std::move(result));
        });
}

void InstantlyClient::findCampaign(const QString &name, ApiCallback<std::optional<Campaign>> done)
{
    const auto cached = m_campaignCache.constFind(name);
    if (cached != m_campaignCache.constEnd()) {
        done(std::optional<Campaign>(cached.value()));
        return;
    }
    findCampaignPage(name, QString(), std::move(done));
}

void InstantlyClient::findCampaignPage(const QString &name, const QString &cursor,
                                       ApiCallback<std::optional<Campaign>> done)
{
    listCampaigns(name, 100, cursor,
                  [this, name, done = std::move(done)](ApiReply<Page<Campaign>> page) mutable {
                      if (!page.ok()) {
                          done(page.error());
                          return;
                      }
                      for (const Campaign &c : page->items) {
                          if (c.name == name) {
                              m_campaignCache.insert(name, c);
                              done({ std::optional<Campaign>(c), page.call() });
                              return;
                          }
                      }
                      if (page->items.empty() || page->nextStartingAfter.isEmpty()) {
                          done({ std::optional<Campaign>(), page.call() });
                          return;
                      }
                      findCampaignPage(name, page->nextStartingAfter, std::move(done));
                  });
}

void InstantlyClient::createLead(const QString &campaignId, const Lead &lead, SkipFlags flags,
                                 ApiCallback<LeadRecord> done)
{
    json body = leadJson(lead);
    body["campaign"] = instantlyStd(campaignId);
    body["skip_if_in_campaign"] = flags.ifInCampaign;
    body["skip_if_in_workspace"] = flags.ifInWorkspace;
    send<LeadRecord>({ "POST", QStringLiteral("/api/v2/leads"), {}, dump(body) }, std::move(done));
}

void InstantlyClient::addLeads(const QString &campaignId, const std::vector<Lead> &leads,
                               SkipFlags flags, ApiCallback<BulkAddResult> done)
{
    json list = json::array();
    for (const Lead &lead : leads)
        list.push_back(leadJson(lead));
    const json body = {
        { "campaign_id", instantlyStd(campaignId) },
        { "skip_if_in_campaign", flags.ifInCampaign },
        { "skip_if_in_workspace", flags.ifInWorkspace },
        { "leads", std::move(list) },
    };
    send<BulkAddResult>({ "POST", QStringLiteral("/api/v2/leads/add"), {}, dump(body) },
                        std::move(done));
}

void InstantlyClient::listLeads(const LeadFilter &filter, ApiCallback<Page<LeadRecord>> done)
{
    json body = { { "limit", filter.limit } };
    if (!filter.campaignId.isEmpty())
        body["campaign"] = instantlyStd(filter.campaignId);
    if (!filter.search.isEmpty())
        body["search"] = instantlyStd(filter.search);
    if (!filter.contacts.isEmpty()) {
        json contacts = json::array();
        for (const QString &c : filter.contacts)
            contacts.push_back(instantlyStd(c));
        body["contacts"] = std::move(contacts);
    }
    if (!filter.startingAfter.isEmpty())
        body["starting_after"] = instantlyStd(filter.startingAfter);
    send<Page<LeadRecord>>({ "POST", QStringLiteral("/api/v2/leads/list"), {}, dump(body) },
                           std::move(done));
}

void InstantlyClient::listAllLeads(const LeadFilter &filter,
                                   ApiCallback<std::vector<LeadRecord>> done)
{
    listAllLeadsFrom(filter, std::make_shared<std::vector<LeadRecord>>(), std::move(done));
}

void InstantlyClient::listAllLeadsFrom(LeadFilter filter,
                                       std::shared_ptr<std::vector<LeadRecord>> acc,
                                       ApiCallback<std::vector<LeadRecord>> done)
{
    listLeads(filter,
              [this, filter, acc, done = std::move(done)](ApiReply<Page<LeadRecord>> page) mutable {
                  if (!page.ok()) {
                      done(page.error());
                      return;
                  }
                  for (LeadRecord &r : page.value().items)
                      acc->push_back(std::move(r));
                  if (page->items.empty() || page->nextStartingAfter.isEmpty()) {
                      done({ std::move(*acc), page.call() });
                      return;
                  }
                  filter.startingAfter = page->nextStartingAfter;
                  listAllLeadsFrom(filter, acc, std::move(done));
              });
}

void InstantlyClient::deleteLead(const QString &id, ApiCallback<LeadRecord> done)
{
    send<LeadRecord>(
        { "DELETE",
          QStringLiteral("/api/v2/leads/") + QString::fromLatin1(QUrl::toPercentEncoding(id)),
          {},
          {} },
        std::move(done));
}

void InstantlyClient::deleteLeads(const QString &campaignId, const QStringList &ids,
                                  ApiCallback<int> done)
{
    json body = { { "campaign_id", instantlyStd(campaignId) } };
    if (!ids.isEmpty()) {
        json list = json::array();
        for (const QString &id : ids)
            list.push_back(instantlyStd(id));
        body["ids"] = std::move(list);
    }
    send<int>({ "DELETE", QStringLiteral("/api/v2/leads"), {}, dump(body) }, std::move(done));
}

} // namespace sluice

#include "moc_instantlyclient.cpp" // NOLINT(bugprone-suspicious-include)
