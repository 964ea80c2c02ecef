// Load-test runs against a LocalEngine with the embedded sandbox and a real redis-server:
// a passing run and its record, the campaign made once, fail-fast on a listener that never
// answers, a foreign target whose delivery cannot be observed, and the prediction.
#include "common/testrun.h"
#include "delivery/localengine.h"
#include "net/httpserver.h"
#include "redis/redisserver.h"
#include "runs/loadtest.h"
#include "sandbox/sandboxserver.h"

#include <QSignalSpy>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;
using sluice::test::runDefinition;
using sluice::test::runToEnd;
using std::chrono::milliseconds;

class TestLoadTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
        LocalEngineOptions options
            = test::sandboxEngineOptions(m_redis.url(), QStringLiteral("loadtest"), m_dir.path());
        // The sandbox enforces the same caps.
        options.serve.caps = { { 20, milliseconds { 1000 } }, { 1200, milliseconds { 60'000 } } };
        m_engine = std::make_unique<LocalEngine>(options);
        const auto problem = m_engine->start();
        QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
    }
    void cleanupTestCase() { m_engine.reset(); }

    void aRunPassesAndRecordsWhatHappened()
    {
        LoadTestRun run(runDefinition(60, QStringLiteral("TimeoutTestA")),
                        m_engine->loadTestServices());
        QVERIFY(!run.problem());
        QVERIFY(runToEnd(run));
        const RunRecord &r = run.record();
        QVERIFY2(r.passed, qPrintable(r.stopReason));
        QCOMPARE(r.state, RunRecord::State::Finished);
        QVERIFY(r.campaignCreatedByRun);
        QCOMPARE(r.acknowledged, 60);
        QCOMPARE(r.taskIds.size(), 60);
        QCOMPARE(r.delivered, 60);
        QCOMPARE(r.ack.count, 60);
        QVERIFY(r.predictedMs > 0);
        QVERIFY(r.upstreamRequests >= 2); // the campaign lookup and at least one bulk add
        QCOMPARE(r.cap1s, 20);
        QCOMPARE(r.cap60s, 1200);
        QVERIFY(r.worst1s <= 20);
        for (const RunCheck &c : r.checks)
            QVERIFY2(c.passed, qPrintable(c.name + QStringLiteral(": ") + c.detail));
        // Exactly the run's addresses arrived.
        QSet<QString> emails;
        for (const auto &lead : m_engine->sandbox()->store().allLeads())
            emails.insert(QString::fromStdString(lead["email"].get<std::string>()).toLower());
        for (const QString &e : r.definition.emails())
            QVERIFY(emails.contains(e));

        // The same campaign again: found, not created.
        RunDefinition again = runDefinition(5, QStringLiteral("TimeoutTestA"));
        LoadTestRun second(again, m_engine->loadTestServices());
        QVERIFY(runToEnd(second));
        QVERIFY(second.record().passed);
        QVERIFY(!second.record().campaignCreatedByRun);
    }

    void failFastStopsOnAListenerThatNeverAnswers()
    {
        QTcpServer silent; // accepts, reads nothing, answers nothing
        QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
        RunDefinition d = runDefinition(5, QStringLiteral("TimeoutTestB"));
        d.target = QUrl(
            QStringLiteral("http://127.0.0.1:%1/instantly/add_lead").arg(silent.serverPort()));
        d.failFast = true;
        d.concurrency = 1;
        d.thresholds.ackTimeout = milliseconds { 300 };
        LoadTestRun run(d, m_engine->loadTestServices());
        QVERIFY(runToEnd(run));
        const RunRecord &r = run.record();
        QVERIFY(!r.passed);
        QCOMPARE(r.state, RunRecord::State::Aborted);
        QCOMPARE(r.sent, 1);
        QCOMPARE(r.stopReason,
                 QStringLiteral("fail-fast: request 1 of 5: no answer within 300 ms"));
        QCOMPARE(r.checks.front().name, QStringLiteral("run completed"));
        QVERIFY(!r.checks.front().passed);
    }

    void aForeignTargetsDeliveryIsNotClaimed()
    {
        // Answers like a receiver that is not Sluice: 202, but its tasks are nowhere we can see.
        HttpServer foreign;
        foreign.addRoute("POST", QStringLiteral("/hook"), [](const HttpRequest &, HttpResponder r) {
            r.sendJson(202, "{\"task_id\":\"elsewhere\"}");
        });
        QVERIFY(foreign.listen(QHostAddress::LocalHost, 0));
        RunDefinition d = runDefinition(3, QStringLiteral("TimeoutTestC"));
        d.target = QUrl(QStringLiteral("http://127.0.0.1:%1/hook")
                            .arg(foreign.servers().constFirst()->serverPort()));
        LoadTestRun run(d, m_engine->loadTestServices());
        QVERIFY(runToEnd(run, 30'000));
        const RunRecord &r = run.record();
        QCOMPARE(r.acknowledged, 3);
        QVERIFY(!r.passed);
        const auto delivered
            = std::find_if(r.checks.begin(), r.checks.end(), [](const RunCheck &c) {
                  return c.name == QLatin1String("every lead delivered");
              });
        QVERIFY(delivered != r.checks.end());
        QVERIFY(!delivered->passed);
        QVERIFY(delivered->detail.startsWith(QStringLiteral("not observable")));
    }

    void predictionFollowsModeRateAndQueue()
    {
        LoadTestServices s;
        s.effectivePerSecond = 8;
        s.mode = DeliveryMode::Single;
        QCOMPARE(LoadTestRun::predictMs(200, 0, s), qint64(25'125)); // 201 requests at 8/s
        QCOMPARE(LoadTestRun::predictMs(200, 40, s), qint64(30'125));
        s.mode = DeliveryMode::Bulk;
        s.maxBatch = 1000;
        s.coalescingWindow = milliseconds { 200 };
        QCOMPARE(LoadTestRun::predictMs(2000, 0, s, true), qint64(375 + 200)); // 3 requests
        // Lead-less, as Close sends them: 20 lookups of 100 leads at Close's 8/s come first.
        QCOMPARE(LoadTestRun::predictMs(2000, 0, s), qint64(375 + 200 + 2500));
    }

    void badDefinitionsAreRefusedBeforeSending()
    {
        RunDefinition d = runDefinition(5, QString());
        LoadTestRun run(d, m_engine->loadTestServices());
        QVERIFY(run.problem().has_value());
        QVERIFY(runToEnd(run));
        QVERIFY(!run.record().passed);
        QCOMPARE(run.record().sent, 0);
        QCOMPARE(run.record().stopReason, QStringLiteral("the run needs a campaign name"));
    }

private:
    test::RedisServer m_redis;
    QTemporaryDir m_dir;
    std::unique_ptr<LocalEngine> m_engine;
};

QTEST_GUILESS_MAIN(TestLoadTest)
#include "tst_loadtest.moc"
