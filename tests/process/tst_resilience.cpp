// `sluice serve` when its Redis goes away: restarted mid-delivery (AOF on), nothing is lost
// or sent twice; down while webhooks arrive, they are spooled (still 202) and drain into
// Redis when it is back, each delivered once.
#include "common/suite.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QDir>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

using namespace sluice;
using namespace sluice::test;
using std::chrono::milliseconds;

namespace {

RedisServer::Options persistent()
{
    RedisServer::Options options;
    options.appendOnly = true;
    return options;
}

/// The serve's own view of Redis, from /healthz: 1 connected, 0 not, -1 no answer.
int redisConnected(ServeProcess &serve)
{
    const nlohmann::json health = serve.health().parsed();
    if (!health.is_object() || !health.contains("redis"))
        return -1;
    return health["redis"].value("connected", false) ? 1 : 0;
}

/// Requests waiting in the serve's spool, from /healthz; -1 when there is no answer.
int spoolDepth(ServeProcess &serve)
{
    const nlohmann::json health = serve.health().parsed();
    if (!health.is_object() || !health.contains("spool"))
        return -1;
    return health["spool"].value("depth", -1);
}

} // namespace

class TestResilience : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void redisRestartedMidDelivery()
    {
        SandboxOptions limits;
        limits.perSecond = 20;
        limits.perMinute = 1200;
        SandboxServer sandbox(limits);
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Restart Run")));
        RedisServer redis(persistent());
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url(),
                                      { QStringLiteral("--single"), QStringLiteral("--burst-rate"),
                                        QStringLiteral("20/s"), QStringLiteral("--rate"),
                                        QStringLiteral("1200/min"), QStringLiteral("--claim-idle"),
                                        QStringLiteral("2s") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        const int n = 80;
        QVERIFY(seedCloseLeads(sandbox, 100, n));
        const auto results = fireWebhooks(
            serve.addLeadUrl(), webhookRequests(100, n, QStringLiteral("Restart Run")), 20);
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(), qPrintable(refused.mid(0, 10).join(QLatin1Char('\n'))));

        // Restart Redis while leads are going out (16/s, one request each).
        QTRY_VERIFY_WITH_TIMEOUT(sandbox.store().leadCount() >= 15, 30'000);
        redis.stop();
        QVERIFY2(sandbox.store().leadCount() < n,
                 "delivery finished before Redis stopped; the test proves nothing");
        QTRY_COMPARE_WITH_TIMEOUT(redisConnected(serve), 0, 10'000);
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(redisConnected(serve), 1, 20'000);

        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 90'000);
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(100, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));

        // Every task survived the restart and finished; a lead whose outcome could not be
        // recorded while Redis was away was sent again and skipped by Instantly, never added.
        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QCOMPARE(totals.tasks, n);
        QCOMPARE(totals.processed, qint64(n));
        QVERIFY2(totals.succeeded + totals.skipped == n && totals.failed == 0 && totals.dead == 0,
                 qPrintable(totals.describe()));
        QCOMPARE(totals.done, n);
        QCOMPARE(probe.deliveredCount(), qint64(n));
        QCOMPARE(sandboxAnswers(sandbox, 429), 0);
        QVERIFY2(sandbox.worstWindow(milliseconds { 1000 }) <= 20,
                 qPrintable(QString::number(sandbox.worstWindow(milliseconds { 1000 }))));
        // A lead re-sent because its outcome was lost with Redis is answered with the existing
        // lead. It counts as skipped only when that lead is older than the dispatcher's skip
        // detection margin (5 s), so there may be fewer skips than re-sends, never more.
        const int resent = sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")) - n;
        QVERIFY2(totals.skipped <= resent,
                 qPrintable(QStringLiteral("%1 re-sent; ").arg(resent) + totals.describe()));
        qInfo("Redis restart: %d lead(s) re-sent, %lld counted as skipped", resent, totals.skipped);
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
    }

    void redisDownDuringIntakeSpoolsThenDrains()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Spool Run")));
        RedisServer redis(persistent());
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url()));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        redis.kill();
        QTRY_COMPARE_WITH_TIMEOUT(redisConnected(serve), 0, 10'000);

        const int n = 50;
        QVERIFY(seedCloseLeads(sandbox, 300, n));
        const auto results = fireWebhooks(serve.addLeadUrl(),
                                          webhookRequests(300, n, QStringLiteral("Spool Run")), 10);
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(), qPrintable(refused.mid(0, 10).join(QLatin1Char('\n'))));
        for (const FireResult &r : results)
            QVERIFY2(r.body.contains("\"spooled\":true"), r.body.constData());
        // Close delivering one of them again meanwhile: recognised although only spooled.
        const HttpReply again = serve.post(QStringLiteral("/instantly/add_lead"),
                                           closeWebhook(300, QStringLiteral("Spool Run")));
        QVERIFY2(again.status == 200 && again.body.contains("\"duplicate\":true"),
                 qPrintable(again.describe()));
        QCOMPARE(spoolDepth(serve), n);
        QVERIFY2(QFileInfo(serve.spoolPath()).size() > 0, qPrintable(serve.spoolPath()));
        QCOMPARE(sandbox.store().leadCount(), 0);

        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(spoolDepth(serve), 0, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 60'000);
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(300, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QCOMPARE(totals.tasks, n);
        QCOMPARE(totals.succeeded, qint64(n));
        QCOMPARE(totals.skipped, qint64(0));
        QCOMPARE(totals.done, n);
        QCOMPARE(sandboxAnswers(sandbox, 429), 0);
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
    }
    /// Two serves on one data directory with Redis down: each spools to its own file. One is
    /// killed before Redis returns; the other drains its own spool and adopts the dead one's.
    void twoServesOnOneDataDirectorySpoolApartAndAllDrains()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Shared Dir")));
        RedisServer redis(persistent());
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        ServeSetup setup(sandbox.baseUrl(), redis.url());
        setup.dataDir = dir.filePath(QStringLiteral("data"));
        ServeProcess a(setup);
        ServeProcess b(setup);
        QVERIFY2(a.start(), qPrintable(a.error()));
        QVERIFY2(b.start(), qPrintable(b.error()));

        redis.kill();
        QTRY_COMPARE_WITH_TIMEOUT(redisConnected(a), 0, 10'000);
        QTRY_COMPARE_WITH_TIMEOUT(redisConnected(b), 0, 10'000);
        const int n = 20;
        QVERIFY(seedCloseLeads(sandbox, 500, 2 * n));
        for (ServeProcess *serve : { &a, &b }) {
            const int first = serve == &a ? 500 : 500 + n;
            const auto results = fireWebhooks(
                serve->addLeadUrl(), webhookRequests(first, n, QStringLiteral("Shared Dir")), 5);
            const QStringList refused = unacceptedAnswers(results);
            QVERIFY2(refused.isEmpty(), qPrintable(refused.mid(0, 5).join(QLatin1Char('\n'))));
            QCOMPARE(spoolDepth(*serve), n);
        }
        const QDir data(setup.dataDir);
        const auto spools = [&] {
            return data.entryList({ QStringLiteral("intake-spool-*.jsonl") }, QDir::Files);
        };
        QCOMPARE(spools().size(), 2); // one each, never one file written by two

        b.kill(); // gone with its spool full
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(spoolDepth(a), 0, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), 2 * n, 60'000);
        QCOMPARE(spools().size(), 1); // b's adopted, drained and removed
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(500, 2 * n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QVERIFY2(a.terminate(), qPrintable(a.exitSummary()));
    }

    /// Redis killed while webhooks pour in: requests whose write may or may not have reached
    /// Redis are spooled, replayed after the restart, and the replay of one that did reach it
    /// is refused by its event id. Every webhook is acknowledged, every lead delivered once.
    void redisKilledWhileWebhooksArrive()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Crash Intake")));
        RedisServer redis(persistent());
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        // Leads read before the kill whose outcome could not be recorded are reclaimed after
        // --claim-idle (default 60 s): shortened to keep the test quick.
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url(),
                                      { QStringLiteral("--claim-idle"), QStringLiteral("2s") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        const int n = 1500;
        QVERIFY(seedCloseLeads(sandbox, 4000, n));
        FireOptions options;
        options.target = serve.addLeadUrl();
        options.concurrency = 50;
        WebhookFirer firer(options, webhookRequests(4000, n, QStringLiteral("Crash Intake")));
        firer.start();
        QTRY_VERIFY_WITH_TIMEOUT(firer.completed() >= n / 5, 30'000);
        const int answeredBeforeKill = firer.completed();
        redis.kill();
        QVERIFY2(firer.completed() < n, "every webhook was answered before the kill");
        QTRY_VERIFY_WITH_TIMEOUT(firer.isFinished(), 60'000);
        const QStringList refused = unacceptedAnswers(firer.results());
        QVERIFY2(refused.isEmpty(), qPrintable(refused.mid(0, 10).join(QLatin1Char('\n'))));
        int spooled = 0;
        for (const FireResult &r : firer.results())
            spooled += r.body.contains("\"spooled\":true") ? 1 : 0;
        QVERIFY2(spooled > 0, "nothing was spooled; Redis died too late to matter");

        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(spoolDepth(serve), 0, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 60'000);
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(4000, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QCOMPARE(totals.tasks, n);
        QVERIFY2(totals.processed == n && totals.succeeded + totals.skipped == n
                     && totals.failed == 0 && totals.dead == 0,
                 qPrintable(totals.describe()));
        QCOMPARE(probe.deliveredCount(), qint64(n));
        QByteArray replayDuplicates = "?";
        for (const QByteArray &line : serve.get(QStringLiteral("/metrics")).body.split('\n'))
            if (line.startsWith("sluice_intake_spool_replay_duplicates_total "))
                replayDuplicates = line.mid(line.indexOf(' ') + 1);
        qInfo("Redis killed after %d of %d webhooks were answered: %d spooled, %s of them "
              "already in Redis when replayed",
              answeredBeforeKill, n, spooled, replayDuplicates.constData());
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
    }
};

SLUICE_TEST_GUILESS_MAIN(TestResilience)
#include "tst_resilience.moc"
