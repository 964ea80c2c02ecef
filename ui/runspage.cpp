#include "runspage.h"

#include "core/clock.h"
#include "delivery/localengine.h"

#include <QDateTime>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

namespace {

QString secondsText(qint64 ms)
{
    if (ms < 0)
        return QStringLiteral("?");
    if (ms < 60'000)
        return QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    return QStringLiteral("%1 min %2 s").arg(ms / 60'000).arg((ms % 60'000) / 1000);
}

} // namespace

RunsPage::RunsPage(LocalEngine *engine, bool live, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_live(live)
{
    auto *layout = new QVBoxLayout(this);

    auto *start = new QGroupBox(tr("Start a load test"), this);
    auto *startLayout = new QVBoxLayout(start);
    auto *buttons = new QHBoxLayout;
    for (int n : { 20, 200, 500, 1000, 2000 }) {
        auto *b = new QPushButton(tr("%1 leads").arg(n), start);
        b->setToolTip(tr("Fire %1 Close webhooks, follow every lead into Instantly, judge the "
                         "run")
                          .arg(n));
        connect(b, &QPushButton::clicked, this, [this, n] { startRun(n, QString::number(n)); });
        buttons->addWidget(b);
        m_stageButtons.append(b);
    }
    buttons->addSpacing(16);
    m_custom = new QSpinBox(start);
    m_custom->setRange(1, 100'000);
    m_custom->setValue(50);
    m_custom->setSuffix(tr(" leads"));
    buttons->addWidget(m_custom);
    m_customButton = new QPushButton(tr("Run"), start);
    connect(m_customButton, &QPushButton::clicked, this,
            [this] { startRun(m_custom->value(), tr("custom")); });
    buttons->addWidget(m_customButton);
    buttons->addStretch();
    startLayout->addLayout(buttons);
    m_prediction = new QLabel(start);
    startLayout->addWidget(m_prediction);
    connect(m_custom, &QSpinBox::valueChanged, this, &RunsPage::updatePrediction);
    layout->addWidget(start);

    auto *current = new QGroupBox(tr("Current run"), this);
    auto *currentLayout = new QVBoxLayout(current);
    m_progress = new QProgressBar(current);
    m_progress->setRange(0, 1);
    m_progress->setValue(0);
    m_status = new QLabel(tr("No run yet."), current);
    m_verdict = new QLabel(current);
    QFont big = m_verdict->font();
    big.setPointSizeF(big.pointSizeF() * 1.4);
    big.setBold(true);
    m_verdict->setFont(big);
    m_checks = new QTreeWidget(current);
    m_checks->setHeaderLabels({ tr("Check"), tr("Result"), tr("Detail") });
    m_checks->setRootIsDecorated(false);
    m_checks->header()->setSectionResizeMode(2, QHeaderView::Stretch);
    m_checks->setMinimumHeight(140);
    currentLayout->addWidget(m_progress);
    currentLayout->addWidget(m_status);
    currentLayout->addWidget(m_verdict);
    currentLayout->addWidget(m_checks);
    layout->addWidget(current, 2);

    auto *history = new QGroupBox(tr("Runs"), this);
    auto *historyLayout = new QVBoxLayout(history);
    m_table = new QTableWidget(0, 8, history);
    m_table->setHorizontalHeaderLabels({ tr("Run"), tr("Started"), tr("Leads"), tr("Mode"),
                                         tr("Duration"), tr("p99 ack"), tr("Delivered"),
                                         tr("Verdict") });
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_table->verticalHeader()->hide();
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    historyLayout->addWidget(m_table);
    layout->addWidget(history, 2);
    updatePrediction();
}

RunsPage::~RunsPage() = default;

void RunsPage::updatePrediction()
{
    const LoadTestServices s = m_engine->loadTestServices();
    QStringList parts;
    for (int n : { 20, 200, 500, 1000, 2000 })
        parts << tr("%1 leads %2").arg(n).arg(secondsText(LoadTestRun::predictMs(n, 0, s)));
    parts << tr("%1 leads %2")
                 .arg(m_custom->value())
                 .arg(secondsText(LoadTestRun::predictMs(m_custom->value(), 0, s)));
    m_prediction->setText(tr("Predicted time to deliver (%1 mode at %2 requests/s, empty queue): "
                             "%3")
                              .arg(s.mode == DeliveryMode::Single ? tr("single") : tr("bulk"))
                              .arg(s.effectivePerSecond, 0, 'f', 1)
                              .arg(parts.join(QStringLiteral(" · "))));
}

QString RunsPage::predictionText() const
{
    return m_prediction->text();
}

QString RunsPage::verdictText() const
{
    return m_verdict->text();
}

bool RunsPage::startRun(int leads, const QString &stage)
{
    if (m_run)
        return false;
    if (m_live
        && QMessageBox::question(this, tr("Send real leads?"),
                                 tr("This sends %1 test leads to your real Instantly workspace. "
                                    "They can be cleaned up afterwards. Continue?")
                                     .arg(leads))
            != QMessageBox::Yes)
        return false;
    RunDefinition d;
    const qint64 now = wallClockMs();
    d.id = newRunId(now);
    d.timestamp = QString::number(now / 1000);
    d.leads = leads;
    d.stage = stage;
    d.campaign = QStringLiteral("TimeoutTest") + d.timestamp;
    const LoadTestServices services = m_engine->loadTestServices();
    d.mode
        = services.mode == DeliveryMode::Single ? QStringLiteral("single") : QStringLiteral("bulk");
    m_run = std::make_unique<LoadTestRun>(d, services);
    if (auto problem = m_run->problem()) {
        m_status->setText(tr("Cannot start: %1").arg(*problem));
        m_run.reset();
        return false;
    }
    connect(m_run.get(), &LoadTestRun::progressChanged, this, &RunsPage::showProgress);
    connect(m_run.get(), &LoadTestRun::finished, this, &RunsPage::finished);
    for (QPushButton *b : std::as_const(m_stageButtons))
        b->setEnabled(false);
    m_customButton->setEnabled(false);
    m_checks->clear();
    m_verdict->clear();
    m_progress->setRange(0, leads);
    m_progress->setValue(0);
    m_status->setText(
        tr("Run %1: %2 leads to campaign '%3'…").arg(d.id).arg(leads).arg(d.campaign));
    m_run->start();
    return true;
}

void RunsPage::showProgress(const LoadTestProgress &p)
{
    if (!m_run)
        return;
    m_progress->setValue(p.settled);
    m_status->setText(tr("%1: %2 of %3 webhooks sent, %4 delivered, %5 leads/s, ETA %6 "
                         "(predicted %7)")
                          .arg(RunRecord::stateName(p.state))
                          .arg(p.sent)
                          .arg(p.total)
                          .arg(p.delivered)
                          .arg(p.drainPerSecond, 0, 'f', 1)
                          .arg(secondsText(p.etaMs))
                          .arg(secondsText(m_run->record().predictedMs)));
}

void RunsPage::finished()
{
    const RunRecord r = m_run->record();
    m_run.release()->deleteLater(); // we are inside its signal
    m_progress->setValue(m_progress->maximum());
    m_verdict->setText(r.passed ? tr("PASS") : tr("FAIL"));
    QPalette pal = m_verdict->palette();
    pal.setColor(QPalette::WindowText,
                 r.passed ? QColor(0x2e, 0x7d, 0x32) : QColor(0xc6, 0x28, 0x28));
    m_verdict->setPalette(pal);
    m_status->setText(
        tr("Run %1: %2 leads acknowledged in %3, delivered in %4 (predicted %5)%6")
            .arg(r.definition.id)
            .arg(r.acknowledged)
            .arg(secondsText(r.lastAckMs - r.firstSentMs))
            .arg(secondsText(r.deliveredMs - r.firstSentMs))
            .arg(secondsText(r.predictedMs))
            .arg(r.stopReason.isEmpty() ? QString() : tr(" — stopped: %1").arg(r.stopReason)));
    m_checks->clear();
    for (const RunCheck &c : r.checks) {
        auto *item = new QTreeWidgetItem(m_checks,
                                         { c.name, c.passed ? tr("pass") : tr("FAIL"), c.detail });
        item->setForeground(1, c.passed ? QColor(0x2e, 0x7d, 0x32) : QColor(0xc6, 0x28, 0x28));
    }
    m_checks->resizeColumnToContents(0);
    for (QPushButton *b : std::as_const(m_stageButtons))
        b->setEnabled(true);
    m_customButton->setEnabled(true);
    m_history.push_back(r);
    addHistoryRow(r);
    Q_EMIT runFinished(r);
}

void RunsPage::addHistoryRow(const RunRecord &r)
{
    m_table->insertRow(0);
    const QStringList cells {
        r.definition.id,
        QDateTime::fromMSecsSinceEpoch(r.createdMs).toString(QStringLiteral("HH:mm:ss")),
        QString::number(r.definition.leads),
        r.definition.mode,
        secondsText(r.deliveredMs - r.firstSentMs),
        QStringLiteral("%1 ms").arg(double(r.ack.p99) / 1000.0, 0, 'f', 1),
        QStringLiteral("%1 / %2").arg(r.delivered + r.skipped).arg(r.definition.leads),
        r.passed ? tr("PASS") : tr("FAIL"),
    };
    for (int c = 0; c < cells.size(); ++c)
        m_table->setItem(0, c, new QTableWidgetItem(cells[c]));
}

} // namespace sluice
