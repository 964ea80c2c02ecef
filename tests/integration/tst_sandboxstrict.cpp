// The sandbox held to the vendors' documented rules (docs/sandbox-rules.md), one case per rule:
// Instantly's skip flags, duplicates, the full bulk answer, blocklist, plan cap, email
// validation, incomplete leads, campaign schedules, faults that apply a request and lose its
// answer, the documented limits preset; Close's endpoint-group limits per key and per
// organisation, the 429 body and RateLimit header, the search endpoint and its faults.
// In-process sandbox on port 0; rate limits run on a ManualClock.
#include "common/suite.h"
#include "sandbox/sandboxserver.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTcpSocket>
#include <QTest>

#include <nlohmann/json.hpp>

#include "common/httpreply.h"
#include "common/validschedule.h"

#include <memory>

using namespace sluice;
using json = nlohmann::json;
using std::chrono::milliseconds;
using Reply = sluice::test::HttpReply;

namespace {

const QByteArray kSandboxBearer = "Bearer sandbox";

QByteArray basic(const QByteArray &key)
{
    return "Basic " + QByteArray(key + ':').toBase64();
}

QByteArray dump(const json &j)
{
    return QByteArray::fromStdString(j.dump());
}

json lead(const std::string &email)
{
    return { { "email", email } };
}

/// A search body for leads by id with the documented `reference` condition.
json searchByIds(const std::vector<std::string> &ids)
{
    return { { "query",
               { { "type", "and" },
                 { "queries",
                   json::array({ { { "type", "object_type" }, { "object_type", "lead" } },
                                 { { "type", "field_condition" },
                                   { "field",
                                     { { "type", "regular_field" },
                                       { "object_type", "lead" },
                                       { "field_name", "id" } } },
                                   { "condition",
                                     { { "type", "reference" },
                                       { "reference_type", "lead" },
                                       { "object_ids", ids } } } } }) } } } };
}

std::string closeId(int i)
{
    return "lead_" + std::to_string(i);
}

json closeLead(int i)
{
    return {
        { "id", closeId(i) },
        { "display_name", "Company " + std::to_string(i) },
        { "contacts",
          json::array(
              { { { "name", "Person " + std::to_string(i) },
                  { "emails",
                    json::array(
                        { { { "email", "p" + std::to_string(i) + "@example.com" } } }) } } }) }
    };
}

/// QCOMPARE for JSON values (QTest cannot print nlohmann::json).
#define JCOMPARE(actual, expected)                                                                 \
    do {                                                                                           \
        const json actual_ = (actual);                                                             \
        const json expected_ = (expected);                                                         \
        QVERIFY2(actual_ == expected_, (actual_.dump() + " != " + expected_.dump()).c_str());      \
    } while (false)

} // namespace

