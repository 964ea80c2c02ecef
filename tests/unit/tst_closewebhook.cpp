#include "close/closewebhook.h"
#include "common/suite.h"

#include <QTest>

#include <nlohmann/json.hpp>

#include <functional>

using namespace sluice;
using json = nlohmann::json;

namespace {

QByteArray bytes(const json &j)
{
    return QByteArray::fromStdString(j.dump());
}

/// A Close webhook as Close sends it for a new task "text" on lead_abc.
json closeWebhook(const std::string &text = "Instantly: Q3 Outreach")
{
    return json {
        { "subscription_id", "whsub_1" },
        { "event",
          {
              { "id", "ev_1" },
              { "date_created", "2024-05-01T10:00:00.000000" },
              { "date_updated", "2024-05-01T10:00:00.000000" },
              { "organization_id", "orga_1" },
              { "user_id", "user_1" },
              { "request_id", "req_1" },
              { "object_type", "task.lead" },
              { "object_id", "task_1" },
              { "lead_id", "lead_abc" },
              { "action", "created" },
              { "changed_fields", json::array() },
              { "meta", { { "request_path", "/api/v1/task/" }, { "request_method", "POST" } } },
              { "data",
                { { "id", "task_1" },
                  { "_type", "lead" },
                  { "lead_id", "lead_abc" },
                  { "text", text },
                  { "is_complete", false },
                  { "date", "2024-05-02" } } },
              { "previous_data", json::object() },
          } },
    };
}

json closeLead(const std::string &id = "lead_abc")
{
    return json {
        { "id", id },
        { "display_name", "Acme Inc." },
        { "name", "Acme" },
        { "contacts",
          json::array({
              { { "id", "cont_1" },
                { "name", "Ann Lee" },
                { "emails",
                  json::array({ { { "type", "office" }, { "email", "ann@acme.io" } } }) } },
              { { "id", "cont_2" },
                { "name", "Bo" },
                { "emails",
                  json::array({ { { "email", "bo@acme.io" }, { "is_unsubscribed", true } },
                                { { "email", "bo.second@acme.io" } } }) } },
          }) },
    };
}

json withLead(json webhook, const json &lead)
{
    webhook["lead"] = lead;
    return webhook;
}

json directBatch(int count = 2)
{
    json leads = json::array();
    for (int i = 0; i < count; ++i)
        leads.push_back({ { "email", "lead" + std::to_string(i) + "@example.com" },
                          { "first_name", "First" + std::to_string(i) } });
    return json { { "campaign", "Q3 Outreach" }, { "leads", leads } };
}

json mutated(json j, const std::function<void(json &)> &change)
{
    change(j);
    return j;
}

/// One line per lead, so a failing comparison shows exactly what differs.
QStringList describe(const std::vector<Lead> &leads)
{
    QStringList out;
    for (const Lead &l : leads) {
        QStringList vars;
        for (auto it = l.customVariables.cbegin(); it != l.customVariables.cend(); ++it)
            vars << it.key() + QLatin1Char('=')
                    + (it.value().typeId() == QMetaType::Nullptr ? QStringLiteral("null")
                                                                 : it.value().toString());
        out << QStringList { l.email, l.firstName, l.lastName, l.companyName, vars.join(u',') }
                   .join(u'|');
    }
    return out;
}

QByteArray nested(int depth)
{
    return QByteArray(depth, '[') + QByteArray(depth, ']');
}

} // namespace

class TestCloseWebhook : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void accepted_data();
    void accepted();
    void ignored_data();
    void ignored();
    void rejected_data();
    void rejected();
    void customLimits_data();
    void customLimits();
    void depthScan_data();
    void depthScan();
    void errorMessage();
    void taskTextAsTheBackfillReadsIt_data();
    void taskTextAsTheBackfillReadsIt();
    void closeTaskIdOfTheEvent();
};

