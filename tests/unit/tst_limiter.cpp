// The limiter's arithmetic on a stepped clock: rate parsing, GCRA pacing under every cap
// (checked against what was admitted, window by window), full use of the safe rate, the 429
// penalty window and the AIMD slow-down.
#include "common/suite.h"
#include "core/windowstats.h"
#include "limiter/gcra.h"

#include <QRandomGenerator>
#include <QTest>

using namespace sluice;
using std::chrono::milliseconds;

class TestLimiter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseRates_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<int>("limit");
        QTest::addColumn<int>("windowMs");
        QTest::addColumn<QString>("canonical");
        QTest::newRow("per minute")
            << QStringLiteral("600/min") << 600 << 60'000 << QStringLiteral("600/min");
        QTest::newRow("per second")
            << QStringLiteral("10/s") << 10 << 1000 << QStringLiteral("10/s");
        QTest::newRow("sec") << QStringLiteral("100/sec") << 100 << 1000 << QStringLiteral("100/s");
        QTest::newRow("minute, spaces, case")
            << QStringLiteral(" 6000 / Minute ") << 6000 << 60'000 << QStringLiteral("6000/min");
        QTest::newRow("hour") << QStringLiteral("36000/h") << 36000 << 3'600'000
                              << QStringLiteral("36000/h");
        QTest::newRow("milliseconds")
            << QStringLiteral("5/250ms") << 5 << 250 << QStringLiteral("5/250ms");
        QTest::newRow("multiple seconds")
            << QStringLiteral("100/2s") << 100 << 2000 << QStringLiteral("100/2s");
    }
    void parseRates()
    {
        QFETCH(QString, text);
        QFETCH(int, limit);
        QFETCH(int, windowMs);
        QFETCH(QString, canonical);
        const auto rule = parseRateRule(text);
        QVERIFY2(rule.ok(), qPrintable(rule.ok() ? QString() : rule.error()));
        QCOMPARE(rule->limit, limit);
        QCOMPARE(rule->window.count(), windowMs);
        QCOMPARE(rule->toString(), canonical);
    }

    void capWithinTakesTheTightestRule()
    {
        using std::chrono::milliseconds;
        const std::vector<RateRule> team { { 600, milliseconds { 60'000 } },
                                           { 10, milliseconds { 1000 } } };
        QCOMPARE(capWithin(team, milliseconds { 1000 }), 10);
        QCOMPARE(capWithin(team, milliseconds { 60'000 }), 600);
        QCOMPARE(capWithin(team, milliseconds { 1500 }), 20); // two 1 s windows may touch it
        const std::vector<RateRule> perSecondOnly { { 100, milliseconds { 1000 } } };
        QCOMPARE(capWithin(perSecondOnly, milliseconds { 60'000 }), 6000);
        QCOMPARE(capWithin({}, milliseconds { 1000 }), 0);
    }

    void badRates_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("empty") << QString() << QStringLiteral("not a rate");
        QTest::newRow("no unit") << QStringLiteral("600") << QStringLiteral("not a rate");
        QTest::newRow("unknown unit")
            << QStringLiteral("10/fortnight") << QStringLiteral("not a rate");
        QTest::newRow("zero") << QStringLiteral("0/s") << QStringLiteral("between 1 and");
        QTest::newRow("negative") << QStringLiteral("-5/s") << QStringLiteral("not a rate");
        QTest::newRow("fraction") << QStringLiteral("2.5/s") << QStringLiteral("not a rate");
        QTest::newRow("zero window")
            << QStringLiteral("5/0s") << QStringLiteral("longer than zero");
        QTest::newRow("too long") << QStringLiteral("5/48h") << QStringLiteral("longer than a day");
    }
    void badRates()
    {
        QFETCH(QString, text);
        QFETCH(QString, messagePart);
        const auto rule = parseRateRule(text);
        QVERIFY(!rule.ok());
        QVERIFY2(rule.error().contains(messagePart), qPrintable(rule.error()));
    }

    void pacing_data()
    {
        QTest::addColumn<int>("limit");
        QTest::addColumn<int>("windowMs");
        QTest::addColumn<double>("safety");
        QTest::addColumn<double>("interval");
        QTest::addColumn<double>("tolerance");
        QTest::newRow("10/s at 80%") << 10 << 1000 << 0.8 << 125.0 << 125.0;
        QTest::newRow("10/s at 100%: no slack") << 10 << 1000 << 1.0 << 100.0 << 0.0;
        QTest::newRow("600/min at 80%") << 600 << 60'000 << 0.8 << 125.0 << 125.0;
        QTest::newRow("10/s at 95%") << 10 << 1000 << 0.95 << 1000.0 / 9.5 << 52.0;
    }
    void pacing()
    {
        QFETCH(int, limit);
        QFETCH(int, windowMs);
        QFETCH(double, safety);
        QFETCH(double, interval);
        QFETCH(double, tolerance);
        const auto rules = pacedRules({ { limit, milliseconds { windowMs } } }, safety);
        QCOMPARE(rules.size(), size_t(1));
        QVERIFY(qAbs(rules[0].intervalMs - interval) < 1e-9);
        QCOMPARE(rules[0].toleranceMs, tolerance);
    }

    /// Several callers ask as fast as they are allowed to, each coming back late by a random
    /// few milliseconds. Every window of what was admitted stays within every hard cap, and the
    /// callers together still get at least 95% of the safe rate.
    void capsHoldAndRateIsUsed_data()
    {
        QTest::addColumn<QList<int>>("limits");
        QTest::addColumn<QList<int>>("windowsMs");
        QTest::addColumn<double>("safety");
        QTest::addColumn<int>("callers");
        QTest::addColumn<int>("maxLateMs");
        QTest::newRow("10/s + 600/min at 80%, 4 callers")
            << QList<int> { 10, 600 } << QList<int> { 1000, 60'000 } << 0.8 << 4 << 5;
        QTest::newRow("10/s + 600/min at 100%, 4 callers")
            << QList<int> { 10, 600 } << QList<int> { 1000, 60'000 } << 1.0 << 4 << 5;
        QTest::newRow("100/s + 6000/min at 80%, 8 callers")
            << QList<int> { 100, 6000 } << QList<int> { 1000, 60'000 } << 0.8 << 8 << 3;
        QTest::newRow("minute binds: 10/s + 300/min at 80%")
            << QList<int> { 10, 300 } << QList<int> { 1000, 60'000 } << 0.8 << 4 << 5;
        QTest::newRow("one slow caller")
            << QList<int> { 10, 600 } << QList<int> { 1000, 60'000 } << 0.8 << 1 << 20;
    }
    void capsHoldAndRateIsUsed()
    {
        QFETCH(QList<int>, limits);
        QFETCH(QList<int>, windowsMs);
        QFETCH(double, safety);
        QFETCH(int, callers);
        QFETCH(int, maxLateMs);
        std::vector<RateRule> caps;
        for (qsizetype i = 0; i < limits.size(); ++i)
            caps.push_back({ limits[i], milliseconds { windowsMs[i] } });
        Gcra gcra(pacedRules(caps, safety));
        QRandomGenerator random(42);

        const qint64 start = 1'000'000, duration = 180'000;
        std::vector<qint64> nextTry(size_t(callers), start);
        std::vector<milliseconds> admitted;
        for (;;) {
            const auto it = std::min_element(nextTry.begin(), nextTry.end());
            if (*it >= start + duration)
                break;
            const LimiterDecision d = gcra.acquire(milliseconds { *it });
            if (d.allowed)
                admitted.push_back(milliseconds { *it });
            const qint64 late = random.bounded(maxLateMs + 1);
            *it += (d.allowed ? 0 : d.wait.count()) + late + (d.allowed ? 1 : 0);
        }
        std::sort(admitted.begin(), admitted.end());
        double safeRate = 1e9; // per ms
        for (const RateRule &cap : caps) {
            QVERIFY2(maxInAnyWindow(admitted, cap.window) <= cap.limit,
                     qPrintable(QStringLiteral("%1 in a window of %2")
                                    .arg(maxInAnyWindow(admitted, cap.window))
                                    .arg(cap.toString())));
            safeRate = std::min(safeRate, cap.limit * safety / double(cap.window.count()));
        }
        const double used = double(admitted.size()) / (safeRate * duration);
        QVERIFY2(used >= 0.95, qPrintable(QStringLiteral("used %1 of the safe rate").arg(used)));
        QVERIFY2(used <= 1.0 + 1e-9 + 2.0 / double(admitted.size()),
                 qPrintable(QStringLiteral("used %1 of the safe rate").arg(used)));
    }

    void waitIsWhenTheSlotOpens()
    {
        Gcra gcra(pacedRules({ { 10, milliseconds { 1000 } } }, 1.0)); // every 100 ms, no slack
        const milliseconds t0 { 50'000 };
        QVERIFY(gcra.acquire(t0).allowed);
        const LimiterDecision refused = gcra.acquire(t0 + milliseconds { 30 });
        QVERIFY(!refused.allowed);
        QCOMPARE(refused.wait.count(), 70);
        QVERIFY(!gcra.acquire(t0 + milliseconds { 99 }).allowed);
        QVERIFY(gcra.acquire(t0 + milliseconds { 100 }).allowed);
        // A slower factor stretches the spacing: half the rate, 200 ms.
        QVERIFY(gcra.acquire(t0 + milliseconds { 200 }, 0.5).allowed);
        QCOMPARE(gcra.acquire(t0 + milliseconds { 201 }, 0.5).wait.count(), 199);
    }

    void penaltyWindow_data()
    {
        QTest::addColumn<QList<int>>("retryAfterMs"); // -1: no Retry-After
        QTest::addColumn<QList<int>>("penaltyMs");
        QTest::newRow("doubling from 1 s")
            << QList<int> { -1, -1, -1 } << QList<int> { 1000, 2000, 4000 };
        QTest::newRow("capped at 60 s")
            << QList<int> { -1, -1, -1, -1, -1, -1, -1, -1 }
            << QList<int> { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000 };
        QTest::newRow("Retry-After wins") << QList<int> { 3000, -1 } << QList<int> { 3000, 2000 };
    }
    void penaltyWindow()
    {
        QFETCH(QList<int>, retryAfterMs);
        QFETCH(QList<int>, penaltyMs);
        LimiterOptions options;
        options.recoveryPerSecond = 0;
        LocalRateLimiter limiter(options);
        milliseconds now { 10'000'000 };
        for (qsizetype i = 0; i < retryAfterMs.size(); ++i) {
            const auto retryAfter = retryAfterMs[i] < 0
                ? std::nullopt
                : std::optional(milliseconds { retryAfterMs[i] });
            limiter.reportRateLimited(now, retryAfter);
            const LimiterDecision during = limiter.acquire(now + milliseconds { penaltyMs[i] - 1 });
            QVERIFY(!during.allowed);
            QCOMPARE(during.wait.count(), 1);
            now += milliseconds { penaltyMs[i] };
        }
    }

    void successResetsTheBackOff()
    {
        LimiterOptions options;
        LocalRateLimiter limiter(options);
        const milliseconds t0 { 10'000'000 };
        limiter.reportRateLimited(t0, std::nullopt);
        limiter.reportRateLimited(t0 + milliseconds { 1000 }, std::nullopt); // 2 s penalty
        QCOMPARE(limiter.slowDown().penaltyUntilMs, t0.count() + 3000);
        limiter.reportSuccess();
        limiter.reportRateLimited(t0 + milliseconds { 5000 }, std::nullopt); // 1 s again
        QCOMPARE(limiter.slowDown().penaltyUntilMs, t0.count() + 6000);
    }

    void burstOf429sCountsOnce()
    {
        // Four requests sent at t0 all come back 429 a little later: one back-off, not four.
        LimiterOptions options;
        LocalRateLimiter limiter(options);
        const milliseconds t0 { 10'000'000 };
        for (int i = 0; i < 4; ++i)
            limiter.reportRateLimited(t0 + milliseconds { 20 + i }, std::nullopt, t0);
        QCOMPARE(limiter.slowDown().consecutive429, 1);
        QCOMPARE(limiter.slowDown().penaltyUntilMs, t0.count() + 20 + 1000);
        QCOMPARE(limiter.effectiveFactor(t0 + milliseconds { 20 }), 0.5);
        // One sent after the penalty began does count.
        limiter.reportRateLimited(t0 + milliseconds { 2000 }, std::nullopt,
                                  t0 + milliseconds { 1500 });
        QCOMPARE(limiter.slowDown().consecutive429, 2);
    }

    void aimd()
    {
        LimiterOptions options; // halve per 429, floor 0.1, +0.02 per second
        LocalRateLimiter limiter(options);
        const milliseconds t0 { 10'000'000 };
        QCOMPARE(limiter.effectiveFactor(t0), 1.0);
        limiter.reportRateLimited(t0, std::nullopt);
        QCOMPARE(limiter.effectiveFactor(t0), 0.5);
        limiter.reportRateLimited(t0, std::nullopt);
        QCOMPARE(limiter.effectiveFactor(t0), 0.25);
        QVERIFY(qAbs(limiter.effectiveFactor(t0 + milliseconds { 10'000 }) - 0.45) < 1e-9);
        QCOMPARE(limiter.effectiveFactor(t0 + milliseconds { 100'000 }),
                 1.0); // never above the cap
        for (int i = 0; i < 10; ++i)
            limiter.reportRateLimited(t0, std::nullopt);
        QCOMPARE(limiter.effectiveFactor(t0), 0.1);

        // The slower factor really spaces requests further apart once the penalty is over:
        // two 429s leave a 2 s penalty and a factor of 0.25 recovering to about 0.39 over the
        // next 5 s, where the full rate would admit 40.
        LocalRateLimiter slowed(options);
        slowed.reportRateLimited(t0, std::nullopt);
        slowed.reportRateLimited(t0, std::nullopt);
        QCOMPARE(slowed.slowDown().penaltyUntilMs, t0.count() + 2000);
        int admitted = 0;
        for (qint64 t = t0.count() + 2000; t < t0.count() + 7000; ++t)
            admitted += slowed.acquire(milliseconds { t }).allowed ? 1 : 0;
        QVERIFY2(admitted >= 12 && admitted <= 17, qPrintable(QString::number(admitted)));
    }

    void fallbackShare()
    {
        LimiterOptions options; // 10/s + 600/min at 80%
        LocalRateLimiter half(options, 0.5); // 5/s + 300/min at 80% = 4/s
        int admitted = 0;
        for (qint64 t = 0; t < 10'000; ++t)
            admitted += half.acquire(milliseconds { 1'000'000 + t }).allowed ? 1 : 0;
        QVERIFY2(admitted >= 40 && admitted <= 41, qPrintable(QString::number(admitted)));
    }

    void options_data()
    {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("no caps") << QStringLiteral("caps") << QStringLiteral("at least one");
        QTest::newRow("safety 0") << QStringLiteral("safety") << QStringLiteral("safety factor");
        QTest::newRow("decrease 1")
            << QStringLiteral("decrease") << QStringLiteral("decrease factor");
        QTest::newRow("instances 0") << QStringLiteral("instances") << QStringLiteral("instances");
        QTest::newRow("share 2") << QStringLiteral("share") << QStringLiteral("fallback share");
        QTest::newRow("penalty cap below base")
            << QStringLiteral("penalty") << QStringLiteral("penalty");
    }
    void options()
    {
        QFETCH(QString, field);
        QFETCH(QString, messagePart);
        QVERIFY(!LimiterOptions {}.problem());
        LimiterOptions o;
        if (field == QLatin1String("caps"))
            o.caps.clear();
        else if (field == QLatin1String("safety"))
            o.safetyFactor = 0;
        else if (field == QLatin1String("decrease"))
            o.decreaseFactor = 1;
        else if (field == QLatin1String("instances"))
            o.instancesHint = 0;
        else if (field == QLatin1String("share"))
            o.fallbackShare = 2;
        else
            o.penaltyCap = milliseconds { 10 };
        const auto problem = o.problem();
        QVERIFY(problem);
        QVERIFY2(problem->contains(messagePart), qPrintable(*problem));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestLimiter)
#include "tst_limiter.moc"
