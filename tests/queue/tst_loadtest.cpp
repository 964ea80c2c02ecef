// Load-test runs against a LocalEngine with the embedded sandbox and a real redis-server:
// a passing run and its record, the campaign made once, fail-fast on a listener that never
// answers, a foreign target whose delivery cannot be observed (and stays so when its record is
// judged again), the RunSession pipeline to the ledger, and the prediction.
#include "common/foreignreceiver.h"
#include "common/suite.h"
#include "common/testrun.h"
#include "local/localengine.h"
#include "redis/redisserver.h"
#include "runs/loadtest.h"
#include "runs/runledger.h"
#include "runs/runsession.h"
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

namespace {

RunCheck deliveredCheck(const RunRecord &r)
{
    for (const RunCheck &c : r.checks)
        if (c.name == QLatin1String("every lead delivered"))
            return c;
    return {};
}

} // namespace

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
        options.serve.limiter.caps
            = { { 20, milliseconds { 1000 } }, { 1200, milliseconds { 60'000 } } };
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
        test::ForeignReceiver foreign;
        QVERIFY(foreign.listen());
        RunDefinition d = runDefinition(3, QStringLiteral("TimeoutTestC"));
        d.target = foreign.url();
        LoadTestRun run(d, m_engine->loadTestServices());
        QVERIFY(runToEnd(run, 30'000));
        const RunRecord &r = run.record();
        QCOMPARE(r.acknowledged, 3);
        QVERIFY(!r.passed);
        const RunCheck delivered = deliveredCheck(r);
        QCOMPARE(delivered.name, QStringLiteral("every lead delivered"));
        QVERIFY(!delivered.passed);
        QVERIFY(delivered.detail.startsWith(QStringLiteral("not observable")));

        // The record keeps it: judged again from the ledger's copy (as `sluice verify --run`
        // and `cleanup --run` do), the delivery is still not claimed to be 0 of 3.
        QVERIFY(!r.deliveryObservable);
        auto stored = runRecordFromJson(nlohmann::json::parse(toJson(r).dump()));
        QVERIFY(stored.has_value());
        judgeRecord(*stored);
        QCOMPARE(deliveredCheck(*stored).detail, delivered.detail);
        QCOMPARE(deliveredCheck(*stored).passed, false);
    }

    void aSessionTakesARunThroughVerifyAndCleanUpToTheLedger()
    {
        RunSession session(m_engine->runSessionServices());
        QSignalSpy progress(&session, &RunSession::progressChanged);
        QSignalSpy finished(&session, &RunSession::finished);
        RunSteps steps;
        steps.verify = true;
        steps.cleanup = true;
        QVERIFY(!session.start(runDefinition(20, QStringLiteral("TimeoutTestS")), steps));
        QVERIFY(session.isRunning());
        QVERIFY(session.loadTest());
        QVERIFY(finished.wait(60'000));
        QCOMPARE(finished.size(), 1);
        const RunOutcome outcome = finished.front().front().value<RunOutcome>();
        QVERIFY2(outcome.saved,
                 qPrintable(outcome.saveError ? outcome.saveError->describe() : QString()));
        const RunRecord &r = outcome.record;
        QVERIFY2(r.passed, qPrintable(r.stopReason));
        QCOMPARE(r.state, RunRecord::State::Finished);
        QVERIFY(r.verify && outcome.verified);
        QCOMPARE(r.verify->present, 20);
        QVERIFY(r.cleanup && outcome.cleaned);
        QCOMPARE(r.cleanup->remaining, 0);
        QVERIFY(r.embeddedSandbox);
        QCOMPARE(r.instantlyUrl, m_engine->sandbox()->baseUrl().toString());
        QVERIFY(!session.isRunning());
        QVERIFY(!session.loadTest());

        // The steps came in order: the run, then verify, then clean-up.
        QList<RunRecord::State> stepsSeen;
        for (const QList<QVariant> &args : std::as_const(progress)) {
            const RunRecord::State state = args.front().value<RunProgress>().state;
            if (stepsSeen.isEmpty() || stepsSeen.back() != state)
                stepsSeen.append(state);
        }
        QVERIFY(stepsSeen.contains(RunRecord::State::Delivering));
        QCOMPARE(stepsSeen.mid(stepsSeen.size() - 2),
                 (QList<RunRecord::State> { RunRecord::State::Verifying,
                                            RunRecord::State::CleaningUp }));

        // The ledger holds the judged record.
        const auto stored = load(r.definition.id);
        QVERIFY(stored.has_value());
        QVERIFY(toJson(*stored) == toJson(r));
    }

    void cleaningUpAnOutsideTargetRunKeepsItNotObservable()
    {
        test::ForeignReceiver foreign;
        QVERIFY(foreign.listen());
        RunDefinition d = runDefinition(3, QStringLiteral("TimeoutTestD"));
        d.target = foreign.url();
        RunSession session(m_engine->runSessionServices());
        QSignalSpy ran(&session, &RunSession::finished);
        QVERIFY(!session.start(d));
        QVERIFY(ran.wait(30'000));
        QVERIFY(!ran.front().front().value<RunOutcome>().record.deliveryObservable);

        // `sluice cleanup --run ID`: the ledger's record, cleaned up and judged again.
        const auto stored = load(d.id);
        QVERIFY(stored.has_value());
        QVERIFY(!stored->deliveryObservable);
        QSignalSpy cleaned(&session, &RunSession::finished);
        QVERIFY(session.cleanUp(*stored));
        QVERIFY(!session.cleanUp(*stored)); // one job at a time
        QVERIFY(cleaned.wait(30'000));
        const RunOutcome outcome = cleaned.front().front().value<RunOutcome>();
        QVERIFY(outcome.saved);
        QCOMPARE(outcome.record.cleanup->remaining, 0);
        QVERIFY2(deliveredCheck(outcome.record).detail.startsWith(QStringLiteral("not observable")),
                 qPrintable(deliveredCheck(outcome.record).detail));
        QVERIFY(!load(d.id)->deliveryObservable);

        // A dry run reports and writes nothing.
        QSignalSpy previewed(&session, &RunSession::finished);
        QVERIFY(session.cleanUp(*stored, CleanupMode::DryRun));
        QVERIFY(previewed.wait(30'000));
        const RunOutcome preview = previewed.front().front().value<RunOutcome>();
        QVERIFY(preview.cleaned && preview.cleaned->dryRun);
        QVERIFY(!preview.saved && !preview.saveError);
        QVERIFY(!preview.record.cleanup);
        QVERIFY(load(d.id)->cleanup.has_value()); // the real clean-up's, still
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
    /// The ledger's record of run `id`; nullopt when it has none (or Redis does not answer).
    std::optional<RunRecord> load(const QString &id)
    {
        RunLedger ledger(m_engine->redis(), m_engine->keys());
        std::optional<Result<RunRecord, LedgerError>> loaded;
        ledger.load(id, [&loaded](Result<RunRecord, LedgerError> r) { loaded = std::move(r); });
        if (!QTest::qWaitFor([&] { return loaded.has_value(); }, 10'000) || !loaded->ok())
            return std::nullopt;
        return loaded->value();
    }

    test::RedisServer m_redis;
    QTemporaryDir m_dir;
    std::unique_ptr<LocalEngine> m_engine;
};

SLUICE_TEST_GUILESS_MAIN(TestLoadTest)
#include "tst_loadtest.moc"