void TestCloseWebhook::accepted_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("fromClose");
    QTest::addColumn<QString>("campaign");
    QTest::addColumn<QString>("eventId");
    QTest::addColumn<QString>("closeLeadId");
    QTest::addColumn<bool>("needsLookup");
    QTest::addColumn<QStringList>("leads");
    QTest::addColumn<QStringList>("skipped");

    const QString q3 = QStringLiteral("Q3 Outreach");
    const QString ev = QStringLiteral("ev_1");
    const QString abc = QStringLiteral("lead_abc");

    QTest::newRow("close, inline lead")
        << bytes(withLead(closeWebhook(), closeLead())) << true << q3 << ev << abc << false
        << QStringList { QStringLiteral("ann@acme.io|Ann|Lee|Acme Inc.|close_lead_id=lead_abc"),
                         QStringLiteral("bo.second@acme.io|Bo||Acme Inc.|close_lead_id=lead_abc") }
        << QStringList { QStringLiteral("contact 'Bo': bo@acme.io is unsubscribed") };
    QTest::newRow("close, inline lead without id takes the event's")
        << bytes(withLead(closeWebhook(), mutated(closeLead(), [](json &l) { l.erase("id"); })))
        << true << q3 << ev << abc << false
        << QStringList { QStringLiteral("ann@acme.io|Ann|Lee|Acme Inc.|close_lead_id=lead_abc"),
                         QStringLiteral("bo.second@acme.io|Bo||Acme Inc.|close_lead_id=lead_abc") }
        << QStringList { QStringLiteral("contact 'Bo': bo@acme.io is unsubscribed") };
    QTest::newRow("close, inline lead with no usable contact")
        << bytes(withLead(closeWebhook(),
                          json { { "id", "lead_abc" },
                                 { "name", "Empty" },
                                 { "contacts",
                                   json::array({ { { "name", "Ann Lee" },
                                                   { "emails", json::array() } } }) } }))
        << true << q3 << ev << abc << false << QStringList()
        << QStringList { QStringLiteral("contact 'Ann Lee': no email address") };
    QTest::newRow("close, no lead: lookup needed") << bytes(closeWebhook()) << true << q3 << ev
                                                   << abc << true << QStringList() << QStringList();
    QTest::newRow("close, lead null: lookup needed")
        << bytes(withLead(closeWebhook(), nullptr)) << true << q3 << ev << abc << true
        << QStringList() << QStringList();
    QTest::newRow("close, lead id only at event.lead_id")
        << bytes(mutated(closeWebhook(), [](json &j) { j["event"]["data"].erase("lead_id"); }))
        << true << q3 << ev << abc << true << QStringList() << QStringList();
    QTest::newRow("close, data.lead_id null falls back to event.lead_id")
        << bytes(mutated(closeWebhook(), [](json &j) { j["event"]["data"]["lead_id"] = nullptr; }))
        << true << q3 << ev << abc << true << QStringList() << QStringList();
    QTest::newRow("close, data.lead_id wins over event.lead_id")
        << bytes(mutated(closeWebhook(),
                         [](json &j) { j["event"]["data"]["lead_id"] = "lead_fromData"; }))
        << true << q3 << ev << QStringLiteral("lead_fromData") << true << QStringList()
        << QStringList();
    QTest::newRow("close, no subscription_id")
        << bytes(mutated(closeWebhook(), [](json &j) { j.erase("subscription_id"); })) << true << q3
        << ev << abc << true << QStringList() << QStringList();
    QTest::newRow("close, unicode names inline")
            << bytes(withLead(
                       closeWebhook(),
                       json{ { "id", "lead_abc" },
                             { "display_name", "Ærø Fjord Ølbryggeri" },
                             { "contacts",
                               json::array({
                                       { { "name", "Zoë Ångström" },
                                         { "emails", json::array({ { { "email", "zoe@aero.dk" } } }) } },
                                       { { "name", "王 小明" },
                                         { "emails", json::array({ { { "email", "wang@aero.dk" } } }) } },
                                       { { "name", "🚀 Rocket 🌕" },
                                         { "emails", json::array({ { { "email", "rocket@aero.dk" } } }) } },
                               }) } }))
            << true << q3 << ev << abc << false
            << QStringList{
                   QStringLiteral("zoe@aero.dk|Zoë|Ångström|Ærø Fjord Ølbryggeri|close_lead_id=lead_abc"),
                   QStringLiteral("wang@aero.dk|王|小明|Ærø Fjord Ølbryggeri|close_lead_id=lead_abc"),
                   QStringLiteral(
                           "rocket@aero.dk|🚀|Rocket 🌕|Ærø Fjord Ølbryggeri|close_lead_id=lead_abc"),
               }
            << QStringList();
    QTest::newRow("task text with extra whitespace")
        << bytes(closeWebhook("  \t Instantly:    Q3 Outreach   \n")) << true << q3 << ev << abc
        << true << QStringList() << QStringList();
    QTest::newRow("Instantly:Campaign without space")
        << bytes(closeWebhook("Instantly:Campaign")) << true << QStringLiteral("Campaign") << ev
        << abc << true << QStringList() << QStringList();
    QTest::newRow("prefix in lower case")
        << bytes(closeWebhook("instantly: Q3 Outreach")) << true << q3 << ev << abc << true
        << QStringList() << QStringList();
    QTest::newRow("prefix in upper case")
        << bytes(closeWebhook("INSTANTLY: Q3 Outreach")) << true << q3 << ev << abc << true
        << QStringList() << QStringList();
    QTest::newRow("campaign keeps inner spacing and case")
        << bytes(closeWebhook("Instantly: Q3  BIG outreach")) << true
        << QStringLiteral("Q3  BIG outreach") << ev << abc << true << QStringList()
        << QStringList();
    QTest::newRow("campaign with a colon and unicode")
        << bytes(closeWebhook("Instantly: Été: 東京 🚀")) << true << QStringLiteral("Été: 東京 🚀")
        << ev << abc << true << QStringList() << QStringList();
    QTest::newRow("close payload with deep but allowed nesting elsewhere") << bytes(
        mutated(closeWebhook(), [](json &j) {
            json deep = json::object();
            for (int i = 0; i < 25; ++i)
                deep = json { { "x", deep } };
            j["event"]["previous_data"] = deep;
        })) << true << q3 << ev << abc << true << QStringList() << QStringList();

    QTest::newRow("direct, two leads")
        << bytes(directBatch(2)) << false << q3 << QString() << QString() << false
        << QStringList { QStringLiteral("lead0@example.com|First0|||"),
                         QStringLiteral("lead1@example.com|First1|||") }
        << QStringList();
    QTest::newRow("direct, every field")
        << bytes(json { { "campaign", "  Q3 Outreach " },
                        { "leads",
                          json::array({ { { "email", " Ann@Acme.io " },
                                          { "first_name", "Ann" },
                                          { "last_name", "Lee" },
                                          { "company_name", "Acme" },
                                          { "website", "acme.io" },
                                          { "custom_variables",
                                            { { "n", 42 },
                                              { "big", 18446744073709551615ULL },
                                              { "neg", -7 },
                                              { "pi", 2.5 },
                                              { "ok", true },
                                              { "none", nullptr },
                                              { "s", "x" } } } } }) } })
        << false << q3 << QString() << QString() << false
        << QStringList { QStringLiteral("Ann@Acme.io|Ann|Lee|Acme|big=18446744073709552000,"
                                        "n=42,neg=-7,none=null,ok=true,pi=2.5,s=x") }
        << QStringList();
    QTest::newRow("direct, nulls for optional fields")
        << bytes(json { { "campaign", "Q3 Outreach" },
                        { "leads",
                          json::array({ { { "email", "ann@acme.io" },
                                          { "first_name", nullptr },
                                          { "custom_variables", nullptr } } }) } })
        << false << q3 << QString() << QString() << false
        << QStringList { QStringLiteral("ann@acme.io||||") } << QStringList();
    QTest::newRow("direct, unicode names")
        << bytes(json { { "campaign", "Été" },
                        { "leads",
                          json::array({ { { "email", "zoe@example.se" },
                                          { "first_name", "Zoë" },
                                          { "last_name", "Ångström" },
                                          { "company_name", "株式会社テスト" },
                                          { "custom_variables", { { "mood", "😀" } } } } }) } })
        << false << QStringLiteral("Été") << QString() << QString() << false
        << QStringList { QStringLiteral("zoe@example.se|Zoë|Ångström|株式会社テスト|mood=😀") }
        << QStringList();
    QTest::newRow("direct, exactly 1000 leads")
        << bytes(directBatch(1000)) << false << q3 << QString() << QString() << false
        << QStringList() /* only the count is checked */ << QStringList();
    QTest::newRow("direct, UTF-8 BOM and whitespace around the body")
        << ("\xef\xbb\xbf \n" + bytes(directBatch(1)) + "\n") << false << q3 << QString()
        << QString() << false << QStringList { QStringLiteral("lead0@example.com|First0|||") }
        << QStringList();
}

