// The forecaster on a stepped clock: drain rate and time to drain, the pace's promise before
// there is history, the budget left in the minute, and the 429s our own pace cannot explain.
#include "common/suite.h"
#include "core/spantext.h"
#include "telemetry/forecaster.h"

#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

ForecastSample sample(qint64 backlog, qint64 settled, qint64 requests, qint64 limited = 0,
                      double pace = 10, int capPerMinute = 600)
{
    ForecastSample s;
    s.backlog = backlog;
    s.settledTotal = settled;
    s.requestsTotal = requests;
    s.rateLimitedTotal = limited;
    s.effectivePerSecond = pace;
    s.capPerMinute = capPerMinute;
    return s;
}

} // namespace

class TestForecaster : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void steadyDrainGivesTimeToDrainAndLastLead()
    {
        // 600 leads, single mode at 10/s: one sample a second, 10 settled each.
        Forecaster f;
        qint64 now = 1'000'000;
        for (int i = 0; i <= 20; ++i, now += 1000)
            f.add(now, sample(600 - 10 * i, 10 * i, 10 * i));
        const Forecast out = f.forecast();
        QCOMPARE(out.backlog, qint64(400));
        QVERIFY(out.drainMeasured);
        QCOMPARE(out.drainPerSecond, 10.0);
        QVERIFY(out.timeToDrain.has_value());
        QCOMPARE(out.timeToDrain->count(), qint64(40'000));
        QCOMPARE(*out.lastLeadAtMs, now - 1000 + 40'000);
        QVERIFY(!Forecaster::drainsTooSlowly(out, seconds { 60 }));
        QVERIFY(Forecaster::drainsTooSlowly(out, seconds { 30 }));
    }

    void theWindowForgetsAnOldPace()
    {
        // 20 leads/s for two minutes, then 5/s for a minute: the forecast follows the minute.
        Forecaster f(seconds { 60 });
        qint64 now = 0, settled = 0;
        for (int i = 0; i < 120; ++i, now += 1000, settled += 20)
            f.add(now, sample(5000, settled, settled / 20));
        for (int i = 0; i <= 60; ++i, now += 1000, settled += 5)
            f.add(now, sample(5000, settled, settled / 20));
        const Forecast out = f.forecast();
        QVERIFY(out.drainMeasured);
        QVERIFY2(qAbs(out.drainPerSecond - 5.0) < 0.01,
                 qPrintable(QString::number(out.drainPerSecond)));
        QCOMPARE(out.timeToDrain->count(), qint64(1'000'000));
    }

    void beforeHistoryThePaceTimesLeadsPerRequestIsTheEstimate()
    {
        Forecaster f;
        f.add(0, sample(1000, 0, 0, 0, 10));
        Forecast out = f.forecast();
        QVERIFY(!out.drainMeasured);
        QCOMPARE(out.drainPerSecond, 10.0);
        QCOMPARE(out.timeToDrain->count(), qint64(100'000));
        // Two seconds in, bulk requests carry 100 leads each: 10/s × 100.
        f.add(2000, sample(800, 200, 2, 0, 10));
        out = f.forecast();
        QVERIFY(!out.drainMeasured);
        QCOMPARE(out.drainPerSecond, 1000.0);
        QCOMPARE(out.timeToDrain->count(), qint64(800));
    }

    void nothingDrainsItWithoutAPace()
    {
        // Paused or breaker open: nothing settles and the limiter's pace is 0.
        Forecaster f;
        for (qint64 t = 0; t <= 10'000; t += 1000)
            f.add(t, sample(50, 0, 0, 0, 0));
        const Forecast out = f.forecast();
        QVERIFY(!out.timeToDrain.has_value());
        QVERIFY(!out.lastLeadAtMs.has_value());
        QVERIFY(Forecaster::drainsTooSlowly(out, seconds { 3600 }));
        // No backlog is never slow.
        Forecaster empty;
        empty.add(0, sample(0, 0, 0, 0, 0));
        QCOMPARE(empty.forecast().timeToDrain->count(), qint64(0));
        QVERIFY(!Forecaster::drainsTooSlowly(empty.forecast(), seconds { 1 }));
    }

    void budgetLeftIsTheCapLessTheMinutesRequests()
    {
        Forecaster f;
        qint64 now = 0;
        for (int i = 0; i <= 90; ++i, now += 1000)
            f.add(now, sample(100, 10 * i, 8 * i)); // 8 requests a second
        const Forecast out = f.forecast();
        QVERIFY(out.budgetLeftThisMinute.has_value());
        QCOMPARE(*out.budgetLeftThisMinute, 600 - 8 * 60);
        // No per-minute cap: nothing to say.
        Forecaster uncapped;
        uncapped.add(0, sample(1, 0, 0, 0, 10, 0));
        QVERIFY(!uncapped.forecast().budgetLeftThisMinute.has_value());
    }

    void only429sUnderTheCapAreUnexplained()
    {
        Forecaster f;
        qint64 now = 0, requests = 0, limited = 0;
        // Under the cap (5 a second, 300 a minute): three 429s are someone else's doing.
        for (int i = 0; i < 30; ++i, now += 1000) {
            requests += 5;
            if (i == 10 || i == 20 || i == 25)
                ++limited;
            f.add(now, sample(100, requests, requests, limited));
        }
        QCOMPARE(f.forecast().unexplained429, qint64(3));

        // At the cap (600 in the minute): a 429 is ours.
        Forecaster atCap;
        now = 0, requests = 0, limited = 0;
        for (int i = 0; i <= 61; ++i, now += 1000) {
            requests += 10;
            if (i == 61)
                ++limited;
            atCap.add(now, sample(100, requests, requests, limited));
        }
        QCOMPARE(atCap.forecast().unexplained429, qint64(0));
    }

    void unexplained429sAgeOutOfTheWindow()
    {
        Forecaster f(seconds { 30 });
        f.add(0, sample(10, 0, 0, 0));
        f.add(1000, sample(10, 1, 1, 2)); // two 429s after one request: unexplained
        QCOMPARE(f.forecast().unexplained429, qint64(2));
        f.add(20'000, sample(10, 2, 2, 2));
        QCOMPARE(f.forecast().unexplained429, qint64(2));
        f.add(40'000, sample(10, 3, 3, 2));
        QCOMPARE(f.forecast().unexplained429, qint64(0));
    }

    void resetCountersStartAfresh()
    {
        Forecaster f;
        for (qint64 t = 0; t <= 10'000; t += 1000)
            f.add(t, sample(100, t / 100, t / 100));
        QVERIFY(f.forecast().drainMeasured);
        f.add(11'000, sample(100, 0, 0)); // a flushed Redis: totals went back to 0
        const Forecast out = f.forecast();
        QVERIFY(!out.drainMeasured); // no history, so the pace's promise again
        QCOMPARE(out.drainPerSecond, 10.0);
        // A sample from the past is ignored.
        f.add(5'000, sample(1, 0, 0));
        QCOMPARE(f.forecast().backlog, qint64(100));
    }

    void theJsonFormHasNullWhereNothingIsKnown()
    {
        // No pace and no cap: nothing drains the backlog, and there is no budget to speak of.
        Forecaster f;
        f.add(1'000'000, sample(40, 0, 0, 0, 0, 0));
        const nlohmann::json j = forecastJson(f.forecast());
        QVERIFY2(j.at("backlog") == 40, j.dump().c_str());
        QVERIFY(j.at("time_to_drain_ms").is_null());
        QVERIFY(j.at("budget_left_this_minute").is_null());
        QVERIFY(j.at("last_lead_at_ms").is_null());
        QVERIFY(j.at("drain_measured") == false);

        // A steady drain: every field is a number.
        Forecaster g;
        qint64 now = 1'000'000;
        for (int i = 0; i <= 10; ++i, now += 1000)
            g.add(now, sample(100 - 5 * i, 5 * i, 5 * i));
        const Forecast fc = g.forecast();
        const nlohmann::json k = forecastJson(fc);
        QVERIFY2(k.at("time_to_drain_ms") == fc.timeToDrain->count(), k.dump().c_str());
        QVERIFY(k.at("last_lead_at_ms") == *fc.lastLeadAtMs);
        QVERIFY(k.at("budget_left_this_minute") == *fc.budgetLeftThisMinute);
    }

    void spanTextIsShortAndRoundsDown_data()
    {
        QTest::addColumn<qint64>("ms");
        QTest::addColumn<QString>("text");
        QTest::newRow("negative is none") << qint64(-5'000) << QStringLiteral("0 s");
        QTest::newRow("under a second") << qint64(999) << QStringLiteral("0 s");
        QTest::newRow("seconds") << qint64(59'999) << QStringLiteral("59 s");
        QTest::newRow("a minute") << qint64(60'000) << QStringLiteral("1 min");
        QTest::newRow("minutes") << qint64(3'599'000) << QStringLiteral("59 min");
        QTest::newRow("whole hours") << qint64(7'200'000 + 59'000) << QStringLiteral("2 h");
        QTest::newRow("hours and minutes")
            << qint64(3 * 3'600'000 + 5 * 60'000) << QStringLiteral("3 h 5 min");
        QTest::newRow("whole days") << qint64(2 * 86'400'000 + 3'599'000) << QStringLiteral("2 d");
        QTest::newRow("days and hours")
            << qint64(2 * 86'400'000 + 4 * 3'600'000) << QStringLiteral("2 d 4 h");
    }
    void spanTextIsShortAndRoundsDown()
    {
        QFETCH(qint64, ms);
        QFETCH(QString, text);
        QCOMPARE(spanText(ms), text);
    }
};

SLUICE_TEST_APPLESS_MAIN(TestForecaster)
#include "tst_forecaster.moc"
