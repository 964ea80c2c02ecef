// The whole pipeline under load, as processes: Close webhooks posted by many concurrent
// clients to `sluice serve` (one, or three sharing a Redis) end up in the sandbox's Instantly
// exactly once, and the sandbox's own log shows the workspace caps were never exceeded.
#include "common/suite.h"
#include "limiter/sendaudit.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QElapsedTimer>
#include <QTest>

using namespace sluice;
using namespace sluice::test;
using std::chrono::milliseconds;

namespace {

QString latencyText(const std::vector<FireResult> &results)
{
    const LatencySummary s = summarizeLatency(results);
    return QStringLiteral("ack latency p50 %1 ms, p99 %2 ms, max %3 ms")
        .arg(double(s.p50) / 1000, 0, 'f', 1)
        .arg(double(s.p99) / 1000, 0, 'f', 1)
        .arg(double(s.max) / 1000, 0, 'f', 1);
}

/// "within caps" or what the sandbox saw beyond them.
QString capsProblem(const SandboxServer &sandbox, int perSecond, int perMinute)
{
    QStringList problems;
    const int limited = sandboxAnswers(sandbox, 429);
    if (limited != 0)
        problems.append(QStringLiteral("the sandbox served %1 429(s)").arg(limited));
    const int worst1s = sandbox.worstWindow(milliseconds { 1000 });
    if (worst1s > perSecond)
        problems.append(
            QStringLiteral("%1 requests in one second (cap %2)").arg(worst1s).arg(perSecond));
    const int worst60s = sandbox.worstWindow(milliseconds { 60'000 });
    if (worst60s > perMinute)
        problems.append(
            QStringLiteral("%1 requests in one minute (cap %2)").arg(worst60s).arg(perMinute));
    return problems.join(QStringLiteral("; "));
}

} // namespace

class TestPipeline : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    /// Bulk mode, the default: 2000 webhooks from 50 connections, delivered in a few
    /// coalesced POST /api/v2/leads/add requests within the default 10/s and 600/min.
    void bulkDeliversTwoThousandWebhooksExactlyOnce()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Bulk Run")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url()));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        const int n = 2000;
        QVERIFY(seedCloseLeads(sandbox, 0, n));
        QElapsedTimer clock;
        clock.start();
        const auto results = fireWebhooks(serve.addLeadUrl(),
                                          webhookRequests(0, n, QStringLiteral("Bulk Run")), 50);
        const qint64 ackedMs = clock.elapsed();
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(),
                 qPrintable(QStringLiteral("%1 not accepted:\n").arg(refused.size())
                            + refused.mid(0, 10).join(QLatin1Char('\n'))));

        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 60'000);
        const qint64 deliveredMs = clock.elapsed();
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(0, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const QString caps = capsProblem(sandbox, 10, 600);
        QVERIFY2(caps.isEmpty(), qPrintable(caps));

        // Every lead counted once as succeeded: a second send would show as "skipped".
        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QCOMPARE(totals.tasks, n);
        QCOMPARE(totals.succeeded, qint64(n));
        QCOMPARE(totals.skipped, qint64(0));
        QCOMPARE(totals.processed, qint64(n));
        QCOMPARE(totals.done, n);
        QCOMPARE(probe.deliveredCount(), qint64(n));
        QCOMPARE(probe.deadLetterCount(), qint64(0));

        // Bulk really coalesced: no single-lead calls, and far fewer requests than leads.
        const int bulkRequests = sandboxRequests(sandbox, QStringLiteral("/api/v2/leads/add"));
        QCOMPARE(sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")), 0);
        QVERIFY2(
            bulkRequests >= 2 && bulkRequests <= 100,
            qPrintable(QStringLiteral("%1 bulk requests for %2 leads").arg(bulkRequests).arg(n)));
        qInfo("bulk: %d webhooks acknowledged in %lld ms (%s), all in the sandbox after %lld ms "
              "in %d bulk requests",
              n, ackedMs, qPrintable(latencyText(results)), deliveredMs, bulkRequests);
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
    }

    /// --single: one POST /api/v2/leads per lead, exactly one request per lead when nothing
    /// fails. Limits raised on both sides (40/s, 2400/min) to keep the suite quick.
    void singleDeliversTwoHundredWebhooksExactlyOnce()
    {
        SandboxOptions limits;
        limits.perSecond = 40;
        limits.perMinute = 2400;
        SandboxServer sandbox(limits);
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Single Run")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url(),
                                      { QStringLiteral("--single"), QStringLiteral("--burst-rate"),
                                        QStringLiteral("40/s"), QStringLiteral("--rate"),
                                        QStringLiteral("2400/min") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        const int n = 200;
        QVERIFY(seedCloseLeads(sandbox, 5000, n));
        QElapsedTimer clock;
        clock.start();
        const auto results = fireWebhooks(
            serve.addLeadUrl(), webhookRequests(5000, n, QStringLiteral("Single Run")), 50);
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(),
                 qPrintable(QStringLiteral("%1 not accepted:\n").arg(refused.size())
                            + refused.mid(0, 10).join(QLatin1Char('\n'))));

        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 60'000);
        const qint64 deliveredMs = clock.elapsed();
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(5000, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const QString caps = capsProblem(sandbox, 40, 2400);
        QVERIFY2(caps.isEmpty(), qPrintable(caps));
        QCOMPARE(sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")), n);
        QCOMPARE(sandboxRequests(sandbox, QStringLiteral("/api/v2/leads/add")), 0);

        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QCOMPARE(totals.succeeded, qint64(n));
        QCOMPARE(totals.skipped, qint64(0));
        QCOMPARE(totals.done, n);
        QCOMPARE(probe.deliveredCount(), qint64(n));
        qInfo("single: %d leads in the sandbox after %lld ms (%s), worst 1 s window %d", n,
              deliveredMs, qPrintable(latencyText(results)),
              sandbox.worstWindow(milliseconds { 1000 }));
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
    }

    /// Three serves on one Redis, webhooks spread across them: one shared limiter keeps their
    /// combined sends under the workspace caps, and the consumer group hands each lead to one.
    /// Two serves with the shortest --claim-idle allowed and an upstream slower than it: a
    /// lead held by one (its request on the wire) is never sent by the other as well.
    void twoWorkersWithAShortClaimIdleSendEachLeadOnce()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Slow Run")));
        FaultOptions slow;
        slow.latency = std::chrono::milliseconds { 2'000 };
        sandbox.setFaults(slow);
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QStringList flags { QStringLiteral("--single"), QStringLiteral("--claim-idle"),
                                  QStringLiteral("1500ms") };
        ServeProcess a(ServeSetup(sandbox.baseUrl(), redis.url(), flags));
        ServeProcess b(ServeSetup(sandbox.baseUrl(), redis.url(), flags));
        QVERIFY2(a.start(), qPrintable(a.error()));
        QVERIFY2(b.start(), qPrintable(b.error()));

        const int n = 40;
        QVERIFY(seedCloseLeads(sandbox, 7000, n));
        const auto results = fireWebhooks(QList<QUrl> { a.addLeadUrl(), b.addLeadUrl() },
                                          webhookRequests(7000, n, QStringLiteral("Slow Run")), 8);
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(), qPrintable(refused.mid(0, 10).join(QLatin1Char('\n'))));
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 90'000);
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(7000, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")), n); // one create each
        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QCOMPARE(totals.succeeded, qint64(n));
        QVERIFY2(a.terminate(), qPrintable(a.exitSummary()));
        QVERIFY2(b.terminate(), qPrintable(b.exitSummary()));
    }

    void threeInstancesShareTheLimitAndDeliverOnce()
    {
        SandboxOptions limits;
        limits.perSecond = 30;
        limits.perMinute = 1800;
        SandboxServer sandbox(limits);
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Shared Run")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QStringList flags { QStringLiteral("--single"), QStringLiteral("--burst-rate"),
                                  QStringLiteral("30/s"),     QStringLiteral("--rate"),
                                  QStringLiteral("1800/min"), QStringLiteral("--instances-hint"),
                                  QStringLiteral("3") };
        std::vector<std::unique_ptr<ServeProcess>> serves;
        QList<QUrl> targets;
        for (int i = 0; i < 3; ++i) {
            serves.push_back(
                std::make_unique<ServeProcess>(ServeSetup(sandbox.baseUrl(), redis.url(), flags)));
            QVERIFY2(serves.back()->start(), qPrintable(serves.back()->error()));
            targets.append(serves.back()->addLeadUrl());
        }

        const int n = 240;
        QVERIFY(seedCloseLeads(sandbox, 9000, n));
        const auto results
            = fireWebhooks(targets, webhookRequests(9000, n, QStringLiteral("Shared Run")), 16);
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(),
                 qPrintable(QStringLiteral("%1 not accepted:\n").arg(refused.size())
                            + refused.mid(0, 10).join(QLatin1Char('\n'))));

        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 60'000);
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(9000, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const QString caps = capsProblem(sandbox, 30, 1800);
        QVERIFY2(caps.isEmpty(), qPrintable(caps));
        QCOMPARE(sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")), n);
        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QCOMPARE(totals.succeeded, qint64(n));
        QCOMPARE(totals.skipped, qint64(0));

        // The combined send log (every instance's audit) says the same, and shows that the
        // instances really shared the work, so the limit was shared, not just one sender's.
        SendAudit audit(&probe.client(), probe.keys().audit(), QStringLiteral("test"));
        std::optional<Result<AuditSummary, RedisError>> summary;
        audit.summarize(0, QDateTime::currentMSecsSinceEpoch() + 60'000,
                        [&](Result<AuditSummary, RedisError> r) { summary.emplace(std::move(r)); });
        QTRY_VERIFY_WITH_TIMEOUT(summary.has_value(), 10'000);
        QVERIFY2(summary->ok(), summary->ok() ? "" : qPrintable(summary->error().describe()));
        const AuditSummary &s = summary->value();
        QCOMPARE(s.rateLimited, 0);
        QVERIFY2(s.worst1s <= 30, qPrintable(QString::number(s.worst1s)));
        QVERIFY2(s.requests >= n, qPrintable(QString::number(s.requests)));
        QStringList shares;
        for (auto it = s.byInstance.cbegin(); it != s.byInstance.cend(); ++it)
            shares.append(QStringLiteral("%1: %2").arg(it.key()).arg(it.value()));
        QVERIFY2(s.byInstance.size() == 3, qPrintable(shares.join(QStringLiteral(", "))));
        qInfo("three instances: requests by instance %s; sandbox worst 1 s window %d of 30",
              qPrintable(shares.join(QStringLiteral(", "))),
              sandbox.worstWindow(milliseconds { 1000 }));
        for (auto &serve : serves)
            QVERIFY2(serve->terminate(), qPrintable(serve->exitSummary()));
    }
};

SLUICE_TEST_GUILESS_MAIN(TestPipeline)
#include "tst_pipeline.moc"