void TestCloseWebhook::accepted()
{
    QFETCH(QByteArray, body);
    QFETCH(bool, fromClose);
    QFETCH(QString, campaign);
    QFETCH(QString, eventId);
    QFETCH(QString, closeLeadId);
    QFETCH(bool, needsLookup);
    QFETCH(QStringList, leads);
    QFETCH(QStringList, skipped);

    const auto result = parseIntakeBody(body);
    QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().message()));
    const IntakeRequest &r = result.value();
    QVERIFY2(!r.ignored(), qPrintable(r.ignoredReason));
    QCOMPARE(r.source == IntakeSource::CloseWebhook, fromClose);
    QCOMPARE(r.campaignName, campaign);
    QCOMPARE(r.eventId, eventId);
    QCOMPARE(r.closeLeadId, closeLeadId);
    QCOMPARE(r.subscriptionId.isEmpty(), !fromClose || !body.contains("whsub_1"));
    QCOMPARE(r.needsLeadLookup, needsLookup);
    if (QByteArray(QTest::currentDataTag()) == "direct, exactly 1000 leads")
        QCOMPARE(r.leads.size(), size_t(1000));
    else
        QCOMPARE(describe(r.leads), leads);
    QCOMPARE(r.skipped, skipped);
}

void TestCloseWebhook::ignored_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("reasonMentions");
    QTest::addColumn<QString>("closeLeadId");

    const QString abc = QStringLiteral("lead_abc");
    QTest::newRow("other object_type") << bytes(
        mutated(closeWebhook(),
                [](json &j) {
                    j["event"]["object_type"] = "lead";
                    j["event"]["data"] = { { "id", "lead_abc" }, { "display_name", "Acme" } };
                })) << QStringLiteral("\"lead\"/\"created\"")
                                       << abc; // from event.lead_id
    QTest::newRow("other action") << bytes(
        mutated(closeWebhook(), [](json &j) { j["event"]["action"] = "updated"; }))
                                  << QStringLiteral("\"task.lead\"/\"updated\"") << abc;
    QTest::newRow("deleted task") << bytes(
        mutated(closeWebhook(), [](json &j) { j["event"]["action"] = "deleted"; }))
                                  << QStringLiteral("task.lead/created") << abc;
    QTest::newRow("other event without data")
        << bytes(json { { "subscription_id", "whsub_1" },
                        { "event",
                          { { "id", "ev_9" },
                            { "object_type", "unsubscribed_email" },
                            { "action", "created" } } } })
        << QStringLiteral("unsubscribed_email") << QString();
    QTest::newRow("non-Instantly task text") << bytes(closeWebhook("Call back on Tuesday"))
                                             << QStringLiteral("Call back on Tuesday") << abc;
    QTest::newRow("Instantly without colon")
        << bytes(closeWebhook("Instantly Q3 Outreach")) << QStringLiteral("Instantly:") << abc;
    QTest::newRow("prefix not at start")
        << bytes(closeWebhook("Add to Instantly: Q3")) << QStringLiteral("does not start") << abc;
    QTest::newRow("empty task text")
        << bytes(closeWebhook("")) << QStringLiteral("does not start") << abc;
    QTest::newRow("long task text is quoted short")
        << bytes(closeWebhook(std::string(300, 'x'))) << QStringLiteral("…") << abc;
}

