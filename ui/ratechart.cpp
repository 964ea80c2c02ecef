#include "ratechart.h"

#include "tones.h"

#include <QChart>
#include <QLineSeries>
#include <QScatterSeries>
#include <QValueAxis>

#include <algorithm>

namespace sluice {

RateChart::RateChart(QWidget *parent)
    : QChartView(parent)
    , m_sent(new QLineSeries)
    , m_limit(new QLineSeries)
    , m_limited(new QScatterSeries)
    , m_x(new QValueAxis)
    , m_y(new QValueAxis)
{
    auto *chart = new QChart;
    // Before any series: a theme restyles what it finds.
    chart->setTheme(isDarkPalette(palette()) ? QChart::ChartThemeDark : QChart::ChartThemeLight);
    chart->setTitle(tr("Requests per second upstream"));
    chart->legend()->setAlignment(Qt::AlignBottom);
    m_sent->setName(tr("sent"));
    m_limit->setName(tr("limit"));
    QPen limitPen(QColor(0xd3, 0x2f, 0x2f));
    limitPen.setStyle(Qt::DashLine);
    limitPen.setWidth(2);
    m_limit->setPen(limitPen);
    m_limited->setName(tr("429"));
    m_limited->setMarkerShape(QScatterSeries::MarkerShapeRectangle);
    m_limited->setMarkerSize(8);
    m_limited->setColor(QColor(0xff, 0x8f, 0x00));
    for (QAbstractSeries *series :
         { static_cast<QAbstractSeries *>(m_sent), static_cast<QAbstractSeries *>(m_limit),
           static_cast<QAbstractSeries *>(m_limited) }) {
        chart->addSeries(series);
    }
    m_x->setTitleText(tr("seconds ago"));
    m_x->setLabelFormat(QStringLiteral("%d"));
    m_y->setTitleText(tr("requests/s"));
    m_y->setLabelFormat(QStringLiteral("%d"));
    chart->addAxis(m_x, Qt::AlignBottom);
    chart->addAxis(m_y, Qt::AlignLeft);
    for (QAbstractSeries *series : chart->series()) {
        series->attachAxis(m_x);
        series->attachAxis(m_y);
    }
    // QChartView(QWidget *) made a default chart, and setChart() lets go of it without
    // deleting it.
    QChart *placeholder = QChartView::chart();
    setChart(chart);
    delete placeholder;
    setRenderHint(QPainter::Antialiasing);
    setMinimumSize(320, 200);
    setSnapshot({}, {}, 0, 60);
}

void RateChart::setSnapshot(const QList<QPointF> &sent, const QList<QPointF> &rateLimited,
                            double limitPerSecond, int rangeSeconds)
{
    m_sent->replace(sent);
    m_limited->replace(rateLimited);
    m_limit->replace({ QPointF(-rangeSeconds, limitPerSecond), QPointF(0, limitPerSecond) });
    double peak = limitPerSecond;
    for (const QPointF &p : sent)
        peak = std::max(peak, p.y());
    // Exactly the range asked for, ticked in sixths (every 10 s of a minute, 10 min of an hour).
    m_x->setRange(-rangeSeconds, 0);
    m_x->setTickCount(7);
    m_y->setRange(0, std::max(1.0, peak * 1.2));
    m_y->applyNiceNumbers();
}

} // namespace sluice

#include "moc_ratechart.cpp" // NOLINT(bugprone-suspicious-include)
