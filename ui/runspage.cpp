#include "runspage.h"

#include "tones.h"

#include "core/clock.h"
#include "core/jsontext.h"
#include "local/localengine.h"
#include "runs/runledger.h"
#include "runs/runreport.h"

#include <QDateTime>
#include <QFile>
#include <QFileDialog>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sluice {

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
    m_customButton = new QPushButton(tr("&Run"), start);
    m_customButton->setToolTip(tr("Run the load test with the number of leads beside (Alt+R)"));
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
    auto *verdictRow = new QHBoxLayout;
    verdictRow->addWidget(m_verdict);
    verdictRow->addStretch();
    m_verifyButton = new QPushButton(tr("&Verify"), current);
    m_verifyButton->setToolTip(tr("List the campaign in Instantly and check every lead of the "
                                  "run is there exactly once"));
    connect(m_verifyButton, &QPushButton::clicked, this, [this] { verifyCurrent(false); });
    m_repairButton = new QPushButton(tr("Verify and &repair"), current);
    m_repairButton->setToolTip(tr("Verify, and queue the missing leads again"));
    connect(m_repairButton, &QPushButton::clicked, this, [this] { verifyCurrent(true); });
    m_cleanupButton = new QPushButton(tr("&Clean up…"), current);
    m_cleanupButton->setToolTip(tr("Preview, then delete the run's leads (and its campaign when "
                                   "the run created it)"));
    connect(m_cleanupButton, &QPushButton::clicked, this, [this] { cleanUpCurrent(true); });
    m_exportButton = new QPushButton(tr("&Export…"), current);
    connect(m_exportButton, &QPushButton::clicked, this, &RunsPage::exportCurrent);
    for (QPushButton *b : { m_verifyButton, m_repairButton, m_cleanupButton, m_exportButton })
        verdictRow->addWidget(b);
    currentLayout->addLayout(verdictRow);
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
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    historyLayout->addWidget(m_table);
    layout->addWidget(history, 2);
    connect(m_table, &QTableWidget::cellClicked, this, [this](int row, int) {
        // The table shows the newest first.
        const int index = int(m_history.size()) - 1 - row;
        if (index < 0 || index >= int(m_history.size()) || busy())
            return;
        m_current = index;
        showRecord(m_history[size_t(index)]);
    });
    updatePrediction();
    setBusy(false);
    m_ledger = std::make_unique<RunLedger>(m_engine->redis(), m_engine->keys());
    loadHistory();
}

RunsPage::~RunsPage() = default;

void RunsPage::updatePrediction()
{
    const LoadTestServices s = m_engine->loadTestServices();
    QStringList parts;
    for (int n : { 20, 200, 500, 1000, 2000 })
        parts << tr("%1 leads %2").arg(n).arg(consoleDuration(LoadTestRun::predictMs(n, 0, s)));
    parts << tr("%1 leads %2")
                 .arg(m_custom->value())
                 .arg(consoleDuration(LoadTestRun::predictMs(m_custom->value(), 0, s)));
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
    if (busy())
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
    RunSession *session = newSession([this](const RunOutcome &outcome) { finished(outcome); });
    d.mode = session->services().run.mode == DeliveryMode::Single ? QStringLiteral("single")
                                                                  : QStringLiteral("bulk");
    if (auto problem = session->start(d)) {
        m_status->setText(tr("Cannot start: %1").arg(*problem));
        m_session.reset();
        return false;
    }
    setBusy(true);
    m_checks->clear();
    m_verdict->clear();
    m_progress->setRange(0, leads);
    m_progress->setValue(0);
    m_status->setText(formatRunStarting(d));
    return true;
}

RunSession *RunsPage::newSession(std::function<void(const RunOutcome &)> done)
{
    m_session = std::make_unique<RunSession>(m_engine->runSessionServices());
    connect(m_session.get(), &RunSession::progressChanged, this, &RunsPage::showProgress);
    connect(m_session.get(), &RunSession::finished, this,
            [this, done = std::move(done)](const RunOutcome &outcome) {
                m_session.release()->deleteLater(); // we are inside its signal
                done(outcome);
            });
    return m_session.get();
}

