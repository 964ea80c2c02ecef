#include "breakerband.h"

#include <QPainter>

namespace sluice {

BreakerBand::BreakerBand(QWidget *parent)
    : QWidget(parent)
{
    setMinimumHeight(22);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    setToolTip(tr("Circuit breaker over time: green closed, red open, amber half-open; hatched "
                  "when forced by an operator"));
}

void BreakerBand::setStates(std::vector<BreakerState> states, int rangeSeconds)
{
    m_states = std::move(states);
    m_range = std::max(1, rangeSeconds);
    update();
}

QColor BreakerBand::colorFor(BreakerState state)
{
    switch (state) {
    case BreakerState::Closed:
    case BreakerState::ForcedClosed:
        return QColor(0x2e, 0x7d, 0x32);
    case BreakerState::Open:
    case BreakerState::ForcedOpen:
        return QColor(0xc6, 0x28, 0x28);
    case BreakerState::HalfOpen:
        return QColor(0xf9, 0xa8, 0x25);
    }
    return Qt::gray;
}

void BreakerBand::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    const QRect area = rect().adjusted(0, 2, -1, -3);
    p.fillRect(area, palette().color(QPalette::AlternateBase));
    const double perSecond = double(area.width()) / m_range;
    const int n = int(m_states.size());
    const int first = std::max(0, n - m_range);
    // Runs of one state become one rectangle, so a day of CLOSED costs one fill.
    int runStart = first;
    for (int i = first; i <= n; ++i) {
        if (i < n && m_states[size_t(i)] == m_states[size_t(runStart)])
            continue;
        if (runStart < n) {
            const BreakerState s = m_states[size_t(runStart)];
            const double left = area.right() - (n - runStart) * perSecond;
            const double right = area.right() - (n - i) * perSecond;
            const QRectF r(QPointF(std::max<double>(area.left(), left), area.top()),
                           QPointF(right, area.bottom()));
            p.fillRect(r, colorFor(s));
            if (s == BreakerState::ForcedOpen || s == BreakerState::ForcedClosed)
                p.fillRect(r, QBrush(QColor(255, 255, 255, 110), Qt::BDiagPattern));
        }
        runStart = i;
    }
    p.setPen(palette().color(QPalette::Mid));
    p.drawRect(area);
}

} // namespace sluice

#include "moc_breakerband.cpp" // NOLINT(bugprone-suspicious-include)
