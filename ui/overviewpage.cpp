#include "overviewpage.h"

#include "agetext.h"

#include "breakerband.h"
#include "ratechart.h"
#include "telemetry/telemetry.h"
#include "tones.h"

#include <QChart>
#include <QChartView>
#include <QComboBox>
#include <QDateTime>
#include <QFrame>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QLocale>
#include <QProgressBar>
#include <QTableWidget>
#include <QVBoxLayout>
#include <QValueAxis>

namespace sluice {

OverviewPage::OverviewPage(Telemetry *telemetry, int perSecondCap, int perMinuteBudget,
                           QWidget *parent)
    : QWidget(parent)
    , m_telemetry(telemetry)
    , m_perSecondCap(perSecondCap)
    , m_perMinute(perMinuteBudget)
{
    auto *layout = new QVBoxLayout(this);

    auto *tiles = new QWidget(this);
    auto *tileRow = new QHBoxLayout(tiles);
    tileRow->setContentsMargins(0, 0, 0, 0);
    addTile(QStringLiteral("sent60"), tr("Worst 60 s window"), tiles);
    addTile(QStringLiteral("rate"), tr("Rate (effective / configured)"), tiles);
    addTile(QStringLiteral("queue"), tr("Queue (drains in)"), tiles)
        ->setToolTip(tr("Leads in the stream, and when the last of them should be settled at "
                        "the rate of the last minute (before that, at the limiter's pace)"));
    addTile(QStringLiteral("budget"), tr("Left this minute"), tiles)
        ->setToolTip(tr("Requests the per-minute cap still allows, after what every instance "
                        "sent in the last 60 s. 429s that came while the fleet was under the "
                        "cap are shown here: someone else is using the workspace's budget."));
    addTile(QStringLiteral("delivered"), tr("Delivered since start"), tiles);
    addTile(QStringLiteral("breaker"), tr("Breaker"), tiles);
    addTile(QStringLiteral("instances"), tr("Instances (1 min)"), tiles);
    addTile(QStringLiteral("plan"), tr("Instantly plan: leads left"), tiles)
        ->setToolTip(tr("remaining_in_plan from Instantly's last bulk answer to any instance; "
                        "at 0 the fleet pauses until the plan has room again"));
    setRemainingInPlan(-1);
    layout->addWidget(tiles);

    auto *rangeRow = new QHBoxLayout;
    rangeRow->addWidget(new QLabel(tr("Time range:"), this));
    m_rangeBox = new QComboBox(this);
    m_rangeBox->addItem(tr("1 minute"), 60);
    m_rangeBox->addItem(tr("10 minutes"), 600);
    m_rangeBox->addItem(tr("1 hour"), 3600);
    connect(m_rangeBox, &QComboBox::currentIndexChanged, this,
            [this] { setRangeSeconds(m_rangeBox->currentData().toInt()); });
    rangeRow->addWidget(m_rangeBox);
    rangeRow->addStretch();
    layout->addLayout(rangeRow);

    m_rate = new RateChart(this);
    layout->addWidget(m_rate, 3);

    auto *bandLabel = new QLabel(tr("Circuit breaker"), this);
    layout->addWidget(bandLabel);
    m_band = new BreakerBand(this);
    layout->addWidget(m_band);

    m_queue = new QLineSeries;
    m_queue->setName(tr("queued leads"));
    auto *queueChart = new QChart;
    queueChart->setTheme(isDarkPalette(palette()) ? QChart::ChartThemeDark
                                                  : QChart::ChartThemeLight);
    queueChart->addSeries(m_queue);
    queueChart->legend()->hide();
    queueChart->setTitle(tr("Queue depth"));
    m_queueX = new QValueAxis;
    m_queueY = new QValueAxis;
    m_queueX->setLabelFormat(QStringLiteral("%d"));
    m_queueY->setLabelFormat(QStringLiteral("%d"));
    queueChart->addAxis(m_queueX, Qt::AlignBottom);
    queueChart->addAxis(m_queueY, Qt::AlignLeft);
    m_queue->attachAxis(m_queueX);
    m_queue->attachAxis(m_queueY);
    auto *queueView = new QChartView(queueChart, this);
    queueView->setRenderHint(QPainter::Antialiasing);
    queueView->setMinimumHeight(170);
    layout->addWidget(queueView, 2);

    layout->addWidget(new QLabel(tr("Active batches"), this));
    m_batches = new QTableWidget(0, 5, this);
    m_batches->setHorizontalHeaderLabels(
        { tr("Task"), tr("Campaign"), tr("Source"), tr("Progress"), tr("Done") });
    m_batches->horizontalHeader()->setSectionResizeMode(3, QHeaderView::Stretch);
    m_batches->verticalHeader()->hide();
    m_batches->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_batches->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_batches->setMinimumHeight(110);
    layout->addWidget(m_batches, 2);

    connect(m_telemetry, &Telemetry::sampled, this, &OverviewPage::refresh);
    refresh();
}

QLabel *OverviewPage::addTile(const QString &name, const QString &title, QWidget *row)
{
    auto *frame = new QFrame(row);
    frame->setFrameShape(QFrame::StyledPanel);
    auto *v = new QVBoxLayout(frame);
    auto *caption = new QLabel(title, frame);
    QFont small = caption->font();
    small.setPointSizeF(small.pointSizeF() * 0.9);
    caption->setFont(small);
    caption->setForegroundRole(QPalette::PlaceholderText);
    auto *value = new QLabel(QStringLiteral("–"), frame);
    QFont big = value->font();
    big.setPointSizeF(big.pointSizeF() * 1.5);
    big.setBold(true);
    value->setFont(big);
    v->addWidget(caption);
    v->addWidget(value);
    row->layout()->addWidget(frame);
    m_tiles.insert(name, value);
    return value;
}

QString OverviewPage::tileText(const QString &name) const
{
    const QLabel *label = m_tiles.value(name);
    return label ? label->text() : QString();
}

QColor OverviewPage::tileColor(const QString &name) const
{
    const QLabel *label = m_tiles.value(name);
    return label ? label->palette().color(QPalette::WindowText) : QColor();
}

void OverviewPage::setRemainingInPlan(qint64 remaining)
{
    QLabel *plan = m_tiles[QStringLiteral("plan")];
    plan->setText(remaining < 0 ? QStringLiteral("—") : QLocale().toString(remaining));
    QPalette pal = plan->palette();
    pal.setColor(QPalette::WindowText,
                 remaining == 0 ? toneColor(Tone::Warning, palette())
                                : palette().color(QPalette::WindowText));
    plan->setPalette(pal);
}

void OverviewPage::setRangeSeconds(int seconds)
{
    m_range = seconds;
    const int index = m_rangeBox->findData(seconds);
    if (index >= 0 && index != m_rangeBox->currentIndex())
        m_rangeBox->setCurrentIndex(index);
    refresh();
}

void OverviewPage::refresh()
{
    const RingBuffer<TelemetrySample> &samples = m_telemetry->samples();
    const int n = int(samples.size());
    const int first = std::max(0, n - m_range);
    QList<QPointF> sent, limited, queue;
    std::vector<BreakerState> states;
    qint64 queuePeak = 1;
    for (int i = first; i < n; ++i) {
        const TelemetrySample &s = samples.at(size_t(i));
        const double x = i - n + 1; // 0 is the newest second
        // The whole fleet when the send audit is readable, else this process.
        const int count = s.upstream();
        const int limitedCount = s.upstreamRateLimited();
        sent.append({ x, double(count) });
        if (limitedCount > 0)
            limited.append({ x, double(count) });
        if (s.queueDepth >= 0) {
            queue.append({ x, double(s.queueDepth) });
            queuePeak = std::max(queuePeak, s.queueDepth);
        }
        states.push_back(s.breaker);
    }
    const TelemetrySample last = n > 0 ? samples.back() : TelemetrySample {};
    m_rate->chart()->setTitle(last.fleetSent >= 0
                                  ? tr("Requests per second upstream, all instances")
                                  : tr("Requests per second upstream, this process"));
    m_rate->setSnapshot(sent, limited,
                        m_perSecondCap > 0 ? m_perSecondCap : last.configuredPerSecond, m_range);
    m_band->setStates(std::move(states), m_range);
    m_queue->replace(queue);
    m_queueX->setRange(-m_range, 0);
    m_queueX->setTickCount(7);
    // Three labels: a short chart has no room for more (Qt Charts elides them to "...").
    double top = 4;
    while (top < double(queuePeak) * 1.1)
        top *= top < 10 ? 2.5 : 2; // 4, 10, 20, 40, ...
    m_queueY->setRange(0, top);
    m_queueY->setTickCount(3);

    const int worst = m_telemetry->worstWindow(std::chrono::seconds { 60 });
    m_tiles[QStringLiteral("sent60")]->setText(
        m_perMinute > 0 ? tr("%1 / %2").arg(worst).arg(m_perMinute) : QString::number(worst));
    m_tiles[QStringLiteral("rate")]->setText(tr("%1 / %2 per s")
                                                 .arg(last.effectivePerSecond, 0, 'f', 1)
                                                 .arg(last.configuredPerSecond, 0, 'f', 1));
    const Forecast forecast = m_telemetry->forecast();
    QString queueText = last.queueDepth < 0 ? tr("unknown") : QString::number(last.queueDepth);
    if (last.queueDepth > 0)
        queueText += forecast.timeToDrain
            ? tr(" (%1, %2)")
                  .arg(spanText(forecast.timeToDrain->count()),
                       QDateTime::fromMSecsSinceEpoch(*forecast.lastLeadAtMs)
                           .toString(QStringLiteral("HH:mm")))
            : tr(" (not draining)");
    m_tiles[QStringLiteral("queue")]->setText(queueText);
    // What the cap still allows; 429s the fleet's own pace cannot explain are counted beside it
    // in the warning tone (someone else is spending the workspace's budget).
    QLabel *budget = m_tiles[QStringLiteral("budget")];
    QString budgetText = forecast.budgetLeftThisMinute
        ? QString::number(*forecast.budgetLeftThisMinute)
        : tr("no cap");
    if (forecast.unexplained429 > 0)
        budgetText += tr(" · 429×%1").arg(forecast.unexplained429);
    budget->setText(budgetText);
    QPalette budgetPalette = budget->palette();
    budgetPalette.setColor(QPalette::WindowText,
                           forecast.unexplained429 > 0 ? toneColor(Tone::Warning, palette())
                                                       : palette().color(QPalette::WindowText));
    budget->setPalette(budgetPalette);
    m_tiles[QStringLiteral("delivered")]->setText(QString::number(last.delivered));
    m_tiles[QStringLiteral("instances")]->setText(
        last.fleetSent < 0 ? tr("unknown") : QString::number(last.fleetInstances));
    QLabel *breaker = m_tiles[QStringLiteral("breaker")];
    breaker->setText(
        breakerStateName(last.breaker).toUpper().replace(QLatin1Char('_'), QLatin1Char(' ')));
    QPalette pal = breaker->palette();
    pal.setColor(QPalette::WindowText, BreakerBand::colorFor(last.breaker));
    breaker->setPalette(pal);

    const auto &batches = m_telemetry->batches();
    m_batches->setRowCount(int(batches.size()));
    for (int row = 0; row < int(batches.size()); ++row) {
        const TaskProgress &b = batches[size_t(row)];
        auto set = [&](int column, const QString &text) {
            auto *item = m_batches->item(row, column);
            if (!item) {
                item = new QTableWidgetItem;
                m_batches->setItem(row, column, item);
            }
            item->setText(text);
        };
        set(0, b.taskId);
        set(1, b.campaign);
        set(2, b.source);
        auto *bar = qobject_cast<QProgressBar *>(m_batches->cellWidget(row, 3));
        if (!bar) {
            bar = new QProgressBar(m_batches);
            m_batches->setCellWidget(row, 3, bar);
        }
        bar->setRange(0, std::max(1, b.total));
        bar->setValue(b.processed);
        set(4, tr("%1 / %2").arg(b.processed).arg(b.total));
    }
}

} // namespace sluice

#include "moc_overviewpage.cpp" // NOLINT(bugprone-suspicious-include)
