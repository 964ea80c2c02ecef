// `sluice serve` against an unreliable Instantly: 10% 500s and requests that hang (longer
// than the serve's request timeout) while delivering, then a 20 s outage of 503s. The shared
// breaker opens and closes again, and once the faults stop every lead is in Instantly once.
#include "common/suite.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QTest>

using namespace sluice;
using namespace sluice::test;
using std::chrono::milliseconds;

namespace {

/// Requests the sandbox admitted and holds without an answer (hanging).
int hanging(const SandboxServer &sandbox)
{
    int n = 0;
    for (const SandboxLogEntry &e : sandbox.requestLog())
        n += e.admitted && e.status == 0 ? 1 : 0;
    return n;
}

/// True once the sandbox received an Instantly request at or after `at` (its clock).
bool requestSince(const SandboxServer &sandbox, milliseconds at)
{
    const auto &log = sandbox.requestLog();
    return !log.empty() && log.back().arrivedAt >= at && log.back().path.startsWith(u"/api/v2/");
}

} // namespace

class TestFaults : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void deliversOnceAfterErrorsHangsAndAnOutage()
    {
        SteadyClock clock; // the sandbox's, so the test knows when the outage ends
        SandboxOptions options;
        options.perSecond = 20;
        options.perMinute = 1200;
        options.faults.errorRate = 0.10;
        options.faults.hangRate = 0.05;
        options.faults.hangDuration = milliseconds { 120'000 }; // outlasts --request-timeout
        SandboxServer sandbox(options, &clock);
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Fault Run")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        // Single mode: a request per lead gives the breaker enough calls to judge (a few bulk
        // requests never reach its minimum of 10 calls). The serve gives up on a hung request
        // after 3 s instead of the default 30 s.
        const QStringList flags { QStringLiteral("--single"), QStringLiteral("--burst-rate"),
                                  QStringLiteral("20/s"),     QStringLiteral("--rate"),
                                  QStringLiteral("1200/min"), QStringLiteral("--request-timeout"),
                                  QStringLiteral("3s") };
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url(), flags));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        const int n = 100;
        QVERIFY(seedCloseLeads(sandbox, 2000, n));
        const auto results = fireWebhooks(
            serve.addLeadUrl(), webhookRequests(2000, n, QStringLiteral("Fault Run")), 20);
        const QStringList refused = unacceptedAnswers(results);
        QVERIFY2(refused.isEmpty(), qPrintable(refused.mid(0, 10).join(QLatin1Char('\n'))));

        // Phase 1: delivering through 500s and hangs.
        QTRY_VERIFY_WITH_TIMEOUT(sandbox.store().leadCount() >= 20
                                     && sandboxAnswers(sandbox, 500) >= 1 && hanging(sandbox) >= 1,
                                 30'000);
        QVERIFY2(sandbox.store().leadCount() < n, "delivered before the outage; proves nothing");
        const int hung = hanging(sandbox);

        // Phase 2: a 20 s outage. While it lasts every request is a 503 whatever the dice say,
        // so the other faults stop now: after the outage, Instantly is healthy again.
        const milliseconds outageEnd = clock.now() + milliseconds { 20'000 };
        sandbox.addOutage(milliseconds { 0 }, milliseconds { 20'000 });
        sandbox.setFaults({});
        RedisProbe probe(redis.url());
        QTRY_VERIFY_WITH_TIMEOUT(probe.breakerTransitions().contains(u"closed>open"), 20'000);
        QVERIFY2(sandbox.store().leadCount() < n, "delivered during the outage?");

        // Phase 3: after the outage the breaker lets trial calls through and closes.
        QTRY_VERIFY_WITH_TIMEOUT(requestSince(sandbox, outageEnd), 60'000);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 90'000);
        QTRY_VERIFY_WITH_TIMEOUT(probe.queueEmpty(), 30'000);
        const QString problem = exactlyOnceProblem(sandbox, webhookEmails(2000, n));
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const TaskTotals totals = probe.taskTotals();
        QVERIFY2(totals.error.isEmpty(), qPrintable(totals.error));
        QVERIFY2(totals.processed == n && totals.succeeded + totals.skipped == n
                     && totals.failed == 0 && totals.dead == 0 && totals.done == n,
                 qPrintable(totals.describe()));
        QCOMPARE(probe.deadLetterCount(), qint64(0));
        QCOMPARE(probe.deliveredCount(), qint64(n));

        // The breaker opened during the outage and closed again after it, in that order; the
        // serve logged both.
        QTRY_VERIFY_WITH_TIMEOUT(probe.breakerTransitions().contains(u"half_open>closed"), 10'000);
        const QStringList transitions = probe.breakerTransitions();
        QVERIFY2(transitions.indexOf(u"closed>open") < transitions.lastIndexOf(u"half_open>closed"),
                 qPrintable(transitions.join(QStringLiteral(", "))));
        QVERIFY2(transitions.last() == u"half_open>closed",
                 qPrintable(transitions.join(QStringLiteral(", "))));
        QVERIFY2(serve.log().contains(u"closed -> open") && serve.log().contains(u"-> closed"),
                 qPrintable(serve.exitSummary(3000)));
        // The hung requests were cut off by the serve's own timeout, not answered.
        QVERIFY2(serve.log().contains(u"no answer within 3000 ms"),
                 qPrintable(serve.exitSummary(3000)));

        QCOMPARE(sandboxAnswers(sandbox, 429), 0);
        QVERIFY2(sandbox.worstWindow(milliseconds { 1000 }) <= 20,
                 qPrintable(QString::number(sandbox.worstWindow(milliseconds { 1000 }))));
        qInfo("faults: %d 500s, %d hung requests, %d 503s; breaker: %s; %d lead requests for %d "
              "leads",
              sandboxAnswers(sandbox, 500), hung, sandboxAnswers(sandbox, 503),
              qPrintable(transitions.join(QStringLiteral(", "))),
              sandboxRequests(sandbox, QStringLiteral("/api/v2/leads")), n);
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
    }
};

SLUICE_TEST_GUILESS_MAIN(TestFaults)
#include "tst_faults.moc"