void RunsPage::showProgress(const RunProgress &p)
{
    const QString text = formatProgressStatus(p);
    if (text.isEmpty())
        return;
    if (p.state != RunRecord::State::Verifying)
        m_progress->setValue(p.run.settled);
    m_status->setText(text);
}

void RunsPage::finished(const RunOutcome &outcome)
{
    const RunRecord &r = outcome.record;
    m_progress->setValue(m_progress->maximum());
    m_history.push_back(r);
    m_current = int(m_history.size()) - 1;
    addHistoryRow(r);
    showRecord(r);
    showNotSaved(outcome);
    setBusy(false);
    Q_EMIT runFinished(r);
}

void RunsPage::showNotSaved(const RunOutcome &outcome)
{
    if (outcome.saveError)
        m_status->setText(m_status->text()
                          + formatStatusNotSaved(outcome.record.definition.id, *outcome.saveError));
}

void RunsPage::showRecord(const RunRecord &r)
{
    m_verdict->setText(r.passed ? tr("PASS") : tr("FAIL"));
    QPalette pal = m_verdict->palette();
    pal.setColor(QPalette::WindowText, toneColor(r.passed ? Tone::Good : Tone::Bad, palette()));
    m_verdict->setPalette(pal);
    m_status->setText(formatRunStatus(r));
    m_checks->clear();
    for (const RunCheck &c : r.checks) {
        auto *item = new QTreeWidgetItem(m_checks,
                                         { c.name, c.passed ? tr("pass") : tr("FAIL"), c.detail });
        item->setForeground(1, toneColor(c.passed ? Tone::Good : Tone::Bad, palette()));
    }
    m_checks->resizeColumnToContents(0);
}

void RunsPage::setBusy(bool busy)
{
    for (QPushButton *b : std::as_const(m_stageButtons))
        b->setEnabled(!busy);
    m_customButton->setEnabled(!busy);
    const bool haveRun = m_current >= 0;
    m_verifyButton->setEnabled(!busy && haveRun);
    m_repairButton->setEnabled(!busy && haveRun);
    m_cleanupButton->setEnabled(!busy && haveRun);
    m_exportButton->setEnabled(!busy && haveRun);
}

bool RunsPage::verifyCurrent(bool repair)
{
    if (m_current < 0 || busy())
        return false;
    RunSession *session = newSession([this](const RunOutcome &outcome) { rechecked(outcome); });
    if (!session->verify(m_history[size_t(m_current)], repair)) {
        m_session.reset();
        return false;
    }
    setBusy(true);
    return true;
}

bool RunsPage::cleanUpCurrent(bool confirm)
{
    if (m_current < 0 || busy())
        return false;
    // First a preview (a dry run), so the operator sees what would go before anything does.
    RunSession *session = newSession([this, confirm](const RunOutcome &preview) {
        RunRecord *shown = historyRecord(preview.record.definition.id);
        if (!shown) {
            setBusy(false);
            return;
        }
        RunRecord &r = *shown;
        const CleanupReport &report = *preview.cleaned;
        r.cleanup = report; // shown, never saved: nothing was deleted
        showRecord(r);
        const bool go = report.error.isEmpty() && report.found > 0
            && (!confirm
                || QMessageBox::question(this, tr("Clean up run %1?").arg(r.definition.id),
                                         tr("Delete %1 lead(s) of this run from campaign '%2'%3?")
                                             .arg(report.found)
                                             .arg(r.definition.campaign)
                                             .arg(r.campaignCreatedByRun
                                                      ? tr(" and the campaign, which the run "
                                                           "created, if nothing else is in it")
                                                      : QString()))
                    == QMessageBox::Yes);
        if (!go) {
            setBusy(false);
            return;
        }
        newSession([this](const RunOutcome &done) {
            rechecked(done);
        })->cleanUp(r, CleanupMode::Delete);
    });
    if (!session->cleanUp(m_history[size_t(m_current)], CleanupMode::DryRun)) {
        m_session.reset();
        return false;
    }
    setBusy(true);
    m_status->setText(tr("Looking for the run's leads…"));
    return true;
}