void TestCloseWebhook::ignored()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, reasonMentions);
    QFETCH(QString, closeLeadId);

    auto result = parseIntakeBody(body);
    QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().message()));
    const IntakeRequest &r = result.value();
    QVERIFY(r.ignored());
    QVERIFY2(r.ignoredReason.contains(reasonMentions), qPrintable(r.ignoredReason));
    QVERIFY2(r.ignoredReason.size() < 200, qPrintable(r.ignoredReason));
    QVERIFY(r.leads.empty());
    QVERIFY(!r.needsLeadLookup);
    QVERIFY(r.source == IntakeSource::CloseWebhook);
    QVERIFY(!r.eventId.isEmpty());
    QCOMPARE(r.closeLeadId, closeLeadId);
}

void TestCloseWebhook::rejected_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("reasonMentions");

    const QString whole; // the body as a whole
    const QByteArray webhook = bytes(closeWebhook());
    auto close = [](const std::function<void(json &)> &change) {
        return bytes(mutated(closeWebhook(), change));
    };
    auto inlineLead = [](const std::function<void(json &)> &change) {
        return bytes(withLead(closeWebhook(), mutated(closeLead(), change)));
    };
    auto direct = [](const std::function<void(json &)> &change) {
        return bytes(mutated(directBatch(3), change));
    };
    auto firstLead = [&direct](const std::function<void(json &)> &change) {
        return direct([&change](json &j) { change(j["leads"][0]); });
    };

    // The body as a whole.
    QTest::newRow("malformed JSON")
        << QByteArray(R"({"event": })") << whole << QStringLiteral("line 1, column 11");
    QTest::newRow("empty body") << QByteArray() << whole << QStringLiteral("empty");
    QTest::newRow("whitespace body") << QByteArray(" \r\n\t ") << whole << QStringLiteral("empty");
    QTest::newRow("truncated JSON")
        << webhook.left(webhook.size() / 2) << whole << QStringLiteral("not valid JSON");
    QTest::newRow("truncated inside a huge string")
        << ("{\"campaign\":\"" + QByteArray(100000, 'x')) << whole
        << QStringLiteral("line 1, column 100014");
    QTest::newRow("trailing garbage") << (webhook + " x") << whole << QStringLiteral("column");
    QTest::newRow("two documents") << (webhook + webhook) << whole << QStringLiteral("column");
    QTest::newRow("single quotes")
        << QByteArray("{'event': {}}") << whole << QStringLiteral("not valid JSON");
    QTest::newRow("array top-level")
        << QByteArray(R"([{"event":{}}])") << whole << QStringLiteral("not an array");
    QTest::newRow("string top-level")
        << QByteArray(R"("Instantly: Q3")") << whole << QStringLiteral("not a string");
    QTest::newRow("null top-level") << QByteArray("null") << whole << QStringLiteral("not null");
    QTest::newRow("number top-level")
        << QByteArray("42") << whole << QStringLiteral("not a number");
    QTest::newRow("neither form") << QByteArray(R"({"lead":{"id":"lead_abc"}})") << whole
                                  << QStringLiteral("neither");
    QTest::newRow("lone surrogate escape") << QByteArray(R"({"campaign":"\ud800","leads":[]})")
                                           << whole << QStringLiteral("surrogate");
    QTest::newRow("deeply nested arrays")
        << nested(100000) << whole << QStringLiteral("more than 32 levels");
    QTest::newRow("deep arrays inside an object")
        << (QByteArray("{\"campaign\":\"x\",\"leads\":") + QByteArray(100000, '[')) << whole
        << QStringLiteral("offset 55");
    QTest::newRow("deeply nested objects")
        << QByteArray("{\"a\":").repeated(100000) << whole << QStringLiteral("offset 160");
    QTest::newRow("invalid UTF-8 byte") << QByteArray("{\"campaign\":\"Q3 \xff\",\"leads\":[]}")
                                        << whole << QStringLiteral("byte 0xff at offset 16");
    QTest::newRow("overlong UTF-8") << QByteArray("{\"campaign\":\"\xc0\xaf\",\"leads\":[]}")
                                    << whole << QStringLiteral("UTF-8");
    QTest::newRow("UTF-8 surrogate") << QByteArray("{\"campaign\":\"\xed\xa0\x80\",\"leads\":[]}")
                                     << whole << QStringLiteral("offset 13");
    QTest::newRow("truncated UTF-8 sequence")
        << QByteArray("{\"campaign\":\"\xe6\x9d") << whole << QStringLiteral("truncated");
    QTest::newRow("Latin-1 body") << QByteArray("{\"campaign\":\"Zo\xeb\",\"leads\":[]}") << whole
                                  << QStringLiteral("UTF-8");

    // Close webhooks.
    QTest::newRow("event not an object") << QByteArray(R"({"event":"task.lead"})")
                                         << QStringLiteral("event") << QStringLiteral("a string");
    QTest::newRow("event null") << QByteArray(R"({"event":null})") << QStringLiteral("event")
                                << QStringLiteral("must be an object");
    QTest::newRow("subscription_id number")
        << close([](json &j) { j["subscription_id"] = 7; }) << QStringLiteral("subscription_id")
        << QStringLiteral("must be a string, not a number");
    QTest::newRow("missing event.id") << close([](json &j) { j["event"].erase("id"); })
                                      << QStringLiteral("event.id") << QStringLiteral("required");
    QTest::newRow("event.id number")
        << close([](json &j) { j["event"]["id"] = 12; }) << QStringLiteral("event.id")
        << QStringLiteral("must be a string, not a number");
    QTest::newRow("event.id blank") << close([](json &j) { j["event"]["id"] = " "; })
                                    << QStringLiteral("event.id") << QStringLiteral("empty");
    QTest::newRow("missing object_type")
        << close([](json &j) { j["event"].erase("object_type"); })
        << QStringLiteral("event.object_type") << QStringLiteral("required");
    QTest::newRow("action number") << close([](json &j) { j["event"]["action"] = 1; })
                                   << QStringLiteral("event.action") << QStringLiteral("a number");
    QTest::newRow("missing data") << close([](json &j) { j["event"].erase("data"); })
                                  << QStringLiteral("event.data") << QStringLiteral("required");
    QTest::newRow("data not object")
        << close([](json &j) { j["event"]["data"] = json::array(); })
        << QStringLiteral("event.data") << QStringLiteral("must be an object, not an array");
    QTest::newRow("text missing") << close([](json &j) { j["event"]["data"].erase("text"); })
                                  << QStringLiteral("event.data.text")
                                  << QStringLiteral("required");
    QTest::newRow("text not string")
        << close([](json &j) { j["event"]["data"]["text"] = 3; })
        << QStringLiteral("event.data.text") << QStringLiteral("must be a string, not a number");
    QTest::newRow("text is an object") << close([](json &j) {
        j["event"]["data"]["text"] = { { "en", "Instantly: Q3" } };
    }) << QStringLiteral("event.data.text")
                                       << QStringLiteral("not an object");
    QTest::newRow("empty campaign after prefix")
        << bytes(closeWebhook("Instantly:")) << QStringLiteral("event.data.text")
        << QStringLiteral("names no campaign");
    QTest::newRow("blank campaign after prefix")
        << bytes(closeWebhook("Instantly:   \t ")) << QStringLiteral("event.data.text")
        << QStringLiteral("Instantly: <campaign name>");
    QTest::newRow("campaign with a line break")
        << bytes(closeWebhook("Instantly: Q3\nand call them")) << QStringLiteral("event.data.text")
        << QStringLiteral("line break");
    QTest::newRow("huge task text")
        << bytes(closeWebhook("Instantly: " + std::string(5000, 'q')))
        << QStringLiteral("event.data.text") << QStringLiteral("5011 bytes");
    QTest::newRow("missing lead id") << close([](json &j) {
        j["event"]["data"].erase("lead_id");
        j["event"].erase("lead_id");
    }) << QStringLiteral("event.data.lead_id")
                                     << QStringLiteral("required");
    QTest::newRow("lead id number")
        << close([](json &j) { j["event"]["data"]["lead_id"] = 5; })
        << QStringLiteral("event.data.lead_id") << QStringLiteral("must be a string");
    QTest::newRow("event.lead_id number") << close([](json &j) {
        j["event"]["data"].erase("lead_id");
        j["event"]["lead_id"] = 5;
    }) << QStringLiteral("event.lead_id") << QStringLiteral("must be a string");
    QTest::newRow("lead id not a Close id")
        << close([](json &j) { j["event"]["data"]["lead_id"] = "cont_abc"; })
        << QStringLiteral("event.data.lead_id") << QStringLiteral("not a Close lead id");
    QTest::newRow("lead id with a path")
        << close([](json &j) { j["event"]["data"]["lead_id"] = "lead_abc/../../admin"; })
        << QStringLiteral("event.data.lead_id") << QStringLiteral("not a Close lead id");
    QTest::newRow("inline lead not an object")
        << bytes(withLead(closeWebhook(), json::array())) << QStringLiteral("lead")
        << QStringLiteral("not an array");
    QTest::newRow("inline lead id mismatch")
        << bytes(withLead(closeWebhook(), closeLead("lead_other"))) << QStringLiteral("lead.id")
        << QStringLiteral("\"lead_other\" but the event is about \"lead_abc\"");
    QTest::newRow("inline lead id number")
        << inlineLead([](json &l) { l["id"] = 9; }) << QStringLiteral("lead.id")
        << QStringLiteral("a number");
    QTest::newRow("contacts not array") << inlineLead([](json &l) {
        l["contacts"] = { { "name", "Ann" } };
    }) << QStringLiteral("lead.contacts")
                                        << QStringLiteral("must be an array, not an object");
    QTest::newRow("contact not object")
        << inlineLead([](json &l) { l["contacts"][1] = "Bo"; })
        << QStringLiteral("lead.contacts[1]") << QStringLiteral("not a string");
    QTest::newRow("emails wrong type")
        << inlineLead([](json &l) { l["contacts"][0]["emails"] = "ann@acme.io"; })
        << QStringLiteral("lead.contacts[0].emails") << QStringLiteral("must be an array");
    QTest::newRow("email entry a bare string")
        << inlineLead([](json &l) { l["contacts"][1]["emails"][1] = "bo@acme.io"; })
        << QStringLiteral("lead.contacts[1].emails[1]") << QStringLiteral("must be an object");
    QTest::newRow("email value number")
        << inlineLead([](json &l) { l["contacts"][0]["emails"][0]["email"] = 1; })
        << QStringLiteral("lead.contacts[0].emails[0].email") << QStringLiteral("a number");
    QTest::newRow("is_unsubscribed a string")
        << inlineLead([](json &l) { l["contacts"][1]["emails"][0]["is_unsubscribed"] = "yes"; })
        << QStringLiteral("lead.contacts[1].emails[0].is_unsubscribed")
        << QStringLiteral("must be a boolean");
    QTest::newRow("contact name number")
        << inlineLead([](json &l) { l["contacts"][1]["name"] = 4; })
        << QStringLiteral("lead.contacts[1].name") << QStringLiteral("must be a string");
    QTest::newRow("display_name huge")
        << inlineLead([](json &l) { l["display_name"] = std::string(4097, 'a'); })
        << QStringLiteral("lead.display_name") << QStringLiteral("4097 bytes");

    // Direct batches.
    QTest::newRow("direct form missing campaign")
        << direct([](json &j) { j.erase("campaign"); }) << QStringLiteral("campaign")
        << QStringLiteral("required");
    QTest::newRow("campaign not string")
        << direct([](json &j) { j["campaign"] = json::array({ "Q3" }); })
        << QStringLiteral("campaign") << QStringLiteral("must be a string, not an array");
    QTest::newRow("campaign blank") << direct([](json &j) { j["campaign"] = "  "; })
                                    << QStringLiteral("campaign") << QStringLiteral("no campaign");
    QTest::newRow("campaign with a tab")
        << direct([](json &j) { j["campaign"] = "Q3\tOutreach"; }) << QStringLiteral("campaign")
        << QStringLiteral("control character");
    QTest::newRow("leads missing") << direct([](json &j) { j.erase("leads"); })
                                   << QStringLiteral("leads") << QStringLiteral("required");
    QTest::newRow("leads not array") << direct([](json &j) {
        j["leads"] = { { "email", "a@b.co" } };
    }) << QStringLiteral("leads") << QStringLiteral("must be an array of leads, not an object");
    QTest::newRow("leads null") << direct([](json &j) { j["leads"] = nullptr; })
                                << QStringLiteral("leads") << QStringLiteral("not null");
    QTest::newRow("leads empty") << direct([](json &j) { j["leads"] = json::array(); })
                                 << QStringLiteral("leads") << QStringLiteral("at least one");
    QTest::newRow("too many leads") << bytes(directBatch(1001)) << QStringLiteral("leads")
                                    << QStringLiteral("1001 leads; at most 1000");
    QTest::newRow("lead not object")
        << direct([](json &j) { j["leads"][1] = "c@d.co"; }) << QStringLiteral("leads[1]")
        << QStringLiteral("must be an object, not a string");
    QTest::newRow("missing email")
        << firstLead([](json &l) { l.erase("email"); }) << QStringLiteral("leads[0].email")
        << QStringLiteral("required");
    QTest::newRow("email null") << firstLead([](json &l) { l["email"] = nullptr; })
                                << QStringLiteral("leads[0].email") << QStringLiteral("required");
    QTest::newRow("email number") << firstLead([](json &l) { l["email"] = 1; })
                                  << QStringLiteral("leads[0].email") << QStringLiteral("a number");
    QTest::newRow("email empty") << firstLead([](json &l) { l["email"] = ""; })
                                 << QStringLiteral("leads[0].email") << QStringLiteral("is empty");
    QTest::newRow("email without @")
        << firstLead([](json &l) { l["email"] = "ann.acme.io"; })
        << QStringLiteral("leads[0].email") << QStringLiteral("\"ann.acme.io\" has no '@'");
    QTest::newRow("email with two @")
        << firstLead([](json &l) { l["email"] = "ann@lee@acme.io"; })
        << QStringLiteral("leads[0].email") << QStringLiteral("more than one '@'");
    QTest::newRow("email with a space")
        << firstLead([](json &l) { l["email"] = "ann lee@acme.io"; })
        << QStringLiteral("leads[0].email") << QStringLiteral("spaces");
    QTest::newRow("email without TLD")
        << firstLead([](json &l) { l["email"] = "ann@localhost"; })
        << QStringLiteral("leads[0].email") << QStringLiteral("invalid domain");
    QTest::newRow("email with unicode local part")
        << firstLead([](json &l) { l["email"] = "zoë@acme.io"; })
        << QStringLiteral("leads[0].email") << QStringLiteral("non-ASCII");
    QTest::newRow("email with nothing before @")
        << firstLead([](json &l) { l["email"] = "@acme.io"; }) << QStringLiteral("leads[0].email")
        << QStringLiteral("nothing before");
    QTest::newRow("bad email in the last lead")
        << direct([](json &j) { j["leads"][2]["email"] = "x@y"; })
        << QStringLiteral("leads[2].email") << QStringLiteral("invalid domain");
    QTest::newRow("custom_variables nested object")
        << firstLead([](json &l) {
               l["custom_variables"] = { { "x", { { "y", 1 } } } };
           })
        << QStringLiteral("leads[0].custom_variables.x")
        << QStringLiteral("string, number, boolean or null, not an object");
    QTest::newRow("custom_variables array")
        << firstLead([](json &l) {
               l["custom_variables"] = json::array({ 1, 2 });
           })
        << QStringLiteral("leads[0].custom_variables")
        << QStringLiteral("must be an object of flat values, not an array");
    QTest::newRow("custom variable is an array") << firstLead([](json &l) {
        l["custom_variables"] = { { "tags", { "a", "b" } } };
    }) << QStringLiteral("leads[0].custom_variables.tags")
                                                 << QStringLiteral("not an array");
    QTest::newRow("custom variable with an odd name") << firstLead([](json &l) {
        l["custom_variables"] = { { "a b", { { "c", 1 } } } };
    }) << QStringLiteral("leads[0].custom_variables[\"a b\"]")
                                                      << QStringLiteral("not an object");
    QTest::newRow("custom variable value huge") << firstLead([](json &l) {
        l["custom_variables"] = { { "k", std::string(5000, 'v') } };
    }) << QStringLiteral("leads[0].custom_variables.k")
                                                << QStringLiteral("5000 bytes");
    QTest::newRow("first_name number")
        << firstLead([](json &l) { l["first_name"] = 7; }) << QStringLiteral("leads[0].first_name")
        << QStringLiteral("must be a string, not a number");
    QTest::newRow("last_name object")
        << firstLead([](json &l) { l["last_name"] = json::object(); })
        << QStringLiteral("leads[0].last_name") << QStringLiteral("not an object");
    QTest::newRow("company_name bool")
        << firstLead([](json &l) { l["company_name"] = true; })
        << QStringLiteral("leads[0].company_name") << QStringLiteral("not a boolean");
    QTest::newRow("huge string field")
        << firstLead([](json &l) { l["first_name"] = std::string(100000, 'n'); })
        << QStringLiteral("leads[0].first_name")
        << QStringLiteral("100000 bytes long; at most 4096");
    QTest::newRow("huge unicode string counts bytes") << firstLead([](json &l) {
        std::string s;
        for (int i = 0; i < 1400; ++i)
            s += "東"; // 3 bytes each: 4200 bytes, 1400 characters
        l["last_name"] = s;
    }) << QStringLiteral("leads[0].last_name") << QStringLiteral("4200 bytes");
    QTest::newRow("duplicate emails in batch")
        << direct([](json &j) { j["leads"][2]["email"] = "LEAD0@Example.com"; })
        << QStringLiteral("leads[2].email")
        << QStringLiteral("\"LEAD0@Example.com\" is also the email of leads[0]");
}

