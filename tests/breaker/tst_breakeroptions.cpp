// BreakerOptions: the documented defaults, validation with messages that say what is wrong,
// and the one-line description for logs and the console.
#include "breaker/breakeroptions.h"
#include "common/suite.h"

#include "breakerspec.h"

#include <QTest>

#include <limits>

using namespace sluice;
using std::chrono::milliseconds;

class TestBreakerOptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultsAreTheDocumentedOnes()
    {
        const BreakerOptions options;
        QCOMPARE(options.windowType, BreakerWindowType::CountBased);
        QCOMPARE(options.windowCalls, 20);
        QCOMPARE(options.windowDuration, std::chrono::seconds { 60 });
        QCOMPARE(options.minimumCalls, 10);
        QCOMPARE(options.failureRateThresholdPercent, 50.0);
        QCOMPARE(options.slowCallRateThresholdPercent, 80.0);
        QCOMPARE(options.slowCallDuration, milliseconds { 10'000 });
        QCOMPARE(options.openWaitBase, milliseconds { 5000 });
        QCOMPARE(options.openWaitMultiplier, 1.5);
        QCOMPARE(options.openWaitCap, milliseconds { 300'000 });
        QCOMPARE(options.openWaitJitter, 0.2);
        QCOMPARE(options.halfOpenTrialCalls, 3);
        QCOMPARE(options.halfOpenTrialTimeout, milliseconds { 60'000 });
        QCOMPARE(options.problem(), std::nullopt);
    }

    void problem_data()
    {
        QTest::addColumn<QByteArray>("spec");
        QTest::addColumn<QString>("expected"); ///< a part of the message; empty: valid

        QTest::newRow("defaults") << QByteArray() << QString();
        QTest::newRow("count window of 1, judged from 1")
            << QByteArray("count:1 min:1") << QString();
        QTest::newRow("count window at its bound") << QByteArray("count:10000") << QString();
        QTest::newRow("time window, minimum above its seconds is fine")
            << QByteArray("time:10s min:500") << QString();
        QTest::newRow("time window at its bound") << QByteArray("time:3600s") << QString();
        QTest::newRow("thresholds at 100%") << QByteArray("fail:100 slow:100") << QString();
        QTest::newRow("no growth, no jitter")
            << QByteArray("mult:1 jitter:0 base:5s cap:5s") << QString();
        QTest::newRow("one trial") << QByteArray("trials:1") << QString();

        QTest::newRow("count window empty")
            << QByteArray("count:0 min:1")
            << QStringLiteral("count window must hold 1 to 10000 calls (got 0)");
        QTest::newRow("count window too big")
            << QByteArray("count:10001")
            << QStringLiteral("count window must hold 1 to 10000 calls");
        QTest::newRow("minimum above the count window")
            << QByteArray("count:20 min:21")
            << QStringLiteral(
                   "minimum number of calls (21) must not exceed the count window (20 calls)");
        QTest::newRow("minimum zero")
            << QByteArray("min:0")
            << QStringLiteral("minimum number of calls must be at least 1 (got 0)");
        QTest::newRow("minimum zero, time window")
            << QByteArray("time:60s min:0")
            << QStringLiteral("minimum number of calls must be at least 1");
        QTest::newRow("time window zero")
            << QByteArray("time:0s")
            << QStringLiteral("time window must last 1 to 3600 s (got 0 s)");
        QTest::newRow("time window too long")
            << QByteArray("time:3601s")
            << QStringLiteral("time window must last 1 to 3600 s (got 3601 s)");
        QTest::newRow("failure threshold 0")
            << QByteArray("fail:0")
            << QStringLiteral("failure rate threshold must be above 0% and at most 100% (got 0)");
        QTest::newRow("failure threshold over 100")
            << QByteArray("fail:100.5")
            << QStringLiteral("failure rate threshold must be above 0%");
        QTest::newRow("failure threshold not a number")
            << QByteArray("fail:nan") << QStringLiteral("failure rate threshold must be above 0%");
        QTest::newRow("slow threshold negative")
            << QByteArray("slow:-1")
            << QStringLiteral(
                   "slow-call rate threshold must be above 0% and at most 100% (got -1)");
        QTest::newRow("slow-call duration zero")
            << QByteArray("slowcall:0ms")
            << QStringLiteral("slow-call duration must be above 0 ms");
        QTest::newRow("open wait zero")
            << QByteArray("base:0ms") << QStringLiteral("open wait must be above 0 ms");
        QTest::newRow("cap below the wait")
            << QByteArray("base:10s cap:5s")
            << QStringLiteral("open wait cap (5 s) must not be below the open wait (10 s)");
        QTest::newRow("multiplier below 1")
            << QByteArray("mult:0.5")
            << QStringLiteral("open wait multiplier must be at least 1 (got 0.5)");
        QTest::newRow("multiplier infinite")
            << QByteArray("mult:inf") << QStringLiteral("open wait multiplier must be at least 1");
        QTest::newRow("jitter 1") << QByteArray("jitter:1")
                                  << QStringLiteral(
                                         "open wait jitter must be at least 0 and below 1 (got 1)");
        QTest::newRow("jitter negative")
            << QByteArray("jitter:-0.1")
            << QStringLiteral("open wait jitter must be at least 0 and below 1");
        QTest::newRow("no trials")
            << QByteArray("trials:0")
            << QStringLiteral("trial calls in half-open must be 1 to 1000 (got 0)");
        QTest::newRow("too many trials")
            << QByteArray("trials:1001")
            << QStringLiteral("trial calls in half-open must be 1 to 1000");
        QTest::newRow("trial timeout zero")
            << QByteArray("trialtimeout:0ms")
            << QStringLiteral("half-open trial timeout must be above 0 ms");
    }
    void problem()
    {
        QFETCH(QByteArray, spec);
        QFETCH(QString, expected);
        const auto options = test::parseBreakerOptions(spec);
        QVERIFY2(options.ok(), qPrintable(options.ok() ? QString() : options.error()));
        const std::optional<QString> problem = options->problem();
        if (expected.isEmpty()) {
            QCOMPARE(problem, std::nullopt);
            return;
        }
        QVERIFY(problem.has_value());
        QVERIFY2(problem->contains(expected), qPrintable(*problem));
    }

    void describe()
    {
        QCOMPARE(BreakerOptions {}.describe(),
                 QStringLiteral("last 20 calls (judged from 10), failure >= 50%, slow >= 80% at "
                                "10 s, open 5 s ×1.5 up to 300 s ±20%, 3 trial calls"));
        const auto timed
            = test::parseBreakerOptions("time:30s min:5 fail:62.5 slowcall:1500ms "
                                        "base:250ms mult:1.5 cap:2m jitter:0 trials:1");
        QVERIFY(timed.ok());
        QCOMPARE(
            timed->describe(),
            QStringLiteral("calls of the last 30 s (judged from 5), failure >= 62.5%, slow "
                           ">= 80% at 1.5 s, open 250 ms ×1.5 up to 120 s ±0%, 1 trial calls"));
    }

    void formatDuration_data()
    {
        QTest::addColumn<qint64>("ms");
        QTest::addColumn<QString>("expected");
        QTest::newRow("zero") << qint64(0) << QStringLiteral("0 ms");
        QTest::newRow("under a second") << qint64(999) << QStringLiteral("999 ms");
        QTest::newRow("whole seconds") << qint64(5000) << QStringLiteral("5 s");
        QTest::newRow("minutes stay seconds") << qint64(300'000) << QStringLiteral("300 s");
        QTest::newRow("fraction") << qint64(1500) << QStringLiteral("1.5 s");
        QTest::newRow("milliseconds kept") << qint64(4321) << QStringLiteral("4.321 s");
        QTest::newRow("negative") << qint64(-2000) << QStringLiteral("-2 s");
    }
    void formatDuration()
    {
        QFETCH(qint64, ms);
        QFETCH(QString, expected);
        QCOMPARE(formatBreakerDuration(milliseconds { ms }), expected);
    }
};

SLUICE_TEST_APPLESS_MAIN(TestBreakerOptions)
#include "tst_breakeroptions.moc"
