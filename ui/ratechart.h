#pragma once

#include <QChartView>
#include <QList>
#include <QPointF>

class QLineSeries;
class QScatterSeries;
class QValueAxis;

namespace sluice {

/// Requests per second sent upstream, against the limit line, with 429s marked. Fed whole
/// snapshots (never point by point), so a redraw costs the same after an hour as after a
/// minute.
class RateChart : public QChartView
{
    Q_OBJECT
public:
    explicit RateChart(QWidget *parent = nullptr);

    /// Points are (seconds relative to now, requests in that second); x runs from -rangeSeconds to
    /// 0.
    void setSnapshot(const QList<QPointF> &sent, const QList<QPointF> &rateLimited,
                     double limitPerSecond, int rangeSeconds);

    QLineSeries *sentSeries() const { return m_sent; }
    QLineSeries *limitSeries() const { return m_limit; }
    QScatterSeries *rateLimitedSeries() const { return m_limited; }

private:
    QLineSeries *m_sent;
    QLineSeries *m_limit;
    QScatterSeries *m_limited;
    QValueAxis *m_x;
    QValueAxis *m_y;
};

} // namespace sluice
