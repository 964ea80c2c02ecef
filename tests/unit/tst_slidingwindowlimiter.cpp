// The sandbox's workspace limiter on a stepped clock: never more than the cap in any window,
// full use of the cap, and a refusal's wait time that is exact.
#include "common/suite.h"
#include "core/windowstats.h"
#include "sandbox/slidingwindowlimiter.h"

#include <QRandomGenerator>
#include <QTest>

using namespace sluice;
using std::chrono::milliseconds;

class TestSlidingWindowLimiter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void neverOverTheCap_data()
    {
        QTest::addColumn<int>("perSecond");
        QTest::addColumn<int>("perMinute");
        QTest::addColumn<int>("meanGapMs");
        QTest::addColumn<quint32>("seed");
        QTest::newRow("10/s 600/min, flooding") << 10 << 600 << 2 << 1u;
        QTest::newRow("10/s 600/min, near the rate") << 10 << 600 << 90 << 2u;
        QTest::newRow("100/s 6000/min, flooding") << 100 << 6000 << 1 << 3u;
        QTest::newRow("10/s 300/min, minute binds") << 10 << 300 << 20 << 4u;
        QTest::newRow("1/s 5/min") << 1 << 5 << 100 << 5u;
    }
    void neverOverTheCap()
    {
        QFETCH(int, perSecond);
        QFETCH(int, perMinute);
        QFETCH(int, meanGapMs);
        QFETCH(quint32, seed);
        SlidingWindowLimiter limiter(
            { { milliseconds { 1000 }, perSecond }, { milliseconds { 60'000 }, perMinute } });
        QRandomGenerator random(seed);
        std::vector<milliseconds> admitted;
        milliseconds now { 5'000'000 };
        const milliseconds end = now + milliseconds { 180'000 };
        while (now < end) {
            if (!limiter.tryAdmit(now))
                admitted.push_back(now);
            now += milliseconds { random.bounded(2 * meanGapMs + 1) };
        }
        QVERIFY(maxInAnyWindow(admitted, milliseconds { 1000 }) <= perSecond);
        QVERIFY(maxInAnyWindow(admitted, milliseconds { 60'000 }) <= perMinute);
        // And it does not starve: when flooding, the binding cap is reached.
        if (meanGapMs <= 2) {
            QCOMPARE(maxInAnyWindow(admitted, milliseconds { 60'000 }),
                     std::min(perMinute, perSecond * 60));
            QCOMPARE(maxInAnyWindow(admitted, milliseconds { 1000 }), perSecond);
        }
    }

    void waitIsExact()
    {
        SlidingWindowLimiter limiter({ { milliseconds { 1000 }, 3 } });
        const milliseconds t0 { 10'000 };
        QVERIFY(!limiter.tryAdmit(t0));
        QVERIFY(!limiter.tryAdmit(t0 + milliseconds { 100 }));
        QVERIFY(!limiter.tryAdmit(t0 + milliseconds { 200 }));
        const auto wait = limiter.tryAdmit(t0 + milliseconds { 500 });
        QVERIFY(wait);
        QCOMPARE(wait->count(), 500); // the admission at t0 leaves the window at t0 + 1000
        QVERIFY(limiter.tryAdmit(t0 + milliseconds { 999 }));
        QVERIFY(!limiter.tryAdmit(t0 + milliseconds { 1000 }));
        QCOMPARE(limiter.admittedWithin(t0 + milliseconds { 1000 }, milliseconds { 1000 }), 3);
    }

    void zeroLimitNeverAdmits()
    {
        SlidingWindowLimiter limiter({ { milliseconds { 1000 }, 0 } });
        QVERIFY(limiter.tryAdmit(milliseconds { 1 }));
    }

    void windowStats_data()
    {
        QTest::addColumn<QList<int>>("times");
        QTest::addColumn<int>("window");
        QTest::addColumn<int>("expected");
        QTest::newRow("empty") << QList<int> {} << 1000 << 0;
        QTest::newRow("one") << QList<int> { 5 } << 1000 << 1;
        QTest::newRow("edge is exclusive") << QList<int> { 0, 1000 } << 1000 << 1;
        QTest::newRow("just inside") << QList<int> { 0, 999 } << 1000 << 2;
        QTest::newRow("cluster later") << QList<int> { 0, 1500, 1600, 1700, 2499 } << 1000 << 4;
        QTest::newRow("same instant") << QList<int> { 7, 7, 7 } << 1 << 3;
    }
    void windowStats()
    {
        QFETCH(QList<int>, times);
        QFETCH(int, window);
        QFETCH(int, expected);
        std::vector<milliseconds> t;
        for (int v : times)
            t.emplace_back(v);
        QCOMPARE(sluice::maxInAnyWindow(t, milliseconds { window }), expected);
    }
};

SLUICE_TEST_APPLESS_MAIN(TestSlidingWindowLimiter)
#include "tst_slidingwindowlimiter.moc"
