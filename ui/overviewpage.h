#pragma once

#include <QColor>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineSeries;
class QTableWidget;
class QValueAxis;

namespace sluice {

class BreakerBand;
class RateChart;
class Telemetry;

/// The console's first page: requests per second against the limit (429s marked), the worst
/// 60 s window against the per-minute budget, configured and effective rate, the breaker
/// band, queue depth, and a progress bar per active batch. Redrawn from Telemetry's history
/// once a second.
class OverviewPage : public QWidget
{
    Q_OBJECT
public:
    /// `perSecondCap` is the hard cap drawn as the limit line (the limiter paces below it);
    /// `perMinuteBudget` the budget the worst 60 s window is shown against.
    OverviewPage(Telemetry *telemetry, int perSecondCap, int perMinuteBudget,
                 QWidget *parent = nullptr);

    /// Seconds shown: 60, 600 or 3600.
    void setRangeSeconds(int seconds);
    int rangeSeconds() const { return m_range; }

    RateChart *rateChart() const { return m_rate; }
    BreakerBand *breakerBand() const { return m_band; }
    QTableWidget *batchTable() const { return m_batches; }
    /// The tile texts, for tests: "sent60", "rate", "queue", "delivered", "breaker",
    /// "instances", "plan".
    QString tileText(const QString &name) const;
    /// The tile's text colour (the tone it is drawn in).
    QColor tileColor(const QString &name) const;
    /// Instantly's remaining_in_plan as last seen by any instance; negative when unknown.
    void setRemainingInPlan(qint64 remaining);

public Q_SLOTS:
    void refresh();

private:
    QLabel *addTile(const QString &name, const QString &title, QWidget *row);

    Telemetry *m_telemetry;
    int m_perSecondCap;
    int m_perMinute;
    int m_range = 60;
    QComboBox *m_rangeBox;
    RateChart *m_rate;
    BreakerBand *m_band;
    QLineSeries *m_queue;
    QValueAxis *m_queueX;
    QValueAxis *m_queueY;
    QTableWidget *m_batches;
    QHash<QString, QLabel *> m_tiles;
};

} // namespace sluice
