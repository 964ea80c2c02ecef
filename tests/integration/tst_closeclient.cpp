// The Close client against the sandbox's Close API: Basic auth, lead lookup, errors, and ids
// that must never reach the URL.
#include "close/closeclient.h"
#include "common/apiwait.h"
#include "common/metatypes.h"
#include "common/suite.h"
#include "sandbox/sandboxserver.h"

#include <QTest>

#include <nlohmann/json.hpp>

#include <memory>

using namespace sluice;
using sluice::test::Captured;
using json = nlohmann::json;

class TestCloseClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        SandboxOptions options;
        options.closeApiKey = QStringLiteral("api_close_secret_123");
        m_sandbox = std::make_unique<SandboxServer>(options);
        QVERIFY(m_sandbox->start() != 0);
        const json lead = {
            { "id", "lead_7gHqVb2" },
            { "display_name", "Acme Corp" },
            { "contacts",
              json::array({ { { "name", "Ann Lee" },
                              { "emails", json::array({ { { "email", "ann@acme.io" } } }) } } }) },
        };
        QCOMPARE(m_sandbox->store().putCloseLead(lead).status, 200);
    }
    void cleanup() { m_sandbox.reset(); }

    void fetchesALead()
    {
        auto client = makeClient(QStringLiteral("api_close_secret_123"));
        Captured<QByteArray> got;
        client->getLead(QStringLiteral("lead_7gHqVb2"), got.callback());
        QTRY_VERIFY(got.done());
        QVERIFY2(got.ok(), qPrintable(got.describe()));
        const json lead = json::parse(got.value().toStdString());
        QVERIFY(lead["display_name"] == "Acme Corp");
        QCOMPARE(m_sandbox->requestLog().back().path, QStringLiteral("/api/v1/lead/lead_7gHqVb2/"));
    }

    void fetchesLeadsReadyForInstantly()
    {
        const json lead = {
            { "id", "lead_two" },
            { "display_name", "Beta GmbH" },
            { "contacts",
              json::array(
                  { { { "name", "Jürgen van der Berg" },
                      { "emails",
                        json::array({ { { "email", "j@beta.de" }, { "is_unsubscribed", true } },
                                      { { "email", "jvdb@beta.de" } } }) } },
                    { { "name", "Nobody" }, { "emails", json::array() } } }) },
        };
        QCOMPARE(m_sandbox->store().putCloseLead(lead).status, 200);
        QCOMPARE(m_sandbox->store()
                     .putCloseLead({ { "id", "lead_bad" }, { "contacts", "nope" } })
                     .status,
                 200);
        auto client = makeClient(QStringLiteral("api_close_secret_123"));

        Captured<CloseLeadConversion> got;
        client->fetchLeads(QStringLiteral("lead_two"), got.callback());
        QTRY_VERIFY(got.done());
        QVERIFY2(got.ok(), qPrintable(got.describe()));
        QCOMPARE(int(got.value().leads.size()), 1);
        const Lead &l = got.value().leads.front();
        QCOMPARE(l.email, QStringLiteral("jvdb@beta.de"));
        QCOMPARE(l.firstName, QStringLiteral("Jürgen"));
        QCOMPARE(l.lastName, QStringLiteral("van der Berg"));
        QCOMPARE(l.companyName, QStringLiteral("Beta GmbH"));
        QCOMPARE(got.value().skipped.size(), 2); // the unsubscribed address, and Nobody

        Captured<CloseLeadConversion> bad;
        client->fetchLeads(QStringLiteral("lead_bad"), bad.callback());
        QTRY_VERIFY(bad.done());
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().outcome, CallOutcome::Permanent);
        QVERIFY2(bad.error().message.contains(QStringLiteral("contacts")),
                 qPrintable(bad.error().message));
    }

    void errors_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("leadId");
        QTest::addColumn<int>("status");
        QTest::addColumn<CallOutcome>("outcome");
        QTest::addColumn<bool>("sent");
        QTest::newRow("wrong key")
            << QStringLiteral("api_wrong_456") << QStringLiteral("lead_7gHqVb2") << 401
            << CallOutcome::Permanent << true;
        QTest::newRow("unknown lead")
            << QStringLiteral("api_close_secret_123") << QStringLiteral("lead_nope") << 404
            << CallOutcome::Permanent << true;
        QTest::newRow("path injection")
            << QStringLiteral("api_close_secret_123") << QStringLiteral("../../x") << 0
            << CallOutcome::Permanent << false;
        QTest::newRow("empty id") << QStringLiteral("api_close_secret_123") << QString() << 0
                                  << CallOutcome::Permanent << false;
    }
    void errors()
    {
        QFETCH(QString, key);
        QFETCH(QString, leadId);
        QFETCH(int, status);
        QFETCH(CallOutcome, outcome);
        QFETCH(bool, sent);
        auto client = makeClient(key);
        Captured<QByteArray> got;
        client->getLead(leadId, got.callback());
        QTRY_VERIFY(got.done());
        QVERIFY(!got.ok());
        QCOMPARE(got.error().httpStatus, status);
        QCOMPARE(got.error().outcome, outcome);
        QVERIFY(!got.error().message.isEmpty());
        QVERIFY(!got.describe().contains(key));
        QCOMPARE(m_sandbox->requestLog().size(), size_t(sent ? 1 : 0));
    }

private:
    std::unique_ptr<CloseClient> makeClient(const QString &key)
    {
        CloseOptions options;
        options.baseUrl = m_sandbox->baseUrl();
        options.apiKey = key;
        return std::make_unique<CloseClient>(options);
    }

    std::unique_ptr<SandboxServer> m_sandbox;
};

SLUICE_TEST_GUILESS_MAIN(TestCloseClient)
#include "tst_closeclient.moc"
