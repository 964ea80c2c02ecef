#include "closeclient.h"

#include <QRegularExpression>

#include <nlohmann/json.hpp>

namespace sluice {

CloseClient::CloseClient(const CloseOptions &options, QObject *parent)
    : QObject(parent)
    , m_transport(new ApiTransport(options.baseUrl,
                                   "Basic " + QByteArray(options.apiKey.toUtf8() + ':').toBase64(),
                                   options.timeout, this))
    , m_hasKey(!options.apiKey.isEmpty())
{
    m_transport->setMaxInFlight(options.maxInFlight);
    connect(m_transport, &ApiTransport::requestFinished, this, &CloseClient::requestFinished);
}

void CloseClient::getLead(const QString &leadId, ApiCallback<QByteArray> done)
{
    static const QRegularExpression idPattern(QStringLiteral("^[A-Za-z0-9_-]{1,128}$"));
    if (!idPattern.match(leadId).hasMatch()) {
        ApiResult refused;
        refused.outcome = CallOutcome::Permanent;
        refused.endpoint = QStringLiteral("GET /api/v1/lead/{id}/");
        refused.message = QStringLiteral("'%1' is not a Close lead id").arg(leadId.left(64));
        done(refused);
        return;
    }
    m_transport->call(
        { "GET", QStringLiteral("/api/v1/lead/") + leadId + QLatin1Char('/'), {}, {}, leadRoute() },
        [done = std::move(done)](const ApiResult &result) {
            if (!result.ok()) {
                done(result);
                return;
            }
            done(ApiReply<QByteArray>(result.body, result));
        });
}

void CloseClient::fetchLeads(const QString &leadId, ApiCallback<CloseLeadConversion> done)
{
    getLead(leadId, [leadId, done = std::move(done)](ApiReply<QByteArray> body) {
        if (!body.ok()) {
            done(body.error());
            return;
        }
        auto converted = convertCloseLeadBody(body.value());
        if (!converted.ok()) {
            ApiResult bad;
            bad.outcome = CallOutcome::Permanent;
            bad.httpStatus = 200;
            bad.endpoint = QStringLiteral("GET /api/v1/lead/%1/").arg(leadId);
            bad.message = QStringLiteral("Close lead %1 is unusable: %2")
                              .arg(leadId, converted.error().message());
            done(bad);
            return;
        }
        done(ApiReply<CloseLeadConversion>(std::move(converted).value(), body.call()));
    });
}

QString CloseClient::leadRoute()
{
    return QStringLiteral("GET /api/v1/lead/{id}/");
}

QString CloseClient::searchRoute()
{
    return QStringLiteral("POST /api/v1/data/search/");
}

QByteArray CloseClient::searchBody(const QStringList &leadIds, int limit, const QString &cursor)
{
    using json = nlohmann::json;
    json ids = json::array();
    for (const QString &id : leadIds)
        ids.push_back(id.toStdString());
    json body = {
        { "query",
          { { "type", "and" },
            { "queries",
              json::array({ { { "type", "object_type" }, { "object_type", "lead" } },
                            { { "type", "field_condition" },
                              { "field",
                                { { "type", "regular_field" },
                                  { "object_type", "lead" },
                                  { "field_name", "id" } } },
                              // "For ... ID fields, use a reference condition with that ID
                              // type as the reference_type" (Close, advanced filtering fields).
                              { "condition",
                                { { "type", "reference" },
                                  { "reference_type", "lead" },
                                  { "object_ids", std::move(ids) } } } } }) } } },
        // Only what convertCloseLead() reads.
        { "_fields", { { "lead", { "id", "name", "display_name", "contacts" } } } },
        { "_limit", limit },
    };
    if (!cursor.isEmpty())
        body["cursor"] = cursor.toStdString();
    return QByteArray::fromStdString(body.dump());
}

void CloseClient::searchLeads(const QStringList &leadIds, int limit, const QString &cursor,
                              ApiCallback<CloseSearchPage> done)
{
    ApiRequest request { "POST",
                         QStringLiteral("/api/v1/data/search/"),
                         {},
                         searchBody(leadIds, std::clamp(limit, 1, kSearchPageMax), cursor),
                         searchRoute() };
    m_transport->call(request, [done = std::move(done)](const ApiResult &result) {
        if (!result.ok()) {
            done(result);
            return;
        }
        auto bad = [&result](const QString &why) {
            ApiResult failed = result;
            failed.outcome = CallOutcome::Permanent;
            failed.message = QStringLiteral("the search answer is not a page of leads: ") + why;
            return failed;
        };
        nlohmann::json page;
        const IntakeLimits limits { 32, 1000, 4096 };
        if (auto error = parseLimitedJson(result.body, limits, page)) {
            done(bad(error->message()));
            return;
        }
        const auto data = page.find("data");
        if (!page.is_object() || data == page.end() || !data->is_array()) {
            done(bad(QStringLiteral("no \"data\" array")));
            return;
        }
        CloseSearchPage out;
        for (const nlohmann::json &lead : *data) {
            const auto id = lead.is_object() ? lead.find("id") : lead.end();
            if (id == lead.end() || !id->is_string())
                continue; // nothing to match it to
            const QString leadId = QString::fromStdString(id->get<std::string>());
            auto converted = convertCloseLead(lead);
            if (converted.ok())
                out.leads.push_back({ leadId, std::move(converted).value() });
            else
                out.leads.push_back({ leadId, converted.error().message() });
        }
        const auto next = page.find("cursor");
        if (next != page.end() && next->is_string())
            out.cursor = QString::fromStdString(next->get<std::string>());
        done(ApiReply<CloseSearchPage>(std::move(out), result));
    });
}

} // namespace sluice
