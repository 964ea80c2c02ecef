#pragma once

#include "close/closelead.h"
#include "close/closetask.h"
#include "instantly/instantlyclient.h"
#include "net/apitransport.h"

#include <QObject>
#include <QUrl>
#include <QUrlQuery>

namespace sluice {

struct CloseOptions
{
    QUrl baseUrl = QUrl(QStringLiteral("https://api.close.com"));
    QString apiKey; ///< sent as the Basic-auth user with an empty password
    std::chrono::milliseconds timeout { 15'000 };
    /// Requests on the wire at once (ApiTransport::setMaxInFlight, 1..6).
    int maxInFlight = 4;
};

/// One page of leads found by POST /api/v1/data/search/.
struct CloseSearchPage
{
    struct Found
    {
        QString leadId;
        /// The Instantly leads it yields, or why the lead is unusable.
        Result<CloseLeadConversion, QString> conversion;
    };
    std::vector<Found> leads;
    QString cursor; ///< for the next page; empty on the last one
};

/// The Close API calls Sluice makes: fetching leads whose webhooks did not carry them (Close's
/// webhooks never do), one at a time or many in one search.
class CloseClient : public QObject
{
    Q_OBJECT
public:
    explicit CloseClient(const CloseOptions &options, QObject *parent = nullptr);

    /// GET /api/v1/lead/{id}/: the lead's raw JSON. An id that cannot be a Close id is refused
    /// without a request (Permanent).
    void getLead(const QString &leadId, ApiCallback<QByteArray> done);
    /// getLead() and convertCloseLeadBody(): the Instantly leads of a Close lead. An answer that
    /// is not a usable Close lead is a Permanent failure whose message says what is wrong.
    void fetchLeads(const QString &leadId, ApiCallback<CloseLeadConversion> done);
    /// POST /api/v1/data/search/ for the leads with these ids, asking only for the fields
    /// Sluice reads, `limit` per page (at most kSearchPageMax), from `cursor` (empty: the first
    /// page). Ids Close does not know are simply absent. An answer that is not a search page
    /// is a Permanent failure.
    void searchLeads(const QStringList &leadIds, int limit, const QString &cursor,
                     ApiCallback<CloseSearchPage> done);

    /// GET /api/v1/task/: one page of lead tasks (`_type=lead`) created at or after `since`,
    /// oldest first, `_skip` and `_limit` as Close pages (offset paging), with only the
    /// fields CloseTask holds. An answer that is not a task page is a Permanent failure.
    void listLeadTasks(const QDateTime &since, int skip, int limit,
                       ApiCallback<CloseTaskPage> done);
    /// Every lead task created at or after `since`, page after page while `has_more`, oldest
    /// first. A 429 asks for the same page again (the gate waits out Close's rate_reset), up to
    /// `rateLimitedMax` times in a row, then ends with that 429; any other failure ends it with
    /// that failure. `maxTasks` bounds a runaway listing.
    void listLeadTasksSince(const QDateTime &since, ApiCallback<std::vector<CloseTask>> done,
                            int maxTasks = kTaskListingMax,
                            int rateLimitedMax = kTaskListingRateLimitedMax);

    /// Tasks per page Sluice asks for.
    static constexpr int kTaskPageSize = 100;
    /// listLeadTasksSince() gives up after this many 429s in a row for one page.
    static constexpr int kTaskListingRateLimitedMax = 30;
    /// listLeadTasksSince() stops with a Permanent failure past this many tasks.
    static constexpr int kTaskListingMax = 100'000;
    static QString taskListRoute();
    /// The query of one task page (exposed for tests).
    static QUrlQuery taskListQuery(const QDateTime &since, int skip, int limit);

    /// The largest `_limit` Sluice asks the search for.
    static constexpr int kSearchPageMax = 200;
    /// The routes (method and path template) Close limits as endpoint groups.
    static QString leadRoute();
    static QString searchRoute();
    /// The search body for these ids: the documented `and` of an `object_type` query for
    /// leads and a `field_condition` on the lead's `id`, with `_fields`, `_limit` and `cursor`.
    static QByteArray searchBody(const QStringList &leadIds, int limit, const QString &cursor);

    ApiTransport *transport() const { return m_transport; }
    /// A Close API key was given (without one every request is refused with 401).
    bool hasKey() const { return m_hasKey; }

Q_SIGNALS:
    void requestFinished(const sluice::ApiResult &result);

private:
    ApiTransport *m_transport;
    bool m_hasKey;
};

} // namespace sluice
