// The breaker's sliding windows: a ring of the last N calls, or N one-second aggregates.
// Bounded memory, exact edges, and a text form that survives a restart with other options.
#include "breaker/breakerwindow.h"
#include "common/suite.h"

#include <QList>
#include <QRandomGenerator>
#include <QTest>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

/// '.' success, 's' slow success, 'x' failure, 'X' slow failure (as BreakerWindow::save()).
void recordChar(BreakerWindow &window, milliseconds now, char call)
{
    window.record(now, call == 'x' || call == 'X', call == 's' || call == 'X');
}

/// "1000000:x 1000500:." → calls at those milliseconds.
void recordTimed(BreakerWindow &window, const QByteArray &events)
{
    for (const QByteArray &event : events.simplified().split(' ')) {
        if (event.isEmpty())
            continue;
        const qsizetype colon = event.lastIndexOf(':');
        recordChar(window, milliseconds { event.left(colon).toLongLong() }, event.at(colon + 1));
    }
}

QByteArray describe(const BreakerMetrics &m)
{
    return QByteArray::number(m.calls) + '/' + QByteArray::number(m.failures) + '/'
        + QByteArray::number(m.slowCalls);
}

} // namespace

class TestBreakerWindow : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void countWindow_data()
    {
        QTest::addColumn<int>("size");
        QTest::addColumn<QByteArray>("calls"); ///< recorded in this order
        QTest::addColumn<QByteArray>("metrics"); ///< calls/failures/slow
        QTest::addColumn<QByteArray>("saved");

        QTest::newRow("empty") << 3 << QByteArray() << QByteArray("0/0/0") << QByteArray();
        QTest::newRow("partly filled")
            << 5 << QByteArray(".xs") << QByteArray("3/1/1") << QByteArray(".xs");
        QTest::newRow("exactly full")
            << 3 << QByteArray(".xX") << QByteArray("3/2/1") << QByteArray(".xX");
        QTest::newRow("the oldest call leaves")
            << 3 << QByteArray("X..x") << QByteArray("3/1/0") << QByteArray("..x");
        QTest::newRow("wrapped several times")
            << 2 << QByteArray("xxxxs.") << QByteArray("2/0/1") << QByteArray("s.");
        QTest::newRow("a window of one call")
            << 1 << QByteArray("x.X") << QByteArray("1/1/1") << QByteArray("X");
        QTest::newRow("slow failure counts in both")
            << 4 << QByteArray("XXXX") << QByteArray("4/4/4") << QByteArray("XXXX");
    }
    void countWindow()
    {
        QFETCH(int, size);
        QFETCH(QByteArray, calls);
        QFETCH(QByteArray, metrics);
        QFETCH(QByteArray, saved);
        BreakerWindow window(BreakerWindowType::CountBased, size);
        milliseconds now { 1'000'000 };
        for (char call : calls) {
            recordChar(window, now, call);
            now += milliseconds { 700 };
        }
        QCOMPARE(describe(window.metrics(now)), metrics);
        // A count window does not care about time.
        QCOMPARE(describe(window.metrics(now + milliseconds { 86'400'000 })), metrics);
        QCOMPARE(window.save(), saved);
    }

    void timeWindow_data()
    {
        QTest::addColumn<int>("seconds");
        QTest::addColumn<QByteArray>("events"); ///< ms:call ...
        QTest::addColumn<qint64>("queryMs");
        QTest::addColumn<QByteArray>("metrics");
        QTest::addColumn<QByteArray>("saved");

        QTest::newRow("one second aggregates")
            << 3 << QByteArray("1000000:x 1000999:.") << qint64(1'000'999) << QByteArray("2/1/0")
            << QByteArray("1000:2:1:0");
        QTest::newRow("N seconds up to now's")
            << 3 << QByteArray("1000000:x 1001000:X 1002000:.") << qint64(1'002'999)
            << QByteArray("3/2/1") << QByteArray("1000:1:1:0,1001:1:1:1,1002:1:0:0");
        QTest::newRow("the oldest second leaves at its edge")
            << 3 << QByteArray("1000000:x 1001000:X 1002000:.") << qint64(1'003'000)
            << QByteArray("2/1/1") << QByteArray("1000:1:1:0,1001:1:1:1,1002:1:0:0");
        QTest::newRow("a slot is reused after a wrap")
            << 3 << QByteArray("1000000:x 1000500:x 1003000:.") << qint64(1'003'000)
            << QByteArray("1/0/0") << QByteArray("1003:1:0:0");
        QTest::newRow("a call older than its slot's data is dropped")
            << 3 << QByteArray("1003000:. 1000000:x") << qint64(1'003'000) << QByteArray("1/0/0")
            << QByteArray("1003:1:0:0");
        QTest::newRow("all forgotten long after")
            << 60 << QByteArray("1000000:x 1030000:x") << qint64(2'000'000) << QByteArray("0/0/0")
            << QByteArray("1000:1:1:0,1030:1:1:0");
        QTest::newRow("a clock slightly ahead still counts")
            << 3 << QByteArray("1005000:x") << qint64(1'000'000) << QByteArray("1/1/0")
            << QByteArray("1005:1:1:0");
        QTest::newRow("before the origin: seconds floor")
            << 2 << QByteArray("-1:x -1000:x 0:.") << qint64(0) << QByteArray("3/2/0")
            << QByteArray("-1:2:2:0,0:1:0:0");
    }
    void timeWindow()
    {
        QFETCH(int, seconds);
        QFETCH(QByteArray, events);
        QFETCH(qint64, queryMs);
        QFETCH(QByteArray, metrics);
        QFETCH(QByteArray, saved);
        BreakerWindow window(BreakerWindowType::TimeBased, seconds);
        recordTimed(window, events);
        QCOMPARE(describe(window.metrics(milliseconds { queryMs })), metrics);
        QCOMPARE(window.save(), saved);
    }

    void clear()
    {
        for (const BreakerWindowType type :
             { BreakerWindowType::CountBased, BreakerWindowType::TimeBased }) {
            BreakerWindow window(type, 4);
            recordTimed(window, "1000:x 2000:. 3000:X");
            window.clear();
            QCOMPARE(describe(window.metrics(milliseconds { 3000 })), QByteArray("0/0/0"));
            QCOMPARE(window.save(), QByteArray());
            recordTimed(window, "3000:x");
            QCOMPARE(describe(window.metrics(milliseconds { 3000 })), QByteArray("1/1/0"));
        }
    }

    void roundTrip_data()
    {
        QTest::addColumn<bool>("timeBased");
        QTest::addColumn<int>("size");
        QTest::addColumn<int>("calls");
        QTest::addColumn<quint32>("seed");
        QTest::newRow("count, partly filled") << false << 20 << 7 << 1u;
        QTest::newRow("count, wrapped") << false << 20 << 53 << 2u;
        QTest::newRow("count, one") << false << 1 << 5 << 3u;
        QTest::newRow("time, sparse") << true << 60 << 10 << 4u;
        QTest::newRow("time, wrapped") << true << 10 << 200 << 5u;
    }
    void roundTrip()
    {
        QFETCH(bool, timeBased);
        QFETCH(int, size);
        QFETCH(int, calls);
        QFETCH(quint32, seed);
        const BreakerWindowType type
            = timeBased ? BreakerWindowType::TimeBased : BreakerWindowType::CountBased;
        BreakerWindow window(type, size);
        QRandomGenerator random(seed);
        milliseconds now { 5'000'000 };
        for (int i = 0; i < calls; ++i) {
            window.record(now, random.bounded(3) == 0, random.bounded(4) == 0);
            now += milliseconds { random.bounded(1500) };
        }
        BreakerWindow restored(type, size);
        QCOMPARE(restored.restore(window.save()), std::nullopt);
        QCOMPARE(restored.save(), window.save());
        QCOMPARE(restored.metrics(now), window.metrics(now));
        // And they go on alike.
        window.record(now, true, false);
        restored.record(now, true, false);
        QCOMPARE(restored.save(), window.save());
    }

    void restoreIntoAnotherSize_data()
    {
        QTest::addColumn<bool>("timeBased");
        QTest::addColumn<int>("size");
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QByteArray>("saved");
        QTest::newRow("smaller count window keeps the newest")
            << false << 3 << QByteArray("..xxX") << QByteArray("xxX");
        QTest::newRow("larger count window keeps all")
            << false << 5 << QByteArray("x.") << QByteArray("x.");
        QTest::newRow("smaller time window keeps the newest second per slot")
            << true << 2 << QByteArray("1000:1:1:0,1001:1:0:0,1002:2:0:1")
            << QByteArray("1001:1:0:0,1002:2:0:1");
        QTest::newRow("order of seconds in the text does not matter")
            << true << 2 << QByteArray("1002:2:0:1,1000:1:1:0") << QByteArray("1002:2:0:1");
        QTest::newRow("empty text") << true << 5 << QByteArray() << QByteArray();
    }
    void restoreIntoAnotherSize()
    {
        QFETCH(bool, timeBased);
        QFETCH(int, size);
        QFETCH(QByteArray, text);
        QFETCH(QByteArray, saved);
        BreakerWindow window(
            timeBased ? BreakerWindowType::TimeBased : BreakerWindowType::CountBased, size);
        QCOMPARE(window.restore(text), std::nullopt);
        QCOMPARE(window.save(), saved);
    }

    void restoreRejects_data()
    {
        QTest::addColumn<bool>("timeBased");
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown call")
            << false << QByteArray("..q") << QStringLiteral("unknown call 'q' at 2");
        QTest::newRow("time text in a count window")
            << false << QByteArray("1000:1:0:0") << QStringLiteral("unknown call '1' at 0");
        QTest::newRow("three parts")
            << true << QByteArray("1000:1:1") << QStringLiteral("unreadable second \"1000:1:1\"");
        QTest::newRow("not a number")
            << true << QByteArray("a:1:0:0") << QStringLiteral("unreadable second \"a:1:0:0\"");
        QTest::newRow("no calls") << true << QByteArray("1000:0:0:0")
                                  << QStringLiteral("unreadable second \"1000:0:0:0\"");
        QTest::newRow("more failures than calls")
            << true << QByteArray("1000:1:2:0") << QStringLiteral("unreadable second");
        QTest::newRow("more slow calls than calls")
            << true << QByteArray("1000:1:0:2") << QStringLiteral("unreadable second");
        QTest::newRow("trailing comma")
            << true << QByteArray("1000:1:0:0,") << QStringLiteral("unreadable second \"\"");
        QTest::newRow("count text in a time window")
            << true << QByteArray("..x") << QStringLiteral("unreadable second \"..x\"");
    }
    void restoreRejects()
    {
        QFETCH(bool, timeBased);
        QFETCH(QByteArray, text);
        QFETCH(QString, expected);
        BreakerWindow window(
            timeBased ? BreakerWindowType::TimeBased : BreakerWindowType::CountBased, 4);
        recordTimed(window, "1000:x 2000:.");
        const QByteArray before = window.save();
        const std::optional<QString> problem = window.restore(text);
        QVERIFY(problem.has_value());
        QVERIFY2(problem->contains(expected), qPrintable(*problem));
        QCOMPARE(window.save(), before); // unchanged
    }

    void memoryIsBounded()
    {
        // Two hours at 4 calls a second: the time window keeps 60 aggregates, not 28800 calls.
        BreakerWindow timed(BreakerWindowType::TimeBased, 60);
        BreakerWindow counted(BreakerWindowType::CountBased, 20);
        milliseconds now { 1'000'000 };
        for (int i = 0; i < 4 * 7200; ++i) {
            timed.record(now, i % 10 == 0, false);
            counted.record(now, i % 10 == 0, false);
            now += milliseconds { 250 };
        }
        now -= milliseconds { 250 };
        QCOMPARE(timed.save().count(',') + 1, 60);
        QCOMPARE(describe(timed.metrics(now)), QByteArray("240/24/0"));
        QCOMPARE(counted.save().size(), 20);
        QCOMPARE(describe(counted.metrics(now)), QByteArray("20/2/0"));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestBreakerWindow)
#include "tst_breakerwindow.moc"
