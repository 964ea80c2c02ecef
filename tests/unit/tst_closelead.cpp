#include "close/closelead.h"
#include "common/suite.h"

#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;
using json = nlohmann::json;

namespace {

json contact(const json &name, const json &emails)
{
    json c = { { "id", "cont_x" } };
    if (!name.is_discarded())
        c["name"] = name;
    if (!emails.is_discarded())
        c["emails"] = emails;
    return c;
}

json emails(std::initializer_list<std::string> addresses)
{
    json out = json::array();
    for (const std::string &a : addresses)
        out.push_back({ { "type", "office" }, { "email", a } });
    return out;
}

json unsubscribed(const std::string &address)
{
    return { { "type", "office" }, { "email", address }, { "is_unsubscribed", true } };
}

json lead(const json &contacts)
{
    return { { "id", "lead_1" }, { "display_name", "Acme" }, { "contacts", contacts } };
}

/// A lead whose contacts are the given objects (always a JSON array, even for one contact).
json lead(std::initializer_list<json> contacts)
{
    return lead(json(json::array_t(contacts.begin(), contacts.end())));
}

const json kAbsent = json(json::value_t::discarded);

/// One line per lead: email|first|last|company|vars.
QStringList describeLeads(const std::vector<Lead> &leads)
{
    QStringList out;
    for (const Lead &l : leads) {
        QStringList vars;
        for (auto it = l.customVariables.cbegin(); it != l.customVariables.cend(); ++it)
            vars << it.key() + QLatin1Char('=') + it.value().toString();
        out << QStringList { l.email, l.firstName, l.lastName, l.companyName, vars.join(u',') }
                   .join(u'|');
    }
    return out;
}

QString s(const char *utf8)
{
    return QString::fromUtf8(utf8);
}

} // namespace

class TestCloseLead : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void convert_data();
    void convert();
    void rejected_data();
    void rejected();
    void fromBody();
};