void TestCloseWebhook::rejected()
{
    QFETCH(QByteArray, body);
    QFETCH(QString, field);
    QFETCH(QString, reasonMentions);

    const auto result = parseIntakeBody(body);
    QVERIFY2(!result.ok(), "accepted a bad body");
    const IntakeError &e = result.error();
    QCOMPARE(e.field, field);
    QVERIFY(!e.reason.trimmed().isEmpty());
    QVERIFY2(e.reason.contains(reasonMentions), qPrintable(e.message()));
    QVERIFY2(e.message().size() < 400, qPrintable(e.message())); // never echoes a huge input
    QCOMPARE(e.message(), field.isEmpty() ? e.reason : field + QStringLiteral(": ") + e.reason);
}

void TestCloseWebhook::customLimits_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("maxDepth");
    QTest::addColumn<int>("maxLeads");
    QTest::addColumn<int>("maxFieldLength");
    QTest::addColumn<QString>("errorField"); // "-" = accepted

    const QString accepted = QStringLiteral("-");
    QTest::newRow("3 leads, limit 3") << bytes(directBatch(3)) << 32 << 3 << 4096 << accepted;
    QTest::newRow("4 leads, limit 3")
        << bytes(directBatch(4)) << 32 << 3 << 4096 << QStringLiteral("leads");
    QTest::newRow("inline contacts over the lead limit")
        << bytes(withLead(closeWebhook(), closeLead())) << 32 << 1 << 4096
        << QStringLiteral("lead.contacts");
    QTest::newRow("field at the length limit") << bytes(json {
        { "campaign", "0123456789" }, { "leads", json::array({ { { "email", "a@b.co" } } }) } })
                                               << 32 << 10 << 10 << accepted;
    QTest::newRow("field over the length limit") << bytes(json {
        { "campaign", "0123456789x" }, { "leads", json::array({ { { "email", "a@b.co" } } }) } })
                                                 << 32 << 10 << 10 << QStringLiteral("campaign");
    QTest::newRow("depth at the limit")
        << QByteArray(R"({"campaign":"c","leads":[{"email":"a@b.co","custom_variables":{}}]})") << 4
        << 10 << 100 << accepted;
    QTest::newRow("depth over the limit") << QByteArray(
        R"({"campaign":"c","leads":[{"email":"a@b.co","custom_variables":{"a":[]}}]})")
                                          << 4 << 10 << 100 << QString();
}

