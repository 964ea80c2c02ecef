// The rate chart, offscreen: it shows exactly the snapshot it was given, with the limit line
// across the whole range, and it renders something a person can see.
#include "common/suite.h"
#include "ratechart.h"

#include <QImage>
#include <QLineSeries>
#include <QScatterSeries>
#include <QSet>
#include <QTest>

using namespace sluice;

class TestRateChart : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void showsTheSnapshot()
    {
        RateChart chart;
        const QList<QPointF> sent = { { -3, 9 }, { -2, 10 }, { -1, 4 } };
        const QList<QPointF> limited = { { -2, 10 } };
        chart.setSnapshot(sent, limited, 10, 60);
        QCOMPARE(chart.sentSeries()->points(), sent);
        QCOMPARE(chart.rateLimitedSeries()->points(), limited);
        QCOMPARE(chart.limitSeries()->points(), (QList<QPointF> { { -60, 10 }, { 0, 10 } }));

        // A new snapshot replaces the old one; nothing accumulates.
        chart.setSnapshot({ { -1, 2 } }, {}, 100, 600);
        QCOMPARE(chart.sentSeries()->count(), 1);
        QCOMPARE(chart.rateLimitedSeries()->count(), 0);
        QCOMPARE(chart.limitSeries()->points().front(), QPointF(-600, 100));
    }

    void rendersVisibly()
    {
        RateChart chart;
        chart.resize(640, 360);
        chart.setSnapshot({ { -5, 3 }, { -4, 10 }, { -3, 10 }, { -2, 7 }, { -1, 10 } },
                          { { -3, 10 } }, 10, 10);
        chart.show();
        QVERIFY(QTest::qWaitForWindowExposed(&chart));
        const QImage image = chart.grab().toImage();
        QVERIFY(!image.isNull());
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 4) {
            for (int x = 0; x < image.width(); x += 4)
                colours.insert(image.pixel(x, y));
        }
        QVERIFY2(colours.size() > 10, "the chart rendered (almost) blank");
        image.save(QStringLiteral("tst_ratechart.png"));
    }
};

SLUICE_TEST_MAIN(TestRateChart)
#include "tst_ratechart.moc"