void TestCloseLead::convert_data()
{
    QTest::addColumn<QByteArray>("lead");
    QTest::addColumn<QStringList>("leads");
    QTest::addColumn<QStringList>("skipped");

    auto row = [](const char *tag, const json &in, const QStringList &leads,
                  const QStringList &skipped) {
        QTest::newRow(tag) << QByteArray::fromStdString(in.dump()) << leads << skipped;
    };
    const QString v = QStringLiteral("close_lead_id=lead_1");

    row("multi contacts",
        lead({ contact("Ann Lee", emails({ "ann@acme.io" })),
               contact("Bo Berg", emails({ "bo@acme.io", "bo2@acme.io" })),
               contact("Cy", emails({ "cy@acme.io" })) }),
        { s("ann@acme.io|Ann|Lee|Acme|") + v, s("bo@acme.io|Bo|Berg|Acme|") + v,
          s("cy@acme.io|Cy||Acme|") + v },
        {});
    row("contact without emails key",
        lead({ contact("Ann Lee", kAbsent), contact("Bo", emails({ "bo@acme.io" })) }),
        { s("bo@acme.io|Bo||Acme|") + v }, { s("contact 'Ann Lee': no email address") });
    row("contact with empty emails",
        lead({ contact("Ann Lee", json::array()), contact("Bo", emails({ "bo@acme.io" })) }),
        { s("bo@acme.io|Bo||Acme|") + v }, { s("contact 'Ann Lee': no email address") });
    row("contact with null emails", lead({ contact("Ann Lee", nullptr) }), {},
        { s("contact 'Ann Lee': no email address") });
    row("unsubscribed email skipped, next used",
        lead({ contact("Bo",
                       json::array({ unsubscribed("ann@x.io"), { { "email", "bo@x.io" } } })) }),
        { s("bo@x.io|Bo||Acme|") + v }, { s("contact 'Bo': ann@x.io is unsubscribed") });
    row("is_unsubscribed false is usable",
        lead({ contact(
            "Bo", json::array({ { { "email", "bo@x.io" }, { "is_unsubscribed", false } } })) }),
        { s("bo@x.io|Bo||Acme|") + v }, {});
    row("every email unsubscribed",
        lead({ contact("Bo", json::array({ unsubscribed("a@x.io"), unsubscribed("b@x.io") })) }),
        {},
        { s("contact 'Bo': a@x.io is unsubscribed"), s("contact 'Bo': b@x.io is unsubscribed") });
    row("invalid email skipped, next used",
        lead({ contact("Bo", emails({ "bo at x.io", "bo@x", "bo@x.io" })) }),
        { s("bo@x.io|Bo||Acme|") + v },
        { s("contact 'Bo': \"bo at x.io\" contains spaces, control or non-ASCII characters"),
          s("contact 'Bo': \"bo@x\" has an invalid domain") });
    row("empty email string skipped", lead({ contact("Bo", emails({ "", "bo@x.io" })) }),
        { s("bo@x.io|Bo||Acme|") + v }, { s("contact 'Bo': email #1 is empty") });
    row("only the first usable email is taken",
        lead({ contact("Bo", emails({ "bo@x.io", "bo.other@x.io" })) }),
        { s("bo@x.io|Bo||Acme|") + v }, {});
    row("email trimmed, case kept", lead({ contact("Bo", emails({ "  Bo@X.io " })) }),
        { s("Bo@X.io|Bo||Acme|") + v }, {});
    row("duplicate email across contacts kept once",
        lead({ contact("Ann Lee", emails({ "ann@x.io" })),
               contact("Ann (shared)", emails({ "ANN@x.io" })) }),
        { s("ann@x.io|Ann|Lee|Acme|") + v },
        { s("contact 'Ann (shared)': ANN@x.io is already used by contact 'Ann Lee'") });
    row("duplicate email, second contact falls back to its next email",
        lead({ contact("Ann Lee", emails({ "ann@x.io" })),
               contact("Bo", emails({ "ann@x.io", "bo@x.io" })) }),
        { s("ann@x.io|Ann|Lee|Acme|") + v, s("bo@x.io|Bo||Acme|") + v },
        { s("contact 'Bo': ann@x.io is already used by contact 'Ann Lee'") });
    row("name: one word", lead({ contact("Ann", emails({ "a@x.io" })) }),
        { s("a@x.io|Ann||Acme|") + v }, {});
    row("name: two words", lead({ contact("Ann Lee", emails({ "a@x.io" })) }),
        { s("a@x.io|Ann|Lee|Acme|") + v }, {});
    row("name: particles stay in the last name",
        lead({ contact("Ann van der Berg", emails({ "a@x.io" })) }),
        { s("a@x.io|Ann|van der Berg|Acme|") + v }, {});
    row("name: extra spaces", lead({ contact("  Ann   van  Berg  ", emails({ "a@x.io" })) }),
        { s("a@x.io|Ann|van Berg|Acme|") + v }, {});
    row("name: unicode", lead({ contact("Zoë Ångström", emails({ "z@x.io" })) }),
        { s("z@x.io|Zoë|Ångström|Acme|") + v }, {});
    row("name: CJK and emoji", lead({ contact("王 小明 🚀", emails({ "w@x.io" })) }),
        { s("w@x.io|王|小明 🚀|Acme|") + v }, {});
    row("name missing: label from contact id", lead({ contact(kAbsent, json::array()) }), {},
        { s("contact 'cont_x': no email address") });
    row("name and id missing: label by position",
        lead(json::array({ json { { "emails", json::array() } } })), {},
        { s("contact '#1': no email address") });
    row("name null", lead({ contact(nullptr, emails({ "a@x.io" })) }), { s("a@x.io|||Acme|") + v },
        {});
    row("display_name preferred over name",
        json { { "id", "lead_1" },
               { "display_name", "Acme Display" },
               { "name", "Acme Name" },
               { "contacts", json::array({ contact("Ann", emails({ "a@x.io" })) }) } },
        { s("a@x.io|Ann||Acme Display|") + v }, {});
    row("empty display_name falls back to name",
        json { { "id", "lead_1" },
               { "display_name", "  " },
               { "name", "Acme Name" },
               { "contacts", json::array({ contact("Ann", emails({ "a@x.io" })) }) } },
        { s("a@x.io|Ann||Acme Name|") + v }, {});
    row("name only",
        json { { "id", "lead_1" },
               { "name", " Acme Name " },
               { "contacts", json::array({ contact("Ann", emails({ "a@x.io" })) }) } },
        { s("a@x.io|Ann||Acme Name|") + v }, {});
    row("no company at all",
        json { { "id", "lead_1" },
               { "contacts", json::array({ contact("Ann", emails({ "a@x.io" })) }) } },
        { s("a@x.io|Ann|||") + v }, {});
    row("no lead id: no custom variable",
        json { { "display_name", "Acme" },
               { "contacts", json::array({ contact("Ann", emails({ "a@x.io" })) }) } },
        { s("a@x.io|Ann||Acme|") }, {});
    row("no contacts key", json { { "id", "lead_1" } }, {}, { s("the lead has no contacts") });
    row("empty contacts", lead(json::array()), {}, { s("the lead has no contacts") });
    row("unknown fields ignored",
        json { { "id", "lead_1" },
               { "display_name", "Acme" },
               { "status_label", "Potential" },
               { "custom", { { "x", { 1, 2 } } } },
               { "contacts",
                 json::array({ json {
                     { "name", "Ann" },
                     { "title", "CEO" },
                     { "phones", json::array({ { { "phone", "+1" } } }) },
                     { "emails",
                       json::array({ { { "email", "a@x.io" }, { "type", "office" } } }) } } }) } },
        { s("a@x.io|Ann||Acme|") + v }, {});
}

