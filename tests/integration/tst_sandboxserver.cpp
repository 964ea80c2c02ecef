// The sandbox as an HTTP server, spoken to with raw requests: the workspace rate limit on a
// stepped clock, error shapes, method/size/JSON errors, the Close endpoint, the control API and
// a client that gives up on a hung request.
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

const QByteArray kBearer = "Bearer sandbox";

} // namespace

class TestSandboxServer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_sandbox = std::make_unique<SandboxServer>(SandboxOptions {}, &m_clock);
        QVERIFY(m_sandbox->start() != 0);
    }
    void cleanup() { m_sandbox.reset(); }

    void perSecondCapOnAFrozenClock()
    {
        // 40 requests at one instant: exactly 10 pass, 30 get Instantly's 429 body.
        const QList<Reply> burst = fire(40, "GET", QStringLiteral("/api/v2/campaigns"));
        int ok = 0;
        for (const Reply &r : burst) {
            if (r.status == 200) {
                ++ok;
                continue;
            }
            QCOMPARE(r.status, 429);
            const json body = r.parsed();
            QVERIFY(body["statusCode"] == 429);
            QVERIFY(body["error"] == "Too Many Requests");
            QVERIFY(body["message"].is_string());
            QVERIFY(r.header("Retry-After").isEmpty()); // not promised by Instantly
        }
        QCOMPARE(ok, 10);
        m_clock.advance(milliseconds { 999 });
        QCOMPARE(countOk(fire(5, "GET", QStringLiteral("/api/v2/campaigns"))), 0);
        m_clock.advance(milliseconds { 1 });
        QCOMPARE(countOk(fire(15, "GET", QStringLiteral("/api/v2/campaigns"))), 10);
        QCOMPARE(m_sandbox->worstWindow(milliseconds { 1000 }), 10);
    }

    void perMinuteCap()
    {
        m_sandbox->setLimits(100, 15);
        QCOMPARE(countOk(fire(40, "GET", QStringLiteral("/api/v2/campaigns"))), 15);
        m_clock.advance(milliseconds { 30'000 });
        QCOMPARE(countOk(fire(5, "GET", QStringLiteral("/api/v2/campaigns"))), 0);
        m_clock.advance(milliseconds { 30'000 });
        QCOMPARE(countOk(fire(40, "GET", QStringLiteral("/api/v2/campaigns"))), 15);
        QCOMPARE(m_sandbox->worstWindow(milliseconds { 60'000 }), 15);
        const json stats = control("GET", QStringLiteral("stats")).parsed();
        QVERIFY(stats["admitted"] == 30);
        QVERIFY(stats["rate_limited"] == 55);
        QVERIFY(stats["worst_60s"] == 15);
    }

    void retryAfterWhenEnabled()
    {
        SandboxOptions options;
        options.perSecond = 2;
        options.sendRetryAfter = true;
        m_sandbox = std::make_unique<SandboxServer>(options, &m_clock);
        QVERIFY(m_sandbox->start() != 0);
        fire(2, "GET", QStringLiteral("/api/v2/campaigns"));
        m_clock.advance(milliseconds { 200 });
        const Reply limited = send("GET", QStringLiteral("/api/v2/campaigns"));
        QCOMPARE(limited.status, 429);
        QCOMPARE(limited.header("Retry-After"), QByteArray("1")); // 800 ms, rounded up
    }

    void authIsRequired_data()
    {
        QTest::addColumn<QByteArray>("authorization");
        QTest::newRow("none") << QByteArray();
        QTest::newRow("wrong key") << QByteArray("Bearer nope");
        QTest::newRow("wrong scheme") << QByteArray("Basic c2FuZGJveDo=");
    }
    void authIsRequired()
    {
        QFETCH(QByteArray, authorization);
        const Reply r = send("GET", QStringLiteral("/api/v2/campaigns"), {}, authorization);
        QCOMPARE(r.status, 401);
        QVERIFY(r.parsed()["statusCode"] == 401);
        QCOMPARE(control("GET", QStringLiteral("stats"), {}, authorization).status, 401);
    }

    void badRequests_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("malformed JSON")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads/add")
            << QByteArray("{\"leads\": [") << 400 << QStringLiteral("not valid JSON");
        QTest::newRow("empty body") << QByteArray("POST") << QStringLiteral("/api/v2/leads")
                                    << QByteArray() << 400 << QStringLiteral("body must be object");
        QTest::newRow("both campaign_id and list_id")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads/add")
            << QByteArray(R"({"campaign_id":"a","list_id":"b","leads":[{"email":"a@b.co"}]})")
            << 400 << QStringLiteral("exactly one");
        QTest::newRow("lead without email")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads")
            << QByteArray(R"({"first_name":"A"})") << 400 << QStringLiteral("'email'");
        QTest::newRow("invalid email")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads")
            << QByteArray(R"({"email":"a@"})") << 400 << QStringLiteral("format \"email\"");
        QTest::newRow("nested custom variable")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads")
            << QByteArray(R"({"email":"a@b.co","custom_variables":{"x":{"y":1}}})") << 400
            << QStringLiteral("custom_variables/x");
        QTest::newRow("list limit over 100")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads/list")
            << QByteArray(R"({"limit":101})") << 400 << QStringLiteral("limit");
        QTest::newRow("unknown cursor")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads/list")
            << QByteArray(R"({"starting_after":"nope"})") << 400
            << QStringLiteral("starting_after");
        QTest::newRow("campaign without schedule")
            << QByteArray("POST") << QStringLiteral("/api/v2/campaigns")
            << QByteArray(R"({"name":"X"})") << 400 << QStringLiteral("campaign_schedule");
        QTest::newRow("wrong method") << QByteArray("PUT") << QStringLiteral("/api/v2/leads/add")
                                      << QByteArray("{}") << 405 << QStringLiteral("POST");
        QTest::newRow("unknown path") << QByteArray("GET") << QStringLiteral("/api/v3/nothing")
                                      << QByteArray() << 404 << QStringLiteral("/api/v3/nothing");
        QTest::newRow("body too large")
            << QByteArray("POST") << QStringLiteral("/api/v2/leads") << QByteArray(9 << 20, ' ')
            << 413 << QStringLiteral("limit");
    }
    void badRequests()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, body);
        QFETCH(int, status);
        QFETCH(QString, messagePart);
        const Reply r = send(method, path, body);
        QCOMPARE(r.status, status);
        const json parsed = r.parsed();
        QVERIFY(parsed["statusCode"] == status);
        const QString message = QString::fromStdString(parsed.value("message", std::string()));
        QVERIFY2(message.contains(messagePart), qPrintable(message));
        if (status == 405)
            QCOMPARE(r.header("Allow"), QByteArray("POST"));
        QCOMPARE(m_sandbox->store().leadCount(), 0);
    }

    void closeLeadEndpoint()
    {
        const json lead = {
            { "id", "lead_abc123" },
            { "display_name", "Acme" },
            { "contacts",
              json::array({ { { "name", "Ann Lee" },
                              { "emails", json::array({ { { "email", "ann@acme.io" } } }) } } }) }
        };
        QCOMPARE(
            control("POST", QStringLiteral("close/leads"), QByteArray::fromStdString(lead.dump()))
                .status,
            200);
        const QByteArray basic = "Basic " + QByteArray("sandbox:").toBase64();
        const Reply ok = send("GET", QStringLiteral("/api/v1/lead/lead_abc123/"), {}, basic);
        QCOMPARE(ok.status, 200);
        QVERIFY(ok.parsed() == lead);
        QCOMPARE(send("GET", QStringLiteral("/api/v1/lead/lead_missing/"), {}, basic).status, 404);
        const QByteArray wrong = "Basic " + QByteArray("other:").toBase64();
        QCOMPARE(send("GET", QStringLiteral("/api/v1/lead/lead_abc123/"), {}, wrong).status, 401);
        QCOMPARE(send("GET", QStringLiteral("/api/v1/lead/lead_abc123/"), {}, kBearer).status, 401);
    }

    void controlApi()
    {
        const Reply badFaults = control("PUT", QStringLiteral("faults"), R"({"error_rate": 2})");
        QCOMPARE(badFaults.status, 400);
        QVERIFY(badFaults.parsed()["message"].get<std::string>().find("between 0 and 1")
                != std::string::npos);
        const Reply faults
            = control("PUT", QStringLiteral("faults"), R"({"latency_ms": 5, "error_rate": 0.25})");
        QCOMPARE(faults.status, 200);
        QCOMPARE(m_sandbox->options().faults.errorRate, 0.25);
        QCOMPARE(m_sandbox->options().faults.latency, milliseconds { 5 });
        QCOMPARE(control("PUT", QStringLiteral("limits"), R"({"per_second": 0})").status, 400);
        QCOMPARE(
            control("PUT", QStringLiteral("limits"), R"({"per_second": 50, "per_minute": 900})")
                .status,
            200);
        QCOMPARE(m_sandbox->options().perMinute, 900);

        send("GET", QStringLiteral("/api/v2/campaigns"));
        const json log = control("GET", QStringLiteral("requests")).parsed();
        QCOMPARE(log["items"].size(), 1u);
        QVERIFY(log["items"][0]["path"] == "/api/v2/campaigns");
        QVERIFY(log["items"][0]["status"] == 200 || log["items"][0]["status"] == 500);
        const json later
            = control("GET",
                      QStringLiteral("requests?after=%1").arg(log["items"][0]["seq"].get<int>()))
                  .parsed();
        QCOMPARE(later["items"].size(), 0u);

        QCOMPARE(control("POST", QStringLiteral("outage"), R"({"duration_ms": 0})").status, 400);
        QCOMPARE(control("POST", QStringLiteral("outage"), R"({"duration_ms": 1000})").status, 200);
        m_sandbox->setFaults({});
        QCOMPARE(send("GET", QStringLiteral("/api/v2/campaigns")).status, 503);
        m_clock.advance(milliseconds { 1000 });
        QCOMPARE(send("GET", QStringLiteral("/api/v2/campaigns")).status, 200);

        QCOMPARE(control("POST", QStringLiteral("reset")).status, 200);
        QCOMPARE(control("GET", QStringLiteral("requests")).parsed()["items"].size(), 0u);
    }

    void hungRequestSurvivesClientGivingUp()
    {
        FaultOptions faults;
        faults.hangRate = 1.0;
        faults.hangDuration = milliseconds { 400 };
        m_sandbox->setFaults(faults);
        QNetworkRequest request(url(QStringLiteral("/api/v2/campaigns")));
        request.setRawHeader("Authorization", kBearer);
        request.setTransferTimeout(100);
        QNetworkReply *reply = m_manager.get(request);
        QTRY_VERIFY(reply->isFinished());
        QVERIFY(reply->error() != QNetworkReply::NoError);
        reply->deleteLater();
        // The sandbox answers into a closed connection after the hang, without crashing, and
        // logs that nobody received the answer.
        QTRY_COMPARE(m_sandbox->requestLog().back().latencyMs >= 400, true);
        QCOMPARE(m_sandbox->requestLog().back().status, 0);
        FaultOptions none;
        m_sandbox->setFaults(none);
        QCOMPARE(send("GET", QStringLiteral("/api/v2/campaigns")).status, 200);
    }

private:
    QUrl url(const QString &pathAndQuery) const
    {
        return QUrl(m_sandbox->baseUrl().toString() + pathAndQuery);
    }

    QNetworkReply *start(const QByteArray &method, const QString &path, const QByteArray &body,
                         const QByteArray &authorization)
    {
        QNetworkRequest request(url(path));
        if (!authorization.isEmpty())
            request.setRawHeader("Authorization", authorization);
        if (!body.isEmpty())
            request.setHeader(QNetworkRequest::ContentTypeHeader,
                              QByteArrayLiteral("application/json"));
        return m_manager.sendCustomRequest(request, method, body);
    }

    static Reply collect(QNetworkReply *reply) { return Reply::from(reply); }

    Reply send(const QByteArray &method, const QString &path, const QByteArray &body = {},
               const QByteArray &authorization = kBearer)
    {
        QNetworkReply *reply = start(method, path, body, authorization);
        if (!QTest::qWaitFor([reply] { return reply->isFinished(); }, 10'000))
            qFatal("no answer from the sandbox");
        return collect(reply);
    }

    Reply control(const QByteArray &method, const QString &path, const QByteArray &body = {},
                  const QByteArray &authorization = kBearer)
    {
        return send(method, QStringLiteral("/_sandbox/") + path, body, authorization);
    }

    QList<Reply> fire(int n, const QByteArray &method, const QString &path)
    {
        QList<QNetworkReply *> replies;
        for (int i = 0; i < n; ++i)
            replies.append(start(method, path, {}, kBearer));
        if (!QTest::qWaitFor(
                [&] {
                    return std::all_of(replies.begin(), replies.end(),
                                       [](QNetworkReply *r) { return r->isFinished(); });
                },
                10'000))
            qFatal("burst not answered");
        QList<Reply> out;
        for (QNetworkReply *r : replies)
            out.append(collect(r));
        return out;
    }

    static int countOk(const QList<Reply> &replies)
    {
        return int(std::count_if(replies.begin(), replies.end(),
                                 [](const Reply &r) { return r.status == 200; }));
    }

    ManualClock m_clock;
    QNetworkAccessManager m_manager;
    std::unique_ptr<SandboxServer> m_sandbox;
};

SLUICE_TEST_GUILESS_MAIN(TestSandboxServer)
#include "tst_sandboxserver.moc"
