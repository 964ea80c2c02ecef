#pragma once

#include "breaker/circuitbreaker.h"

#include <QWidget>

#include <vector>

namespace sluice {

/// The circuit breaker's state over time as a coloured band: green CLOSED, red OPEN, amber
/// HALF_OPEN; forced states hatched, so a human override is told apart from the breaker's own
/// judgement.
class BreakerBand : public QWidget
{
    Q_OBJECT
public:
    explicit BreakerBand(QWidget *parent = nullptr);

    /// One state per second, oldest first; the band spans `rangeSeconds` ending now.
    void setStates(std::vector<BreakerState> states, int rangeSeconds);
    const std::vector<BreakerState> &states() const { return m_states; }

    static QColor colorFor(BreakerState state);
    QSize sizeHint() const override { return { 400, 28 }; }

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    std::vector<BreakerState> m_states;
    int m_range = 60;
};

} // namespace sluice
