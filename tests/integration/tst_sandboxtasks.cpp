// The sandbox's Close tasks held to Close's task docs (docs/sandbox-rules.md, [C-tasks]):
// tasks made through the control API on seeded leads, GET /api/v1/task/ with its documented
// filters (`_type`, `lead_id`, `id__in`, `is_complete`, `date_created__gt/gte/lt/lte`), ordering,
// offset paging with `has_more`, `_fields`, Basic auth, its own endpoint group with 429s, and
// Close-style 400s for bad input. Then CloseClient::listLeadTasksSince() against it.
// In-process sandbox on port 0; rate limits run on a ManualClock.
#include "close/closeclient.h"
#include "common/suite.h"
#include "sandbox/sandboxserver.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTest>

#include <nlohmann/json.hpp>

#include "common/httpreply.h"

#include <memory>

using namespace sluice;
using json = nlohmann::json;
using std::chrono::milliseconds;
using Reply = sluice::test::HttpReply;

namespace {

#define JCOMPARE(actual, expected)                                                                 \
    do {                                                                                           \
        const json actual_ = (actual);                                                             \
        const json expected_ = (expected);                                                         \
        QVERIFY2(actual_ == expected_, (actual_.dump() + " != " + expected_.dump()).c_str());      \
    } while (false)

json taskLead(int i)
{
    return { { "id", "lead_" + std::to_string(i) },
             { "display_name", "Company " + std::to_string(i) },
             { "contacts", json::array() } };
}

/// The ids of a listing's tasks, in order.
QStringList taskIds(const Reply &r)
{
    QStringList ids;
    const json page = r.parsed();
    for (const json &t : page["data"])
        ids << QString::fromStdString(t.value("id", std::string()));
    return ids;
}

} // namespace