void RunsPage::rechecked(const RunOutcome &outcome)
{
    RunRecord *r = historyRecord(outcome.record.definition.id);
    if (!r) {
        setBusy(false);
        return;
    }
    *r = outcome.record;
    replaceHistoryRow(*r);
    showRecord(*r);
    setBusy(false);
    showNotSaved(outcome);
    Q_EMIT recordChanged(*r);
}

RunRecord *RunsPage::historyRecord(const QString &id)
{
    // By id: the history may have been merged with the ledger's while a session ran.
    const auto it = std::find_if(m_history.begin(), m_history.end(),
                                 [&](const RunRecord &h) { return h.definition.id == id; });
    return it == m_history.end() ? nullptr : &*it;
}

void RunsPage::exportCurrent()
{
    if (m_current < 0)
        return;
    const RunRecord &r = m_history[size_t(m_current)];
    const QString file = QFileDialog::getSaveFileName(
        this, tr("Export run"), r.definition.id + QStringLiteral(".json"), tr("JSON (*.json)"));
    if (file.isEmpty())
        return;
    QFile out(file);
    if (!out.open(QIODevice::WriteOnly | QIODevice::Truncate)
        || out.write(jsonBytes(toJson(r), 2)) < 0)
        QMessageBox::warning(this, tr("Export failed"),
                             tr("Cannot write %1: %2").arg(file, out.errorString()));
}

void RunsPage::loadHistory()
{
    QPointer<RunsPage> self(this);
    m_ledger->list(50, [self](Result<RunList, LedgerError> listed) {
        if (!self || !listed.ok())
            return;
        // Oldest first into the history, so the table (newest on top) reads like the ledger.
        std::vector<RunRecord> runs = listed.value().runs;
        std::reverse(runs.begin(), runs.end());
        std::vector<RunRecord> merged;
        for (RunRecord &r : runs) {
            const bool known = std::any_of(
                self->m_history.begin(), self->m_history.end(),
                [&](const RunRecord &h) { return h.definition.id == r.definition.id; });
            if (!known)
                merged.push_back(std::move(r));
        }
        for (RunRecord &r : self->m_history)
            merged.push_back(std::move(r));
        self->m_history = std::move(merged);
        self->m_table->setRowCount(0);
        for (const RunRecord &r : self->m_history)
            self->addHistoryRow(r);
        if (self->m_current < 0 && !self->m_history.empty() && !self->busy()) {
            self->m_current = int(self->m_history.size()) - 1;
            self->showRecord(self->m_history.back());
        } else if (self->m_current >= 0) {
            self->m_current = int(self->m_history.size()) - 1;
        }
        self->setBusy(self->busy());
        Q_EMIT self->historyLoaded(int(self->m_history.size()));
    });
}

void RunsPage::replaceHistoryRow(const RunRecord &r)
{
    for (int row = 0; row < m_table->rowCount(); ++row) {
        if (m_table->item(row, 0) && m_table->item(row, 0)->text() == r.definition.id) {
            m_table->item(row, 7)->setText(r.passed ? tr("PASS") : tr("FAIL"));
            return;
        }
    }
}

void RunsPage::addHistoryRow(const RunRecord &r)
{
    m_table->insertRow(0);
    const QStringList cells {
        r.definition.id,
        QDateTime::fromMSecsSinceEpoch(r.createdMs).toString(QStringLiteral("HH:mm:ss")),
        QString::number(r.definition.leads),
        r.definition.mode,
        consoleDuration(r.deliveredMs - r.firstSentMs),
        QStringLiteral("%1 ms").arg(double(r.ack.p99) / 1000.0, 0, 'f', 1),
        QStringLiteral("%1 / %2").arg(r.delivered + r.skipped).arg(r.definition.leads),
        r.passed ? tr("PASS") : tr("FAIL"),
    };
    for (int c = 0; c < cells.size(); ++c)
        m_table->setItem(0, c, new QTableWidgetItem(cells[c]));
}

} // namespace sluice

#include "moc_runspage.cpp" // NOLINT(bugprone-suspicious-include)