void TestCloseWebhook::customLimits()
{
    QFETCH(QByteArray, body);
    QFETCH(int, maxDepth);
    QFETCH(int, maxLeads);
    QFETCH(int, maxFieldLength);
    QFETCH(QString, errorField);

    IntakeLimits limits;
    limits.maxDepth = maxDepth;
    limits.maxLeads = maxLeads;
    limits.maxFieldLength = maxFieldLength;
    const auto result = parseIntakeBody(body, limits);
    if (errorField == QLatin1String("-")) {
        QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().message()));
    } else {
        QVERIFY(!result.ok());
        QCOMPARE(result.error().field, errorField);
        QVERIFY(!result.error().reason.isEmpty());
    }
}

void TestCloseWebhook::depthScan_data()
{
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<bool>("tooDeep");

    QTest::newRow("32 levels") << nested(32) << false;
    QTest::newRow("33 levels") << nested(33) << true;
    QTest::newRow("brackets inside a string do not count")
        << QByteArray(R"({"a":")" + QByteArray(1000, '[') + R"("})") << false;
    QTest::newRow("escaped quote keeps the string open")
        << QByteArray(R"({"a":"\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})") << false;
    QTest::newRow("escaped backslash closes the string")
        << QByteArray(R"({"a":"\\",)" + QByteArray(40, '[')) << true;
    QTest::newRow("many siblings stay shallow")
        << QByteArray("[" + QByteArray("[],").repeated(10000) + "[]]") << false;
}

