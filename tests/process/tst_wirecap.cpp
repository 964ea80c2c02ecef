// The cap holds at the wire: `sluice serve --single` against an Instantly that answers slowly
// (1.5 s) and then at once. Requests must leave when the limiter grants them, never pile up
// behind Qt's six connections per host and go out together when the upstream speeds up
// (which once made the sandbox serve 75 429s for 300 leads).
#include "common/suite.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QTest>

using namespace sluice;
using namespace sluice::test;
using std::chrono::milliseconds;

class TestWireCap : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void aSlowThenFastUpstreamGetsNo429s()
    {
        SandboxOptions options; // this team's plan: 10/s, 600/min
        options.faults.latency = milliseconds { 1500 };
        SandboxServer sandbox(options);
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Wire Cap")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        ServeProcess serve(
            ServeSetup(sandbox.baseUrl(), redis.url(), { QStringLiteral("--single") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        const int n = 80;
        QVERIFY(seedCloseLeads(sandbox, 3000, n));
        const auto results = fireWebhooks(serve.addLeadUrl(),
                                          webhookRequests(3000, n, QStringLiteral("Wire Cap")), 20);
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(), qPrintable(refused.mid(0, 10).join(QLatin1Char('\n'))));

        // Slow for a while: slots are granted at the paced rate, but a request may take one
        // only when a connection is free.
        // Twelve requests take about 4.5 s at 4 on the wire; meanwhile the limiter would have
        // granted over 30 slots.
        QTRY_VERIFY_WITH_TIMEOUT(sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")) >= 12,
                                 30'000);
        QVERIFY2(sandbox.store().leadCount() < n, "delivered in the slow phase; proves nothing");
        sandbox.setFaults({}); // and now at once

        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 60'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(3000, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        QCOMPARE(sandboxAnswers(sandbox, 429), 0);
        QVERIFY2(sandbox.worstWindow(milliseconds { 1000 }) <= 10,
                 qPrintable(QString::number(sandbox.worstWindow(milliseconds { 1000 }))));
        qInfo("wire cap: %d lead requests, worst 1 s window %d (cap 10), 429s %d",
              sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")),
              sandbox.worstWindow(milliseconds { 1000 }), sandboxAnswers(sandbox, 429));
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
    }
};

SLUICE_TEST_GUILESS_MAIN(TestWireCap)
#include "tst_wirecap.moc"