class TestSandboxStrict : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        // Generous Instantly limits: these cases are about rules, not the workspace limit.
        SandboxOptions options;
        options.perSecond = 10'000;
        options.perMinute = 100'000;
        options.moreCloseApiKeys = { QStringLiteral("second-key") };
        m_sandbox = std::make_unique<SandboxServer>(options, &m_clock);
        QVERIFY(m_sandbox->start() != 0);
    }
    void cleanup() { m_sandbox.reset(); }

    // --- Instantly: skip flags -------------------------------------------------------------

    void skipIfInCampaignSkipsALeadInAnotherCampaign()
    {
        const std::string a = campaign("A"), b = campaign("B");
        JCOMPARE(bulk(a, { lead("ann@acme.io") })["leads_uploaded"], 1);
        // Instantly: "any lead that already exists in ANY campaign in your workspace".
        json skipped = bulk(b, { lead("ANN@acme.io") }, { { "skip_if_in_campaign", true } });
        JCOMPARE(skipped["skipped_count"], 1);
        JCOMPARE(skipped["leads_uploaded"], 0);
        QVERIFY(skipped["created_leads"].empty());
        QCOMPARE(m_sandbox->store().allLeads(QString::fromStdString(b)).size(), 0u);
        // Without the flag the same email goes into B as well.
        JCOMPARE(bulk(b, { lead("ann@acme.io") })["leads_uploaded"], 1);
    }

    void skipIfInListSkipsALeadInAnyList()
    {
        const std::string a = campaign("A");
        JCOMPARE(bulkToList("list-1", { lead("bo@acme.io") })["leads_uploaded"], 1);
        // In a list only: skip_if_in_campaign does not skip it, skip_if_in_list does.
        JCOMPARE(bulk(a, { lead("bo@acme.io") }, { { "skip_if_in_list", true } })["skipped_count"],
                 1);
        JCOMPARE(
            bulk(a, { lead("bo@acme.io") }, { { "skip_if_in_campaign", true } })["leads_uploaded"],
            1);
        JCOMPARE(bulkToList("list-2", { lead("bo@acme.io") },
                            { { "skip_if_in_list", true } })["skipped_count"],
                 1);
    }

    void skipIfInWorkspaceOverridesTheOtherFlags()
    {
        const std::string a = campaign("A"), b = campaign("B");
        JCOMPARE(bulkToList("list-1", { lead("cy@acme.io") })["leads_uploaded"], 1);
        JCOMPARE(bulk(a, { lead("di@acme.io") })["leads_uploaded"], 1);
        json r = bulk(b, { lead("cy@acme.io"), lead("di@acme.io"), lead("ed@acme.io") },
                      { { "skip_if_in_workspace", true },
                        { "skip_if_in_campaign", false },
                        { "skip_if_in_list", false } });
        JCOMPARE(r["skipped_count"], 2);
        JCOMPARE(r["leads_uploaded"], 1);
        JCOMPARE(r["created_leads"][0]["index"], 2);
    }

    void singleCreateHonoursTheSkipFlags()
    {
        const std::string a = campaign("A"), b = campaign("B");
        const Reply first = send("POST", QStringLiteral("/api/v2/leads"),
                                 dump({ { "email", "fay@acme.io" }, { "campaign", a } }));
        QCOMPARE(first.status, 200);
        // The campaign field of a single create is `campaign`.
        const Reply skipped = send("POST", QStringLiteral("/api/v2/leads"),
                                   dump({ { "email", "fay@acme.io" },
                                          { "campaign", b },
                                          { "skip_if_in_campaign", true } }));
        QCOMPARE(skipped.status, 200);
        QCOMPARE(skipped.text("id"), first.text("id")); // the existing lead, nothing new
        QCOMPARE(m_sandbox->store().leadCount(), 1);
        const Reply workspace = send("POST", QStringLiteral("/api/v2/leads"),
                                     dump({ { "email", "fay@acme.io" },
                                            { "list_id", "list-9" },
                                            { "skip_if_in_workspace", true } }));
        QCOMPARE(workspace.text("id"), first.text("id"));
        QCOMPARE(m_sandbox->store().leadCount(), 1);
        QCOMPARE(send("POST", QStringLiteral("/api/v2/leads"),
                      dump({ { "email", "fay@acme.io" }, { "campaign", b } }))
                     .status,
                 200);
        QCOMPARE(m_sandbox->store().leadCount(), 2);
    }

    // --- Instantly: the same email twice to one campaign ----------------------------------

    void sameCampaignDuplicatesAreCreatedByDefault()
    {
        QVERIFY(m_sandbox->store().sameCampaignDuplicates() == SameCampaignDuplicates::Create);
        const std::string a = campaign("A");
        JCOMPARE(bulk(a, { lead("gil@acme.io") })["leads_uploaded"], 1);
        json again = bulk(a, { lead("gil@acme.io") });
        JCOMPARE(again["leads_uploaded"], 1);
        JCOMPARE(again["duplicated_leads"], 0);
        QCOMPARE(m_sandbox->store().allLeads(QString::fromStdString(a)).size(), 2u);
    }

    void sameCampaignDuplicatesCanBeSkipped()
    {
        QCOMPARE(
            control("PUT", QStringLiteral("behaviour"), R"({"same_campaign_duplicates": "skip"})")
                .status,
            200);
        const std::string a = campaign("A"), b = campaign("B");
        JCOMPARE(bulk(a, { lead("hal@acme.io") })["leads_uploaded"], 1);
        json again = bulk(a, { lead("hal@acme.io"), lead("ida@acme.io") });
        QVERIFY(again["duplicated_leads"].is_number_integer());
        JCOMPARE(again["duplicated_leads"], 1);
        JCOMPARE(again["leads_uploaded"], 1);
        JCOMPARE(again["created_leads"][0]["index"], 1);
        // Another campaign is not "the same campaign".
        JCOMPARE(bulk(b, { lead("hal@acme.io") })["leads_uploaded"], 1);
        const Reply single = send("POST", QStringLiteral("/api/v2/leads"),
                                  dump({ { "email", "hal@acme.io" }, { "campaign", a } }));
        QCOMPARE(single.status, 200);
        QCOMPARE(m_sandbox->store().allLeads(QString::fromStdString(a)).size(), 2u);
    }

    // --- Instantly: the bulk answer ---------------------------------------------------------

    void bulkAnswerHasEveryDocumentedFieldAndCount()
    {
        m_sandbox->store().setBlocklist({ QStringLiteral("blocked.io") });
        const std::string a = campaign("A");
        JCOMPARE(bulk(a, { lead("old@acme.io") })["leads_uploaded"], 1);
        json r = bulk(a,
                      {
                          lead("new@acme.io"), // 0: created
                          lead("NEW@acme.io"), // 1: duplicate inside the request
                          lead("not-an-email"), // 2: invalid
                          { { "first_name", "No" } }, // 3: incomplete
                          lead("x@blocked.io"), // 4: blocklist
                          lead("old@acme.io"), // 5: skipped (in a campaign)
                          lead("last@acme.io"), // 6: created
                      },
                      { { "skip_if_in_campaign", true } });
        const qint64 plan = m_sandbox->store().remainingInPlan();
        const json expected = {
            { "status", "success" },
            { "total_sent", 7 },
            { "leads_uploaded", 2 },
            { "in_blocklist", 1 },
            { "blocklist_used", SandboxStore::kDefaultBlocklistId },
            { "duplicated_leads", 0 },
            { "skipped_count", 1 },
            { "invalid_email_count", 1 },
            { "incomplete_count", 1 },
            { "duplicate_email_count", 1 },
            { "remaining_in_plan", plan },
        };
        for (auto it = expected.begin(); it != expected.end(); ++it)
            QVERIFY2(r.contains(it.key()) && r[it.key()] == it.value(), it.key().c_str());
        QCOMPARE(r["created_leads"].size(), 2u);
        JCOMPARE(r["created_leads"][0]["index"], 0);
        JCOMPARE(r["created_leads"][0]["email"], "new@acme.io");
        QVERIFY(r["created_leads"][0]["id"].is_string());
        JCOMPARE(r["created_leads"][1]["index"], 6);
        QCOMPARE(plan, 100'000 - 3);
    }

    void blocklistBlocksEmailsAndDomains()
    {
        const Reply put = control("PUT", QStringLiteral("blocklist"),
                                  R"({"entries": ["Ann@Block.me", "blocked.io"]})");
        QCOMPARE(put.status, 200);
        const json listed = control("GET", QStringLiteral("blocklist")).parsed();
        JCOMPARE(listed["entries"], json::array({ "ann@block.me", "blocked.io" }));
        const std::string a = campaign("A");
        json r = bulk(a,
                      { lead("ann@block.me"), lead("bob@block.me"), lead("cat@BLOCKED.io"),
                        lead("dan@sub.blocked.io") });
        JCOMPARE(r["in_blocklist"], 2);
        JCOMPARE(r["leads_uploaded"], 2); // another address at the domain; a subdomain
        const Reply single = send("POST", QStringLiteral("/api/v2/leads"),
                                  dump({ { "email", "eve@blocked.io" }, { "campaign", a } }));
        QCOMPARE(single.status, 400);
        QVERIFY(single.parsed()["message"].get<std::string>().find("blocklist")
                != std::string::npos);
        QCOMPARE(control("PUT", QStringLiteral("blocklist"), R"({"entries": "x"})").status, 400);
    }

    void planCapStopsUploads()
    {
        QCOMPARE(control("PUT", QStringLiteral("plan"), R"({"remaining_in_plan": 2})").status, 200);
        const std::string a = campaign("A");
        json r = bulk(a, { lead("p1@acme.io"), lead("p2@acme.io"), lead("p3@acme.io") });
        JCOMPARE(r["leads_uploaded"], 2);
        JCOMPARE(r["remaining_in_plan"], 0);
        QCOMPARE(r["created_leads"].size(), 2u);
        // The third lead is in no counter: the client must notice it is not in created_leads.
        for (const char *key :
             { "in_blocklist", "duplicated_leads", "skipped_count", "invalid_email_count",
               "incomplete_count", "duplicate_email_count" })
            JCOMPARE(r[key], 0);
        const Reply single = send("POST", QStringLiteral("/api/v2/leads"),
                                  dump({ { "email", "p4@acme.io" }, { "campaign", a } }));
        QCOMPARE(single.status, 402);
        QCOMPARE(m_sandbox->store().leadCount(), 2);
        JCOMPARE(control("GET", QStringLiteral("plan")).parsed()["remaining_in_plan"], 0);
        QCOMPARE(control("PUT", QStringLiteral("plan"), R"({"remaining_in_plan": -1})").status,
                 400);
    }

    void invalidEmailsAreCounted_data()
    {
        QTest::addColumn<QString>("email");
        QTest::addColumn<bool>("valid");
        QTest::newRow("plain") << QStringLiteral("a.b+tag@mail.example.com") << true;
        QTest::newRow("atext specials") << QStringLiteral("o'neil_#1@ex-ample.co") << true;
        QTest::newRow("no at") << QStringLiteral("a.example.com") << false;
        QTest::newRow("two ats") << QStringLiteral("a@b@example.com") << false;
        QTest::newRow("empty local") << QStringLiteral("@example.com") << false;
        QTest::newRow("leading dot") << QStringLiteral(".a@example.com") << false;
        QTest::newRow("double dot") << QStringLiteral("a..b@example.com") << false;
        QTest::newRow("no tld") << QStringLiteral("a@localhost") << false;
        QTest::newRow("numeric tld") << QStringLiteral("a@example.123") << false;
        QTest::newRow("one-letter tld") << QStringLiteral("a@example.c") << false;
        QTest::newRow("hyphen label") << QStringLiteral("a@-example.com") << false;
        QTest::newRow("space inside") << QStringLiteral("a b@example.com") << false;
        QTest::newRow("surrounding space") << QStringLiteral(" a@example.com") << false;
        QTest::newRow("quoted local") << QStringLiteral("\"a\"@example.com") << false;
        QTest::newRow("ip literal") << QStringLiteral("a@[127.0.0.1]") << false;
        QTest::newRow("non-ascii") << QStringLiteral("j\u00f6rg@example.com") << false;
        QTest::newRow("local too long")
            << QString(QStringLiteral("a").repeated(65) + QStringLiteral("@example.com")) << false;
    }
    void invalidEmailsAreCounted()
    {
        QFETCH(QString, email);
        QFETCH(bool, valid);
        json r = bulk(campaign("A"), { lead(email.toStdString()) });
        JCOMPARE(r["invalid_email_count"], valid ? 0 : 1);
        JCOMPARE(r["leads_uploaded"], valid ? 1 : 0);
        const Reply single
            = send("POST", QStringLiteral("/api/v2/leads"), dump(lead(email.toStdString())));
        QCOMPARE(single.status, valid ? 200 : 400);
    }

    void incompleteLeadsAreCounted()
    {
        const std::string a = campaign("A");
        // For a campaign a lead must have an email.
        json toCampaign = bulk(a,
                               { { { "first_name", "A" } },
                                 { { "email", nullptr }, { "last_name", "B" } },
                                 { { "email", "   " } },
                                 lead("ok@acme.io") });
        JCOMPARE(toCampaign["incomplete_count"], 3);
        JCOMPARE(toCampaign["leads_uploaded"], 1);
        // For a list one of email, first_name or last_name is enough.
        json toList = bulkToList("list-1",
                                 { { { "company_name", "Only Co" } },
                                   { { "first_name", "Named" } },
                                   { { "last_name", "Also" }, { "email", "" } } });
        JCOMPARE(toList["incomplete_count"], 1);
        JCOMPARE(toList["leads_uploaded"], 2);
        // A wrongly typed field is a schema error for the whole request, not a count.
        const Reply typed = send(
            "POST", QStringLiteral("/api/v2/leads/add"),
            dump({ { "campaign_id", a }, { "leads", json::array({ { { "email", 42 } } }) } }));
        QCOMPARE(typed.status, 400);
    }

    // --- Instantly: campaign schedules ------------------------------------------------------

    void campaignScheduleIsValidated_data()
    {
        QTest::addColumn<QByteArray>("schedule"); // one entry of schedules[]
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("messagePart");
        const QByteArray good
            = R"({"name":"W","timing":{"from":"09:00","to":"17:30"},"days":{"1":true,"6":false},"timezone":"America/Chicago"})";
        QTest::newRow("valid") << good << 200 << QString();
        QTest::newRow("other listed zone")
            << QByteArray(good).replace("America/Chicago", "Europe/Bucharest") << 200 << QString();
        QTest::newRow("America/New_York is not in Instantly's list")
            << QByteArray(good).replace("America/Chicago", "America/New_York") << 400
            << QStringLiteral("timezone must be equal to one of the allowed values");
        QTest::newRow("Etc/UTC is not in the list")
            << QByteArray(good).replace("America/Chicago", "Etc/UTC") << 400
            << QStringLiteral("timezone");
        QTest::newRow("unpadded hour")
            << QByteArray(good).replace("09:00", "9:00") << 400 << QStringLiteral("timing/from");
        QTest::newRow("hour 24") << QByteArray(good).replace("17:30", "24:00") << 400
                                 << QStringLiteral("timing/to");
        QTest::newRow("day 7") << QByteArray(good).replace(R"("6":false)", R"("7":false)") << 400
                               << QStringLiteral("days");
        QTest::newRow("day not boolean") << QByteArray(good).replace(R"("1":true)", R"("1":"yes")")
                                         << 400 << QStringLiteral("days/1");
        QTest::newRow("no name") << QByteArray(good).replace(R"("name":"W",)", "") << 400
                                 << QStringLiteral("'name'");
        QTest::newRow("no timezone")
            << QByteArray(good).replace(R"(,"timezone":"America/Chicago")", "") << 400
            << QStringLiteral("'timezone'");
    }
    void campaignScheduleIsValidated()
    {
        QFETCH(QByteArray, schedule);
        QFETCH(int, status);
        QFETCH(QString, messagePart);
        const QByteArray body
            = R"({"name":"Scheduled","campaign_schedule":{"schedules":[)" + schedule + "]}}";
        const Reply r = send("POST", QStringLiteral("/api/v2/campaigns"), body);
        QVERIFY2(r.status == status, qPrintable(r.describe()));
        if (status != 200) {
            QVERIFY(r.parsed()["statusCode"] == status);
            QVERIFY2(r.text("message").contains(messagePart), qPrintable(r.describe()));
            QCOMPARE(m_sandbox->store().campaignCount(), 0);
        }
        QCOMPARE(send("POST", QStringLiteral("/api/v2/campaigns"),
                      R"({"name":"Empty","campaign_schedule":{"schedules":[]}})")
                     .status,
                 400);
    }

    // --- Instantly: faults that apply the request and lose the answer -----------------------

    void applyThenDropStoresTheLeadButAnswersNothing()
    {
        const std::string a = campaign("A");
        QCOMPARE(control("PUT", QStringLiteral("faults"), R"({"apply_drop_rate": 1})").status, 200);
        QCOMPARE(m_sandbox->options().faults.applyDropRate, 1.0);
        // A raw socket, so no HTTP client quietly resends the request.
        const QByteArray answer = rawPost(
            QStringLiteral("/api/v2/leads/add"),
            dump({ { "campaign_id", a }, { "leads", json::array({ lead("drop@acme.io") }) } }));
        QVERIFY2(answer.isEmpty(), answer.constData());
        QCOMPARE(m_sandbox->store().leadCount(), 1); // it took effect
        JCOMPARE(m_sandbox->store().allLeads()[0]["email"], "drop@acme.io");
        QCOMPARE(m_sandbox->requestLog().back().status, 0);
    }

    void applyThenHangStoresTheLeadAndHoldsTheAnswer()
    {
        const std::string a = campaign("A");
        FaultOptions faults;
        faults.applyHangRate = 1.0;
        faults.hangDuration = milliseconds { 300 };
        m_sandbox->setFaults(faults);
        QNetworkRequest request(url(QStringLiteral("/api/v2/leads")));
        request.setRawHeader("Authorization", kSandboxBearer);
        request.setHeader(QNetworkRequest::ContentTypeHeader,
                          QByteArrayLiteral("application/json"));
        request.setTransferTimeout(100);
        QNetworkReply *reply
            = m_manager.post(request, dump({ { "email", "hang@acme.io" }, { "campaign", a } }));
        QTRY_VERIFY(reply->isFinished());
        QVERIFY(reply->error() != QNetworkReply::NoError); // the client gave up
        reply->deleteLater();
        QCOMPARE(m_sandbox->store().leadCount(), 1); // though the lead is there
        // The held 504 goes into a closed connection: logged as unanswered.
        QTRY_VERIFY(m_sandbox->requestLog().back().latencyMs >= 300);
        QCOMPARE(m_sandbox->requestLog().back().status, 0);
        QVERIFY((FaultOptions { .applyDropRate = 0.6, .applyHangRate = 0.6 }.problem()));
    }

    // --- Instantly: limits presets; Close traffic is not Instantly's ------------------------

    void documentedPresetAllowsHundredPerSecond()
    {
        m_sandbox = std::make_unique<SandboxServer>(SandboxOptions::documentedInstantlyLimits(),
                                                    &m_clock);
        QVERIFY(m_sandbox->start() != 0);
        QCOMPARE(m_sandbox->options().perSecond, 100);
        QCOMPARE(m_sandbox->options().perMinute, 6'000);
        QCOMPARE(countStatus(fire(130, QStringLiteral("/api/v2/campaigns")), 200), 100);
        QCOMPARE(control("PUT", QStringLiteral("limits"), R"({"preset": "plan"})").status, 200);
        QCOMPARE(m_sandbox->options().perSecond, 10);
        JCOMPARE(control("PUT", QStringLiteral("limits"), R"({"preset": "documented"})")
                     .parsed()["per_minute"],
                 6'000);
    }

    void closeRequestsDoNotCountAgainstInstantly()
    {
        m_sandbox->setLimits(5, 600);
        seedClose(1);
        for (int i = 0; i < 15; ++i)
            QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        QCOMPARE(countStatus(fire(8, QStringLiteral("/api/v2/campaigns")), 200), 5);
        QCOMPARE(m_sandbox->worstWindow(milliseconds { 1000 }), 5);
    }

    // --- Close: endpoint-group limits -------------------------------------------------------

    void closeGroupLimitPerKey()
    {
        seedClose(3);
        QCOMPARE(control("PUT", QStringLiteral("close/limits"),
                         R"({"lead_get": {"per_key": 3, "per_org": 9}})")
                     .status,
                 200);
        for (int i = 0; i < 3; ++i)
            QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        const Reply limited = closeGet(QStringLiteral("/api/v1/lead/lead_0/"));
        QCOMPARE(limited.status, 429);
        JCOMPARE(limited.parsed()["error"]["rate_limit_type"], "key");
        JCOMPARE(limited.parsed()["error"]["rate_endpoint_group"], "lead_get");
        // Another group has its own budget; another key has its own key budget.
        QCOMPARE(
            closePost(QStringLiteral("/api/v1/data/search/"), searchByIds({ closeId(0) })).status,
            200);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/"), "second-key").status, 200);
        m_clock.advance(milliseconds { 1000 });
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        const json stats = control("GET", QStringLiteral("stats")).parsed();
        JCOMPARE(stats["close"]["groups"]["lead_get"]["requests"], 6);
        JCOMPARE(stats["close"]["groups"]["lead_get"]["rate_limited"], 1);
        JCOMPARE(stats["close"]["groups"]["search"]["requests"], 1);
        JCOMPARE(stats["close"]["rate_limited"], 1);
    }

    void closeGroupLimitPerOrganisationAcrossTwoKeys()
    {
        seedClose(1);
        CloseGroupLimit limit;
        limit.perKey = 3;
        limit.perOrg = 5;
        m_sandbox->setCloseLimit(QStringLiteral("lead_get"), limit);
        for (int i = 0; i < 3; ++i)
            QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/"), "second-key").status, 200);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/"), "second-key").status, 200);
        // The second key is under its own 3/s, but the organisation has had its 5.
        const Reply limited = closeGet(QStringLiteral("/api/v1/lead/lead_0/"), "second-key");
        QCOMPARE(limited.status, 429);
        JCOMPARE(limited.parsed()["error"]["rate_limit_type"], "organization");
        JCOMPARE(limited.parsed()["error"]["rate_limit"], 5);
        // Unknown keys are not of the organisation.
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/"), "stranger").status, 401);
    }

    void close429CarriesRateReset()
    {
        seedClose(1);
        m_sandbox->setCloseLimit(QStringLiteral("lead_get"), CloseGroupLimit { 2, 6 });
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        m_clock.advance(milliseconds { 250 });
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        m_clock.advance(milliseconds { 100 });
        const Reply limited = closeGet(QStringLiteral("/api/v1/lead/lead_0/"));
        QCOMPARE(limited.status, 429);
        const json error = limited.parsed()["error"];
        QVERIFY2(error.is_object(), limited.describe().toUtf8().constData());
        QVERIFY(error["message"].is_string());
        // The first request leaves the 1 s window 650 ms from now.
        QCOMPARE(error["rate_reset"].get<double>(), 0.65);
        QCOMPARE(error["rate_window"].get<double>(), 1.0);
        m_clock.advance(milliseconds { 649 });
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 429);
        m_clock.advance(milliseconds { 1 });
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
    }

    void rateLimitHeaderOn200sAnd429s()
    {
        seedClose(1);
        const Reply first = closeGet(QStringLiteral("/api/v1/lead/lead_0/"));
        QCOMPARE(first.header("RateLimit"), QByteArray("limit=20, remaining=19, reset=1"));
        m_clock.advance(milliseconds { 400 });
        const Reply second
            = closePost(QStringLiteral("/api/v1/data/search/"), searchByIds({ closeId(0) }));
        QCOMPARE(second.header("RateLimit"), QByteArray("limit=20, remaining=19, reset=1"));
        const Reply third = closeGet(QStringLiteral("/api/v1/lead/lead_0/"));
        QCOMPARE(third.header("RateLimit"), QByteArray("limit=20, remaining=18, reset=0.6"));
        // Org closer than key: three keys' worth of the org limit used up by one more key.
        m_sandbox->setCloseLimit(QStringLiteral("lead_get"), CloseGroupLimit { 20, 3 });
        const Reply orgSide = closeGet(QStringLiteral("/api/v1/lead/lead_0/"), "second-key");
        QCOMPARE(orgSide.header("RateLimit"), QByteArray("limit=3, remaining=0, reset=0.6"));
        const Reply limited = closeGet(QStringLiteral("/api/v1/lead/lead_0/"));
        QCOMPARE(limited.status, 429);
        QCOMPARE(limited.header("RateLimit"), QByteArray("limit=3, remaining=0, reset=0.6"));
        QCOMPARE(limited.parsed()["error"]["rate_reset"].get<double>(), 0.6);
    }

    // --- Close: the search endpoint ---------------------------------------------------------

    void searchFindsLeadsByIdPagesWithCursorAndFields()
    {
        seedClose(250);
        const std::vector<std::string> ids
            = { closeId(7), "lead_missing", closeId(3), closeId(200), closeId(3), closeId(42) };
        json body = searchByIds(ids);
        body["_limit"] = 2;
        body["_fields"] = { { "lead", { "id", "display_name" } } };
        std::vector<std::string> seen;
        int pages = 0;
        for (;;) {
            const Reply r = closePost(QStringLiteral("/api/v1/data/search/"), body);
            QVERIFY2(r.status == 200, qPrintable(r.describe()));
            const json page = r.parsed();
            QVERIFY(page.contains("data") && page.contains("cursor"));
            for (const json &item : page["data"]) {
                JCOMPARE(item["__object_type"], "lead");
                QVERIFY(item["display_name"].is_string());
                QVERIFY(!item.contains("contacts")); // not asked for
                seen.push_back(item["id"]);
            }
            ++pages;
            if (page["cursor"].is_null())
                break;
            body["cursor"] = page["cursor"];
        }
        // Seed order; the unknown id is simply absent; a repeated id appears once.
        QCOMPARE(seen,
                 (std::vector<std::string> { closeId(3), closeId(7), closeId(42), closeId(200) }));
        QCOMPARE(pages, 2);
        // Without _fields each result is only its type and id, as in Close's example.
        const json plain
            = closePost(QStringLiteral("/api/v1/data/search/"), searchByIds({ closeId(1) }))
                  .parsed();
        JCOMPARE(plain["data"],
                 json::array({ { { "__object_type", "lead" }, { "id", closeId(1) } } }));
        QVERIFY(plain["cursor"].is_null());
        // A cursor of another query is refused.
        json other = searchByIds({ closeId(9) });
        other["cursor"] = body["cursor"];
        QCOMPARE(closePost(QStringLiteral("/api/v1/data/search/"), other).status, 400);
    }

    void searchAcceptsTheTermConditionToo()
    {
        seedClose(5);
        json body = searchByIds({});
        body["query"]["queries"][1]["condition"]
            = { { "type", "term" }, { "values", { closeId(4), closeId(2) } } };
        std::swap(body["query"]["queries"][0], body["query"]["queries"][1]); // any order
        const Reply r = closePost(QStringLiteral("/api/v1/data/search/"), body);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QCOMPARE(r.parsed()["data"].size(), 2u);
    }

    void searchLimitOverTheMaximumIsRefused()
    {
        seedClose(1);
        for (int limit : { 201, 0 }) {
            json body = searchByIds({ closeId(0) });
            body["_limit"] = limit;
            const Reply r = closePost(QStringLiteral("/api/v1/data/search/"), body);
            QCOMPARE(r.status, 400);
            const json error = r.parsed();
            QVERIFY(error["error"].is_string());
            QVERIFY(error["field-errors"].contains("_limit"));
        }
        json max = searchByIds({ closeId(0) });
        max["_limit"] = CloseStore::kMaxSearchLimit;
        QCOMPARE(closePost(QStringLiteral("/api/v1/data/search/"), max).status, 200);
    }

    void searchRejectsUnsupportedQueries_data()
    {
        QTest::addColumn<QByteArray>("body");
        json base = searchByIds({ closeId(0) });
        auto row = [](const char *name, const json &body) { QTest::newRow(name) << dump(body); };
        row("no query", json::object());
        row("not an and", base["query"]["queries"][1]);
        json contact = base;
        contact["query"]["queries"][0]["object_type"] = "contact";
        row("contacts", contact);
        json text = base;
        text["query"]["queries"][1]["condition"]
            = { { "type", "text" }, { "mode", "full_words" }, { "value", "x" } };
        row("text condition on id", text);
        json otherField = base;
        otherField["query"]["queries"][1]["field"]["field_name"] = "display_name";
        row("other field", otherField);
        json wrongReference = base;
        wrongReference["query"]["queries"][1]["condition"]["reference_type"] = "user";
        row("reference to users", wrongReference);
        json extra = base;
        extra["query"]["queries"].push_back(
            { { "type", "object_type" }, { "object_type", "lead" } });
        row("three queries", extra);
        json negated = base;
        negated["query"]["queries"][1]["negate"] = true;
        row("negate", negated);
        json sort = base;
        sort["sort"] = json::array();
        row("unsupported key", sort);
        json fields = base;
        fields["_fields"] = json::array({ "id" });
        row("_fields as a list", fields);
        json cursor = base;
        cursor["cursor"] = "not-a-cursor";
        row("foreign cursor", cursor);
    }
    void searchRejectsUnsupportedQueries()
    {
        QFETCH(QByteArray, body);
        seedClose(1);
        const Reply r = closeSend("POST", QStringLiteral("/api/v1/data/search/"), body);
        QVERIFY2(r.status == 400, qPrintable(r.describe()));
        const json error = r.parsed();
        QVERIFY(error["error"].is_string());
        QVERIFY(error["errors"].is_array());
        QVERIFY(error["field-errors"].is_object());
    }

    void searchCanBeRefused_data()
    {
        QTest::addColumn<int>("status");
        QTest::newRow("400") << 400;
        QTest::newRow("403") << 403;
        QTest::newRow("404") << 404;
    }
    void searchCanBeRefused()
    {
        QFETCH(int, status);
        seedClose(1);
        QCOMPARE(control("PUT", QStringLiteral("close/faults"),
                         dump({ { "search_refused_status", status } }))
                     .status,
                 200);
        QCOMPARE(m_sandbox->closeFaults().searchRefusedStatus, status);
        const Reply refused
            = closePost(QStringLiteral("/api/v1/data/search/"), searchByIds({ closeId(0) }));
        QCOMPARE(refused.status, status);
        QVERIFY(refused.parsed()["error"].is_string());
        QVERIFY(!refused.header("RateLimit").isEmpty());
        // The fallback still works.
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 200);
        QCOMPARE(control("PUT", QStringLiteral("close/faults"), R"({"search_refused_status": 500})")
                     .status,
                 400);
        QCOMPARE(control("PUT", QStringLiteral("close/faults"), R"({"search_refused_status": 0})")
                     .status,
                 200);
        QCOMPARE(
            closePost(QStringLiteral("/api/v1/data/search/"), searchByIds({ closeId(0) })).status,
            200);
    }

    void getLeadAnswers404AndHonoursFields()
    {
        seedClose(1);
        const Reply missing = closeGet(QStringLiteral("/api/v1/lead/lead_nope/"));
        QCOMPARE(missing.status, 404);
        QVERIFY(missing.parsed()["error"].is_string());
        QVERIFY(!missing.header("RateLimit").isEmpty());
        const Reply some = closeGet(QStringLiteral("/api/v1/lead/lead_0/?_fields=id,contacts"));
        QCOMPARE(some.status, 200);
        JCOMPARE(some.parsed(),
                 (json { { "id", closeId(0) }, { "contacts", closeLead(0)["contacts"] } }));
        JCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).parsed(), closeLead(0));
    }

    void closeLeadsAreSeededInBulkAndCleared()
    {
        json leads = json::array();
        for (int i = 0; i < 2000; ++i)
            leads.push_back(closeLead(i));
        const Reply seeded = control("POST", QStringLiteral("close/leads"), dump(leads));
        QCOMPARE(seeded.status, 200);
        JCOMPARE(seeded.parsed()["stored"], 2000);
        QCOMPARE(m_sandbox->store().close().leadCount(), 2000);
        // All or nothing: one bad lead stores none.
        QCOMPARE(control("POST", QStringLiteral("close/leads"),
                         R"([{"id": "lead_x"}, {"name": "no id"}])")
                     .status,
                 400);
        QCOMPARE(m_sandbox->store().close().leadCount(), 2000);
        const Reply cleared = control("DELETE", QStringLiteral("close/leads"));
        QCOMPARE(cleared.status, 200);
        JCOMPARE(cleared.parsed()["deleted"], 2000);
        QCOMPARE(m_sandbox->store().close().leadCount(), 0);
        QCOMPARE(closeGet(QStringLiteral("/api/v1/lead/lead_0/")).status, 404);
    }

    // --- Control API ------------------------------------------------------------------------

    void controlApiSetsAndResetsTheRules()
    {
        const json limits = control("GET", QStringLiteral("close/limits")).parsed();
        JCOMPARE(limits["lead_get"], (json { { "per_key", 20 }, { "per_org", 60 } }));
        JCOMPARE(limits["search"], (json { { "per_key", 20 }, { "per_org", 60 } }));
        QCOMPARE(
            control("PUT", QStringLiteral("close/limits"), R"({"tasks": {"per_key": 1}})").status,
            400);
        QCOMPARE(
            control("PUT", QStringLiteral("close/limits"), R"({"search": {"per_key": 0}})").status,
            400);
        JCOMPARE(control("PUT", QStringLiteral("close/limits"), R"({"search": {"per_org": 7}})")
                     .parsed()["search"],
                 (json { { "per_key", 20 }, { "per_org", 7 } }));
        QCOMPARE(
            control("PUT", QStringLiteral("behaviour"), R"({"same_campaign_duplicates": "maybe"})")
                .status,
            400);
        QCOMPARE(
            control("PUT", QStringLiteral("behaviour"), R"({"same_campaign_duplicates": "skip"})")
                .status,
            200);
        QCOMPARE(control("PUT", QStringLiteral("close/faults"), R"({"latency_ms": 5})").status,
                 200);
        QCOMPARE(m_sandbox->closeFaults().latency, milliseconds { 5 });
        m_sandbox->store().setBlocklist({ QStringLiteral("x.io") });
        m_sandbox->store().setRemainingInPlan(3);
        const json faults
            = control("PUT", QStringLiteral("faults"), R"({"apply_hang_rate": 0.5})").parsed();
        JCOMPARE(faults["apply_hang_rate"], 0.5);
        JCOMPARE(faults["apply_drop_rate"], 0.0);

        QCOMPARE(control("POST", QStringLiteral("reset")).status, 200);
        QVERIFY(m_sandbox->store().sameCampaignDuplicates() == SameCampaignDuplicates::Create);
        QVERIFY(m_sandbox->store().blocklist().isEmpty());
        QCOMPARE(m_sandbox->store().remainingInPlan(), 100'000);
        QCOMPARE(m_sandbox->closeLimit(QStringLiteral("search")).perOrg, 60);
        QCOMPARE(m_sandbox->closeFaults().latency, milliseconds { 0 });
        const json stats = control("GET", QStringLiteral("stats")).parsed();
        JCOMPARE(stats["close"]["requests"], 0);
        QVERIFY(stats["close"]["groups"].contains("lead_get"));
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

    Reply send(const QByteArray &method, const QString &path, const QByteArray &body = {},
               const QByteArray &authorization = kSandboxBearer)
    {
        QNetworkReply *reply = start(method, path, body, authorization);
        if (!QTest::qWaitFor([reply] { return reply->isFinished(); }, 10'000))
            qFatal("no answer from the sandbox");
        return Reply::from(reply);
    }

    Reply control(const QByteArray &method, const QString &path, const QByteArray &body = {})
    {
        return send(method, QStringLiteral("/_sandbox/") + path, body);
    }

    Reply closeSend(const QByteArray &method, const QString &path, const QByteArray &body,
                    const QByteArray &key = "sandbox")
    {
        return send(method, path, body, basic(key));
    }
    Reply closeGet(const QString &path, const QByteArray &key = "sandbox")
    {
        return closeSend("GET", path, {}, key);
    }
    Reply closePost(const QString &path, const json &body, const QByteArray &key = "sandbox")
    {
        return closeSend("POST", path, dump(body), key);
    }

    void seedClose(int n)
    {
        json leads = json::array();
        for (int i = 0; i < n; ++i)
            leads.push_back(closeLead(i));
        QVERIFY(m_sandbox->store().close().putLeads(leads).status == 200);
    }

    /// Creates a campaign with a valid schedule; its id.
    std::string campaign(const std::string &name)
    {
        const Reply r = send(
            "POST", QStringLiteral("/api/v2/campaigns"),
            dump({ { "name", name }, { "campaign_schedule", test::validCampaignSchedule() } }));
        if (r.status != 200)
            qFatal("campaign not created: %s", qPrintable(r.describe()));
        return r.parsed()["id"];
    }

    json bulkTo(json body, const std::vector<json> &leads, const json &flags)
    {
        body["leads"] = leads; // an array, also of one lead
        for (auto it = flags.begin(); it != flags.end(); ++it)
            body[it.key()] = it.value();
        const Reply r = send("POST", QStringLiteral("/api/v2/leads/add"), dump(body));
        if (r.status != 200)
            qWarning("bulk add: %s", qPrintable(r.describe()));
        return r.parsed();
    }
    json bulk(const std::string &campaignId, const std::vector<json> &leads,
              const json &flags = json::object())
    {
        return bulkTo({ { "campaign_id", campaignId } }, leads, flags);
    }
    json bulkToList(const std::string &listId, const std::vector<json> &leads,
                    const json &flags = json::object())
    {
        return bulkTo({ { "list_id", listId } }, leads, flags);
    }

    QList<Reply> fire(int n, const QString &path)
    {
        QList<QNetworkReply *> replies;
        for (int i = 0; i < n; ++i)
            replies.append(start("GET", path, {}, kSandboxBearer));
        if (!QTest::qWaitFor(
                [&] {
                    return std::all_of(replies.begin(), replies.end(),
                                       [](QNetworkReply *r) { return r->isFinished(); });
                },
                10'000))
            qFatal("burst not answered");
        QList<Reply> out;
        for (QNetworkReply *r : replies)
            out.append(Reply::from(r));
        return out;
    }

    static int countStatus(const QList<Reply> &replies, int status)
    {
        return int(std::count_if(replies.begin(), replies.end(),
                                 [status](const Reply &r) { return r.status == status; }));
    }

    /// One POST over a plain socket; whatever came back before the server closed it.
    QByteArray rawPost(const QString &path, const QByteArray &body)
    {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, quint16(m_sandbox->baseUrl().port()));
        if (!socket.waitForConnected(5000))
            qFatal("cannot connect to the sandbox");
        socket.write("POST " + path.toUtf8() + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: "
                     + kSandboxBearer + "\r\nContent-Type: application/json\r\nContent-Length: "
                     + QByteArray::number(body.size()) + "\r\n\r\n" + body);
        QByteArray received;
        if (!QTest::qWaitFor(
                [&] {
                    received += socket.readAll();
                    return socket.state() == QAbstractSocket::UnconnectedState;
                },
                10'000))
            qFatal("the sandbox kept the connection open");
        return received + socket.readAll();
    }

    ManualClock m_clock;
    QNetworkAccessManager m_manager;
    std::unique_ptr<SandboxServer> m_sandbox;
};

SLUICE_TEST_GUILESS_MAIN(TestSandboxStrict)
#include "tst_sandboxstrict.moc"