void TestCloseWebhook::depthScan()
{
    QFETCH(QByteArray, body);
    QFETCH(bool, tooDeep);

    json out;
    const std::optional<IntakeError> error = parseLimitedJson(body, IntakeLimits {}, out);
    const bool reportedDeep = error && error->reason.contains(QStringLiteral("levels deep"));
    QVERIFY2(reportedDeep == tooDeep, error ? qPrintable(error->message()) : "no error");
    if (!tooDeep) // valid JSON apart from depth
        QVERIFY2(!error, error ? qPrintable(error->message()) : "");
}

void TestCloseWebhook::errorMessage()
{
    QCOMPARE((IntakeError { QStringLiteral("event.data.text"), QStringLiteral("must be a string") })
                 .message(),
             QStringLiteral("event.data.text: must be a string"));
    QCOMPARE((IntakeError { QString(), QStringLiteral("body is empty") }).message(),
             QStringLiteral("body is empty"));
}

void TestCloseWebhook::taskTextAsTheBackfillReadsIt_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<int>("kind"); // 0 not ours, 1 a campaign, 2 ours but unusable
    QTest::addColumn<QString>("campaign");
    auto row = [](const char *name, const char *text, int kind, const char *campaign) {
        QTest::newRow(name) << QString::fromUtf8(text) << kind << QString::fromUtf8(campaign);
    };
    row("plain", "Instantly: Q3 Outreach", 1, "Q3 Outreach");
    row("case and spaces", "  instantly:   Q3  Outreach  ", 1, "Q3  Outreach");
    row("not ours", "Call back on Monday", 0, "");
    row("prefix later", "Re: Instantly: Q3", 0, "");
    row("no campaign", "Instantly:   ", 2, "");
    row("line break", "Instantly: Q3\nOutreach", 2, "");
}