void TestCloseLead::convert()
{
    QFETCH(QByteArray, lead);
    QFETCH(QStringList, leads);
    QFETCH(QStringList, skipped);

    const auto result = convertCloseLead(json::parse(lead.toStdString()));
    QVERIFY2(result.ok(), qPrintable(result.ok() ? QString() : result.error().message()));
    QCOMPARE(describeLeads(result.value().leads), leads);
    QCOMPARE(result.value().skipped, skipped);
}

void TestCloseLead::rejected_data()
{
    QTest::addColumn<QByteArray>("lead");
    QTest::addColumn<QString>("field");
    QTest::addColumn<QString>("reasonMentions");

    auto row = [](const char *tag, const json &in, const char *field, const char *mentions) {
        QTest::newRow(tag) << QByteArray::fromStdString(in.dump()) << QString::fromUtf8(field)
                           << QString::fromUtf8(mentions);
    };
    row("array, not a lead", json::array(), "", "must be an object (a Close lead), not an array");
    row("id number", json { { "id", 1 } }, "id", "must be a string");
    row("display_name array", json { { "display_name", json::array() } }, "display_name",
        "not an array");
    row("contacts string", json { { "contacts", "Ann" } }, "contacts", "must be an array");
    row("contact number", lead({ contact("Ann", json::array()), 5 }), "contacts[1]",
        "not a number");
    row("emails object", lead({ contact("Ann", { { "email", "a@x.io" } }) }), "contacts[0].emails",
        "not an object");
    row("email entry number", lead({ contact("Ann", json::array({ 1 })) }), "contacts[0].emails[0]",
        "must be an object");
    row("email value object",
        lead({ contact("Ann", json::array({ { { "email", { { "a", 1 } } } } })) }),
        "contacts[0].emails[0].email", "not an object");
    row("is_unsubscribed number",
        lead({ contact("Ann",
                       json::array({ { { "email", "a@x.io" }, { "is_unsubscribed", 1 } } })) }),
        "contacts[0].emails[0].is_unsubscribed", "must be a boolean");
    row("contact name huge", lead({ contact(std::string(5000, 'n'), json::array()) }),
        "contacts[0].name", "5000 bytes");
}

void TestCloseLead::rejected()
{
    QFETCH(QByteArray, lead);
    QFETCH(QString, field);
    QFETCH(QString, reasonMentions);

    const auto result = convertCloseLead(json::parse(lead.toStdString()));
    QVERIFY(!result.ok());
    QCOMPARE(result.error().field, field);
    QVERIFY2(result.error().reason.contains(reasonMentions), qPrintable(result.error().message()));
}

void TestCloseLead::fromBody()
{
    const QByteArray good = R"({"id":"lead_1","display_name":"Acme","contacts":[{"name":"Ann Lee",)"
                            R"("emails":[{"email":"ann@acme.io","type":"office"}]}]})";
    const auto ok = convertCloseLeadBody(good);
    QVERIFY(ok.ok());
    QCOMPARE(describeLeads(ok.value().leads),
             QStringList { QStringLiteral("ann@acme.io|Ann|Lee|Acme|close_lead_id=lead_1") });

    const auto malformed = convertCloseLeadBody(good.left(20));
    QVERIFY(!malformed.ok());
    QCOMPARE(malformed.error().field, QString());
    QVERIFY(malformed.error().reason.contains(QStringLiteral("not valid JSON")));

    const auto deep = convertCloseLeadBody(QByteArray(100000, '{'));
    QVERIFY(!deep.ok());
    QVERIFY(deep.error().reason.contains(QStringLiteral("levels deep")));

    IntakeLimits oneLead;
    oneLead.maxLeads = 1;
    const QByteArray two
        = R"({"id":"lead_1","contacts":[{"name":"A","emails":[{"email":"a@x.io"}]},)"
          R"({"name":"B","emails":[{"email":"b@x.io"}]}]})";
    const auto tooMany = convertCloseLeadBody(two, oneLead);
    QVERIFY(!tooMany.ok());
    QCOMPARE(tooMany.error().field, QStringLiteral("contacts"));
    QVERIFY(tooMany.error().reason.contains(QStringLiteral("more than 1 leads")));
}

SLUICE_TEST_APPLESS_MAIN(TestCloseLead)
#include "tst_closelead.moc"
