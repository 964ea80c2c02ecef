// Run definitions: the lead template, validation, and the ledger's JSON round trip.
#include "common/suite.h"
#include "runs/run.h"

#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;

class TestRun : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void templateMakesTheOriginalPlansLeads()
    {
        const Lead lead = LeadTemplate {}.make(7, QStringLiteral("1764408972"));
        QCOMPARE(lead.email, QStringLiteral("lance+1764408972+7@whiteboardgeeks.com"));
        QCOMPARE(lead.firstName, QStringLiteral("TestLead"));
        QCOMPARE(lead.lastName, QStringLiteral("7"));
        QCOMPARE(lead.companyName, QStringLiteral("Test Company 7"));
        QCOMPARE(lead.customVariables.value(QStringLiteral("date_location")).toString(),
                 QStringLiteral("Test Location 1764408972"));
    }

    void emailsAreDistinctAndLowerCased()
    {
        RunDefinition d;
        d.id = QStringLiteral("run-x");
        d.campaign = QStringLiteral("TimeoutTest1");
        d.timestamp = QStringLiteral("1");
        d.leads = 50;
        d.leadTemplate.emailPattern = QStringLiteral("QA+{timestamp}.{i}@Example.com");
        const QStringList emails = d.emails();
        QCOMPARE(emails.size(), 50);
        QCOMPARE(QSet<QString>(emails.begin(), emails.end()).size(), 50);
        QCOMPARE(emails.first(), QStringLiteral("qa+1.1@example.com"));
        QVERIFY(!d.problem());
    }

    void problemsAreNamed_data()
    {
        QTest::addColumn<QString>("pattern");
        QTest::addColumn<int>("leads");
        QTest::addColumn<QString>("target");
        QTest::addColumn<QString>("message");
        QTest::newRow("no {i}") << QStringLiteral("a+{timestamp}@x.io") << 5 << QString()
                                << QStringLiteral("needs {i} and {timestamp}");
        QTest::newRow("invalid address") << QStringLiteral("{timestamp}{i}") << 5 << QString()
                                         << QStringLiteral("makes invalid addresses");
        QTest::newRow("no leads") << LeadTemplate {}.emailPattern << 0 << QString()
                                  << QStringLiteral("1 to 100000 leads");
        QTest::newRow("bad target") << LeadTemplate {}.emailPattern << 5
                                    << QStringLiteral("ftp://x/y") << QStringLiteral("not an http");
    }
    void problemsAreNamed()
    {
        QFETCH(QString, pattern);
        QFETCH(int, leads);
        QFETCH(QString, target);
        QFETCH(QString, message);
        RunDefinition d;
        d.campaign = QStringLiteral("C");
        d.leads = leads;
        d.target = QUrl(target);
        d.leadTemplate.emailPattern = pattern;
        const auto problem = d.problem();
        QVERIFY(problem.has_value());
        QVERIFY2(problem->contains(message), qPrintable(*problem));
    }

    void recordRoundTripsThroughJson()
    {
        RunRecord r;
        r.definition.id = newRunId(1'764'408'972'000);
        r.definition.stage = QStringLiteral("200");
        r.definition.leads = 200;
        r.definition.target = QUrl(QStringLiteral("https://hooks.example.com/instantly/add_lead"));
        r.definition.campaign = QStringLiteral("TimeoutTest1764408972");
        r.definition.timestamp = QStringLiteral("1764408972");
        r.definition.failFast = true;
        r.definition.mode = QStringLiteral("bulk");
        r.definition.thresholds.max429 = 3;
        r.state = RunRecord::State::Finished;
        r.campaignCreatedByRun = true;
        r.instantlyUrl = QStringLiteral("https://api.instantly.ai");
        r.embeddedSandbox = true;
        r.createdMs = 1;
        r.finishedMs = 99;
        r.ack = { 200, 1000, 2000, 3000, 4000 };
        r.acceptedPerSecond = 1234.5;
        r.taskIds = { QStringLiteral("t1"), QStringLiteral("t2") };
        r.delivered = 198;
        r.skipped = 2;
        r.worst1s = 8;
        r.checks = { { QStringLiteral("all delivered"), true, QStringLiteral("200 of 200") } };
        r.passed = true;
        VerifyReport v;
        v.present = 199;
        v.missing = { QStringLiteral("a@b.io") };
        r.verify = v;
        CleanupReport c;
        c.deleted = 199;
        c.remaining = 0;
        c.foreign = 2;
        c.campaignNote = QStringLiteral("kept: it holds 2 leads that are not this run's");
        r.cleanup = c;

        const auto back = runRecordFromJson(nlohmann::json::parse(toJson(r).dump()));
        QVERIFY(back.has_value());
        QVERIFY(toJson(*back) == toJson(r));
        QCOMPARE(back->definition.id, r.definition.id);
        QCOMPARE(back->state, RunRecord::State::Finished);
        QCOMPARE(back->instantlyUrl, r.instantlyUrl);
        QVERIFY(back->embeddedSandbox);
        QCOMPARE(back->ack.p99, qint64(3000));
        QCOMPARE(back->verify->missing, v.missing);
        QCOMPARE(back->cleanup->remaining, 0);
        QCOMPARE(back->cleanup->foreign, 2);
        QCOMPARE(back->cleanup->campaignNote, c.campaignNote);
        QVERIFY(r.definition.id.startsWith(QStringLiteral("run-20251129-")));
    }

    void deliveryObservableIsKept_data()
    {
        QTest::addColumn<QString>("stored"); // the record's "delivery_observable", or none
        QTest::addColumn<QString>("deliveryCheck"); // detail of its "every lead delivered"
        QTest::addColumn<bool>("observable");
        QTest::newRow("saved observable") << "true"
                                          << "3 of 3" << true;
        QTest::newRow("saved not observable") << "false"
                                              << "verified in Instantly" << false;
        // Records from before the field: observable, as they were judged, unless their own
        // delivery check said it was not.
        QTest::newRow("older, judged observable") << QString() << "0 of 3 (0 created)" << true;
        QTest::newRow("older, judged not observable")
            << QString() << "not observable: the target's tasks are not in this Redis" << false;
        QTest::newRow("older, verified") << QString() << "verified in Instantly: 3 present" << true;
    }
    void deliveryObservableIsKept()
    {
        QFETCH(QString, stored);
        QFETCH(QString, deliveryCheck);
        QFETCH(bool, observable);
        RunRecord r;
        r.definition.id = QStringLiteral("run-1");
        r.deliveryObservable = stored != QLatin1String("false");
        r.checks = { { QStringLiteral("every lead delivered"), false, deliveryCheck } };
        nlohmann::json j = toJson(r);
        QCOMPARE(j.value("delivery_observable", true), r.deliveryObservable);
        if (stored.isEmpty())
            j.erase("delivery_observable");
        const auto back = runRecordFromJson(j);
        QVERIFY(back.has_value());
        QCOMPARE(back->deliveryObservable, observable);
    }

    void foreignJsonIsRefused()
    {
        QVERIFY(!runRecordFromJson(nlohmann::json::parse("{\"version\":2}")));
        QVERIFY(!runRecordFromJson(nlohmann::json::parse("[1,2]")));
        QVERIFY(!runRecordFromJson(
            nlohmann::json::parse("{\"version\":1,\"definition\":{\"id\":\"\"}}")));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestRun)
#include "tst_run.moc"