void TestCloseWebhook::taskTextAsTheBackfillReadsIt()
{
    QFETCH(QString, text);
    QFETCH(int, kind);
    QFETCH(QString, campaign);
    const auto read = campaignOfTaskText(text);
    QCOMPARE(read.ok() ? (read.value() ? 1 : 0) : 2, kind);
    if (kind == 1)
        QCOMPARE(*read.value(), campaign);
    // The webhook path reads the same text the same way.
    const auto parsed = parseIntakeBody(bytes(closeWebhook(text.toStdString())));
    QCOMPARE(parsed.ok() ? (parsed.value().ignored() ? 0 : 1) : 2, kind);
    if (kind == 1)
        QCOMPARE(parsed.value().campaignName, campaign);
}

void TestCloseWebhook::closeTaskIdOfTheEvent()
{
    // event.data.id first, else event.object_id; only ids shaped like Close's.
    QCOMPARE(parseIntakeBody(bytes(closeWebhook())).value().closeTaskId, QStringLiteral("task_1"));
    json noDataId = closeWebhook();
    noDataId["event"]["data"].erase("id");
    noDataId["event"]["object_id"] = "task_9";
    QCOMPARE(parseIntakeBody(bytes(noDataId)).value().closeTaskId, QStringLiteral("task_9"));
    json strange = noDataId;
    strange["event"]["object_id"] = "not a task id";
    const auto parsed = parseIntakeBody(bytes(strange));
    QVERIFY(parsed.ok());
    QVERIFY(parsed.value().closeTaskId.isEmpty());
    QVERIFY(isCloseTaskId(QStringLiteral("task_ab-C_9")));
    QVERIFY(!isCloseTaskId(QStringLiteral("task_")));
    QVERIFY(!isCloseTaskId(QStringLiteral("lead_1")));
}

SLUICE_TEST_APPLESS_MAIN(TestCloseWebhook)
#include "tst_closewebhook.moc"