class TestSandboxTasks : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_sandbox = std::make_unique<SandboxServer>(SandboxOptions {}, &m_clock);
        QVERIFY(m_sandbox->start() != 0);
        json leads = json::array();
        for (int i = 0; i < 3; ++i)
            leads.push_back(taskLead(i));
        QCOMPARE(m_sandbox->store().close().putLeads(leads).status, 200);
    }
    void cleanup() { m_sandbox.reset(); }

    void controlCreatesTasksOnSeededLeadsAllOrNothing()
    {
        const Reply made = control("POST", QStringLiteral("close/tasks"),
                                   R"({"lead_id": "lead_0", "text": "Instantly: Spring"})");
        QCOMPARE(made.status, 200);
        const json task = made.parsed()["tasks"][0];
        QVERIFY(QString::fromStdString(task["id"]).startsWith(QLatin1String("task_")));
        JCOMPARE(task["_type"], "lead");
        JCOMPARE(task["lead_id"], "lead_0");
        JCOMPARE(task["lead_name"], "Company 0");
        JCOMPARE(task["text"], "Instantly: Spring");
        JCOMPARE(task["is_complete"], false);
        QVERIFY(task["date_created"].is_string());
        // A batch with one unknown lead stores none of it.
        const Reply refused = control(
            "POST", QStringLiteral("close/tasks"),
            R"([{"lead_id": "lead_1", "text": "a"}, {"lead_id": "lead_404", "text": "b"}])");
        QCOMPARE(refused.status, 400);
        QCOMPARE(m_sandbox->store().closeTasks().taskCount(), 1);
        QCOMPARE(control("POST", QStringLiteral("close/tasks"),
                         R"({"lead_id": "lead_1", "text": "x", "date_created": "yesterday"})")
                     .status,
                 400);
        QCOMPARE(control("POST", QStringLiteral("close/tasks"),
                         R"({"lead_id": "lead_1", "text": "x", "colour": "red"})")
                     .status,
                 400);
        // Given ids are kept and must be unique.
        QCOMPARE(control("POST", QStringLiteral("close/tasks"),
                         R"([{"id": "task_a", "lead_id": "lead_1", "text": "x"},
                             {"id": "task_a", "lead_id": "lead_2", "text": "y"}])")
                     .status,
                 400);
        JCOMPARE(control("GET", QStringLiteral("stats")).parsed()["close"]["tasks"], 1);
        QCOMPARE(control("DELETE", QStringLiteral("close/tasks/task_nope")).status, 404);
        const QString id = QString::fromStdString(task["id"]);
        QCOMPARE(control("DELETE", QStringLiteral("close/tasks/") + id).status, 200);
        QCOMPARE(m_sandbox->store().closeTasks().taskCount(), 0);
        put({ { { "lead_id", "lead_0" }, { "text", "t" } } });
        JCOMPARE(control("DELETE", QStringLiteral("close/tasks")).parsed()["deleted"], 1);
        put({ { { "lead_id", "lead_0" }, { "text", "t" } } });
        QCOMPARE(control("POST", QStringLiteral("reset")).status, 200);
        QCOMPARE(m_sandbox->store().closeTasks().taskCount(), 0);
    }

    void listingHasTheDocumentedShape()
    {
        put({ { { "id", "task_1" },
                { "lead_id", "lead_0" },
                { "text", "Instantly: Spring" },
                { "date_created", "2026-12-01T10:00:00+00:00" } } });
        const Reply r = closeGet(QStringLiteral("/api/v1/task/"));
        QCOMPARE(r.status, 200);
        const json page = r.parsed();
        QVERIFY(page["data"].is_array());
        JCOMPARE(page["has_more"], false);
        const json t = page["data"][0];
        for (const char *field : { "id", "_type", "lead_id", "text", "date_created", "is_complete",
                                   "date", "lead_name" })
            QVERIFY2(t.contains(field), field);
        JCOMPARE(t["date_created"], "2026-12-01T10:00:00.000000+00:00");
        // _fields picks.
        const Reply picked = closeGet(QStringLiteral("/api/v1/task/?_fields=id,text"));
        JCOMPARE(picked.parsed()["data"][0],
                 json({ { "id", "task_1" }, { "text", "Instantly: Spring" } }));
        // A RateLimit header, as every Close answer.
        QVERIFY(!r.header("RateLimit").isEmpty());
    }

    void filtersByTypeLeadIdsCompletionAndCreationTime_data()
    {
        QTest::addColumn<QByteArray>("query");
        QTest::addColumn<QByteArray>("expected"); // ids, comma-separated
        auto row = [](const char *name, const char *query, const char *expected) {
            QTest::newRow(name) << QByteArray(query) << QByteArray(expected);
        };
        const char *all = "task_a,task_b,task_c,task_d";
        row("no filter: lead tasks", "", all);
        row("_type=lead", "_type=lead", all);
        row("_type=all", "_type=all", all);
        row("_type=voicemail", "_type=voicemail", "");
        row("_type__in", "_type__in=missed_call,lead", all);
        row("lead_id", "lead_id=lead_1", "task_b,task_c");
        row("id", "id=task_c", "task_c");
        row("id__in", "id__in=task_a,task_d,task_zz", "task_a,task_d");
        row("is_complete=true", "is_complete=true", "task_d");
        row("is_complete=false", "is_complete=false", "task_a,task_b,task_c");
        row("gte at b", "date_created__gte=2026-12-02T00:00:00%2B00:00", "task_b,task_c,task_d");
        row("gt at b", "date_created__gt=2026-12-02T00:00:00Z", "task_c,task_d");
        row("lt at c (a date is midnight UTC)", "date_created__lt=2026-12-03", "task_a,task_b");
        row("lte at c (no offset: UTC)", "date_created__lte=2026-12-03T00:00:00.000000",
            "task_a,task_b,task_c");
        row("offset -01:00", "date_created__gte=2026-12-02T23:00:00-01:00", "task_c,task_d");
        row("range", "date_created__gt=2026-12-01&date_created__lt=2026-12-04", "task_b,task_c");
        row("descending", "_order_by=-date_created", "task_d,task_c,task_b,task_a");
    }
    void filtersByTypeLeadIdsCompletionAndCreationTime()
    {
        QFETCH(QByteArray, query);
        QFETCH(QByteArray, expected);
        put({ { { "id", "task_a" },
                { "lead_id", "lead_0" },
                { "text", "Instantly: A" },
                { "date_created", "2026-12-01T00:00:00Z" } },
              { { "id", "task_b" },
                { "lead_id", "lead_1" },
                { "text", "Instantly: B" },
                { "date_created", "2026-12-02T00:00:00Z" } },
              { { "id", "task_c" },
                { "lead_id", "lead_1" },
                { "text", "call them" },
                { "date_created", "2026-12-03T00:00:00Z" } },
              { { "id", "task_d" },
                { "lead_id", "lead_2" },
                { "text", "Instantly: D" },
                { "date_created", "2026-12-04T00:00:00Z" },
                { "is_complete", true } } });
        const Reply r = closeGet(QStringLiteral("/api/v1/task/?") + QString::fromLatin1(query));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QVERIFY2(taskIds(r).join(QLatin1Char(',')) == QString::fromLatin1(expected),
                 qPrintable(r.describe()));
    }

    void pagesWithSkipLimitAndHasMore()
    {
        json many = json::array();
        for (int i = 0; i < 250; ++i)
            many.push_back({ { "lead_id", "lead_" + std::to_string(i % 3) }, { "text", "t" } });
        put(many);
        QStringList seen;
        QList<bool> more;
        for (int skip = 0; skip < 300; skip += 100) {
            const Reply r = closeGet(QStringLiteral("/api/v1/task/?_skip=%1&_limit=100").arg(skip));
            QCOMPARE(r.status, 200);
            seen += taskIds(r);
            more << r.parsed()["has_more"].get<bool>();
        }
        QCOMPARE(more, (QList<bool> { true, true, false }));
        QCOMPARE(seen.size(), 250);
        QCOMPARE(QSet<QString>(seen.begin(), seen.end()).size(), 250); // none twice
        // Without _limit: 100 a page.
        QCOMPARE(taskIds(closeGet(QStringLiteral("/api/v1/task/"))).size(), 100);
        // Past the end: an empty last page.
        const Reply past = closeGet(QStringLiteral("/api/v1/task/?_skip=1000"));
        QCOMPARE(past.status, 200);
        QVERIFY(past.parsed()["data"].empty());
        JCOMPARE(past.parsed()["has_more"], false);
    }

    void badInputIsACloseStyle400_data()
    {
        QTest::addColumn<QByteArray>("query");
        QTest::addColumn<QByteArray>("field");
        auto row = [](const char *name, const char *query, const char *field) {
            QTest::newRow(name) << QByteArray(query) << QByteArray(field);
        };
        row("unknown _type", "_type=meeting", "_type");
        row("unknown in _type__in", "_type__in=lead,nope", "_type__in");
        row("both _type and _type__in", "_type=lead&_type__in=lead", "_type");
        row("bad date", "date_created__gte=last-tuesday", "date_created__gte");
        row("impossible date", "date_created__gt=2026-02-30", "date_created__gt");
        row("bare plus reads as a space", "date_created__gte=2026-12-01T00:00:00+00:00",
            "date_created__gte");
        row("bad is_complete", "is_complete=maybe", "is_complete");
        row("_limit over the maximum", "_limit=101", "_limit");
        row("_limit 0", "_limit=0", "_limit");
        row("_limit not a number", "_limit=ten", "_limit");
        row("negative _skip", "_skip=-1", "_skip");
        row("bad _order_by", "_order_by=text", "_order_by");
        row("view is not served", "view=inbox", "view");
        row("unknown filter", "colour=red", "colour");
        row("given twice", "lead_id=lead_0&lead_id=lead_1", "lead_id");
    }
    void badInputIsACloseStyle400()
    {
        QFETCH(QByteArray, query);
        QFETCH(QByteArray, field);
        const Reply r = closeGet(QStringLiteral("/api/v1/task/?") + QString::fromLatin1(query));
        QCOMPARE(r.status, 400);
        const json body = r.parsed();
        QVERIFY2(body["error"].is_string(), qPrintable(r.describe()));
        QVERIFY2(body["field-errors"].contains(field.toStdString()), qPrintable(r.describe()));
    }

    void authAndItsOwnRateLimitGroup()
    {
        QCOMPARE(send("GET", QStringLiteral("/api/v1/task/"), {}).status, 401);
        QCOMPARE(send("GET", QStringLiteral("/api/v1/task/"), "Bearer sandbox").status, 401);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/task/"), "stranger").status, 401);
        QCOMPARE(control("PUT", QStringLiteral("close/limits"),
                         R"({"task_list": {"per_key": 2, "per_org": 6}})")
                     .status,
                 200);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/task/")).status, 200);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/task/")).status, 200);
        const Reply limited = closeGet(QStringLiteral("/api/v1/task/"));
        QCOMPARE(limited.status, 429);
        JCOMPARE(limited.parsed()["error"]["rate_endpoint_group"], "task_list");
        QVERIFY(limited.parsed()["error"]["rate_reset"].is_number());
        // The lead lookups keep their own budget.
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        m_clock.advance(milliseconds { 1000 });
        QCOMPARE(closeGet(QStringLiteral("/api/v1/task/")).status, 200);
        const json stats = control("GET", QStringLiteral("stats")).parsed();
        JCOMPARE(stats["close"]["groups"]["task_list"]["requests"], 4);
        JCOMPARE(stats["close"]["groups"]["task_list"]["rate_limited"], 1);
    }

    /// The client pages through has_more, sends the time with its '+' encoded, and asks for
    /// lead tasks only, oldest first.
    void clientListsEveryTaskSinceATime()
    {
        QCOMPARE(control("PUT", QStringLiteral("close/limits"),
                         R"({"task_list": {"per_key": 1000, "per_org": 3000}})")
                     .status,
                 200);
        json many = json::array();
        for (int i = 0; i < 230; ++i) {
            const QDateTime at
                = QDateTime(QDate(2026, 12, 1), QTime(0, 0), Qt::UTC).addSecs(i * 60);
            many.push_back({ { "id", "task_" + std::to_string(1000 + i) },
                             { "lead_id", "lead_" + std::to_string(i % 3) },
                             { "text", "Instantly: C" + std::to_string(i) },
                             { "date_created", at.toString(Qt::ISODate).toStdString() } });
        }
        put(many);
        CloseOptions options;
        options.baseUrl = m_sandbox->baseUrl();
        options.apiKey = QStringLiteral("sandbox");
        CloseClient client(options);
        // From the 11th task on (10 minutes after the first).
        const QDateTime since = QDateTime(QDate(2026, 12, 1), QTime(0, 10), Qt::UTC);
        std::optional<ApiReply<std::vector<CloseTask>>> got;
        client.listLeadTasksSince(since,
                                  [&](ApiReply<std::vector<CloseTask>> r) { got.emplace(r); });
        QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 10'000);
        QVERIFY2(got->ok(), got->ok() ? "" : qPrintable(got->error().describe()));
        const std::vector<CloseTask> &tasks = got->value();
        QCOMPARE(int(tasks.size()), 220);
        QCOMPARE(tasks.front().id, QStringLiteral("task_1010"));
        QCOMPARE(tasks.front().dateCreated, since);
        QCOMPARE(tasks.back().id, QStringLiteral("task_1229"));
        QCOMPARE(tasks.front().text, QStringLiteral("Instantly: C10"));
        QCOMPARE(tasks.front().leadId, QStringLiteral("lead_1"));
        int listings = 0;
        for (const SandboxLogEntry &e : m_sandbox->requestLog())
            listings += e.closeGroup == QLatin1String("task_list") && e.status == 200 ? 1 : 0;
        QCOMPARE(listings, 3); // 100 + 100 + 20
    }

    /// Without a gate nothing waits out a 429: the listing gives up instead of asking forever.
    /// A cap of 2 keeps all the requests well inside the one second the budget is spent for.
    void clientWithoutAGateStopsAfterRepeated429s()
    {
        QCOMPARE(control("PUT", QStringLiteral("close/limits"),
                         R"({"task_list": {"per_key": 1, "per_org": 3}})")
                     .status,
                 200);
        CloseOptions options;
        options.baseUrl = m_sandbox->baseUrl();
        options.apiKey = QStringLiteral("sandbox");
        CloseClient client(options);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/task/")).status, 200); // the second's budget
        std::optional<ApiReply<std::vector<CloseTask>>> got;
        client.listLeadTasksSince(
            QDateTime::currentDateTimeUtc().addDays(-1),
            [&](ApiReply<std::vector<CloseTask>> r) { got.emplace(r); },
            CloseClient::kTaskListingMax, 2);
        QTRY_VERIFY_WITH_TIMEOUT(got.has_value(), 10'000);
        QVERIFY(!got->ok());
        QVERIFY(got->error().outcome == CallOutcome::RateLimited);
        const json stats = control("GET", QStringLiteral("stats")).parsed();
        JCOMPARE(stats["close"]["groups"]["task_list"]["rate_limited"], 3);
    }

private:
    void put(const json &tasks)
    {
        const StoreReply r = m_sandbox->store().closeTasks().putTasks(
            tasks, [this](const QString &id) { return m_sandbox->store().closeLeadName(id); });
        if (r.status != 200)
            qFatal("tasks not stored: %s", bodyBytes(r).constData());
    }

    Reply send(const QByteArray &method, const QString &path, const QByteArray &authorization,
               const QByteArray &body = {})
    {
        QNetworkRequest request(QUrl(m_sandbox->baseUrl().toString() + path));
        if (!authorization.isEmpty())
            request.setRawHeader("Authorization", authorization);
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader,
                              QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_manager.sendCustomRequest(request, method, body);
        if (!QTest::qWaitFor([reply] { return reply->isFinished(); }, 10'000))
            qFatal("no answer from the sandbox");
        return Reply::from(reply);
    }
    Reply control(const QByteArray &method, const QString &path, const QByteArray &body = {})
    {
        return send(method, QStringLiteral("/_sandbox/") + path, "Bearer sandbox", body);
    }
    Reply closeGet(const QString &pathAndQuery, const QByteArray &key = "sandbox")
    {
        return send("GET", pathAndQuery, "Basic " + QByteArray(key + ':').toBase64());
    }

    ManualClock m_clock;
    QNetworkAccessManager m_manager;
    std::unique_ptr<SandboxServer> m_sandbox;
};

SLUICE_TEST_GUILESS_MAIN(TestSandboxTasks)
#include "tst_sandboxtasks.moc"
