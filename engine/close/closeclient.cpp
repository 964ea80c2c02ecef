#include "closeclient.h"

#include "core/jsontext.h"

#include <QPointer>
#include <QRegularExpression>

#include <memory>

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
    return jsonBytes(body);
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

QString CloseClient::taskListRoute()
{
    return QStringLiteral("GET /api/v1/task/");
}

QUrlQuery CloseClient::taskListQuery(const QDateTime &since, int skip, int limit)
{
    QUrlQuery query;
    // Without `_type` Close lists only lead tasks; saying so keeps that from being a default.
    query.addQueryItem(QStringLiteral("_type"), QStringLiteral("lead"));
    // "+00:00" goes as %2B00:00: a bare '+' in a query string reads as a space.
    query.addQueryItem(QStringLiteral("date_created__gte"),
                       closeDateTimeText(since).replace(QLatin1Char('+'), QLatin1String("%2B")));
    query.addQueryItem(QStringLiteral("_order_by"), QStringLiteral("date_created"));
    query.addQueryItem(QStringLiteral("_fields"),
                       QStringLiteral("id,_type,lead_id,text,date_created"));
    query.addQueryItem(QStringLiteral("_skip"), QString::number(skip));
    query.addQueryItem(QStringLiteral("_limit"), QString::number(limit));
    return query;
}

void CloseClient::listLeadTasks(const QDateTime &since, int skip, int limit,
                                ApiCallback<CloseTaskPage> done)
{
    ApiRequest request { "GET",
                         QStringLiteral("/api/v1/task/"),
                         taskListQuery(since, std::max(0, skip),
                                       std::clamp(limit, 1, kTaskPageSize)),
                         {},
                         taskListRoute() };
    m_transport->call(request, [done = std::move(done)](const ApiResult &result) {
        if (!result.ok()) {
            done(result);
            return;
        }
        auto page = parseCloseTaskPage(result.body);
        if (!page) {
            ApiResult failed = result;
            failed.outcome = CallOutcome::Permanent;
            failed.message
                = QStringLiteral("the task listing is not a page of tasks: ") + page.error();
            done(failed);
            return;
        }
        done(ApiReply<CloseTaskPage>(std::move(page).value(), result));
    });
}

void CloseClient::listLeadTasksSince(const QDateTime &since,
                                     ApiCallback<std::vector<CloseTask>> done, int maxTasks,
                                     int rateLimitedMax)
{
    struct Listing
    {
        std::vector<CloseTask> tasks;
        ApiCallback<std::vector<CloseTask>> done;
        std::function<void()> next;
        int rateLimitedInARow = 0;
    };
    auto listing = std::make_shared<Listing>();
    listing->done = std::move(done);
    QPointer<CloseClient> self(this);
    // The lambda holds only a weak reference to the listing, so the two do not keep each other
    // alive; each request's callback holds the strong one.
    std::weak_ptr<Listing> weak = listing;
    listing->next = [self, since, maxTasks, rateLimitedMax, weak] {
        const auto held = weak.lock();
        if (!held || !self)
            return;
        self->listLeadTasks(
            since, int(held->tasks.size()), kTaskPageSize,
            [held, maxTasks, rateLimitedMax](ApiReply<CloseTaskPage> page) {
                if (!page.ok()) {
                    // The gate holds the same page until Close's rate_reset; a client without
                    // one (or a Close that keeps refusing) must not ask forever.
                    if (page.error().outcome == CallOutcome::RateLimited
                        && ++held->rateLimitedInARow <= rateLimitedMax) {
                        held->next();
                        return;
                    }
                    held->done(page.error());
                    return;
                }
                held->rateLimitedInARow = 0;
                for (const CloseTask &task : page->tasks)
                    held->tasks.push_back(task);
                if (int(held->tasks.size()) > maxTasks) {
                    ApiResult failed = page.call();
                    failed.outcome = CallOutcome::Permanent;
                    failed.message
                        = QStringLiteral("more than %1 tasks; list a shorter span").arg(maxTasks);
                    held->done(failed);
                    return;
                }
                if (page->hasMore && !page->tasks.empty()) {
                    held->next();
                    return;
                }
                held->done(ApiReply<std::vector<CloseTask>>(std::move(held->tasks), page.call()));
            });
    };
    listing->next();
}

} // namespace sluice

#include "moc_closeclient.cpp" // NOLINT(bugprone-suspicious-include)
