#include "runspage.h"

#include "tones.h"

#include "core/clock.h"
#include "delivery/localengine.h"
#include "runs/cleaner.h"
#include "runs/runledger.h"
#include "runs/verifier.h"

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
        if (index < 0 || index >= int(m_history.size()) || m_verifier || m_cleaner || m_run)
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
    setBusy(true);
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
    RunRecord r = m_run->record();
    m_observable = m_run->progress().deliveryObservable;
    m_run.release()->deleteLater(); // we are inside its signal
    m_progress->setValue(m_progress->maximum());
    r.instantlyUrl = m_engine->options().serve.instantlyUrl.toString();
    r.embeddedSandbox = m_engine->sandbox() != nullptr;
    m_history.push_back(r);
    m_current = int(m_history.size()) - 1;
    save(r);
    addHistoryRow(r);
    showRecord(r);
    setBusy(false);
    Q_EMIT runFinished(r);
}

void RunsPage::showRecord(const RunRecord &r)
{
    m_verdict->setText(r.passed ? tr("PASS") : tr("FAIL"));
    QPalette pal = m_verdict->palette();
    pal.setColor(QPalette::WindowText, toneColor(r.passed ? Tone::Good : Tone::Bad, palette()));
    m_verdict->setPalette(pal);
    QString text = tr("Run %1: %2 leads acknowledged in %3, delivered in %4 (predicted %5)")
                       .arg(r.definition.id)
                       .arg(r.acknowledged)
                       .arg(secondsText(r.lastAckMs - r.firstSentMs))
                       .arg(secondsText(r.deliveredMs - r.firstSentMs))
                       .arg(secondsText(r.predictedMs));
    if (!r.stopReason.isEmpty())
        text += tr(" — stopped: %1").arg(r.stopReason);
    if (r.verify)
        text += tr("\nVerified: %1 present, %2 missing, %3 duplicated, %4 extra%5")
                    .arg(r.verify->present)
                    .arg(r.verify->missing.size())
                    .arg(r.verify->duplicated.size())
                    .arg(r.verify->extra.size())
                    .arg(r.verify->repaired > 0 ? tr("; %1 re-queued").arg(r.verify->repaired)
                                                : QString());
    if (r.cleanup)
        text += tr("\nClean-up%1: %2 found, %3 deleted, %4 remaining%5")
                    .arg(r.cleanup->dryRun ? tr(" preview") : QString())
                    .arg(r.cleanup->found)
                    .arg(r.cleanup->deleted)
                    .arg(r.cleanup->remaining)
                    .arg(r.cleanup->campaignNote.isEmpty()
                             ? QString()
                             : tr("; campaign %1").arg(r.cleanup->campaignNote));
    m_status->setText(text);
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
    if (m_current < 0 || m_verifier || m_cleaner || m_run)
        return false;
    m_verifier = std::make_unique<Verifier>(m_engine->instantly());
    m_verifier->setJournal(m_engine->journal());
    connect(m_verifier.get(), &Verifier::progressed, this, [this](int pages, int listed) {
        m_status->setText(tr("Verifying: %1 page(s), %2 lead(s) listed…").arg(pages).arg(listed));
    });
    connect(m_verifier.get(), &Verifier::finished, this, [this](const VerifyReport &report) {
        RunRecord &r = m_history[size_t(m_current)];
        r.verify = report;
        judgeRecord(r, m_observable);
        replaceHistoryRow(r);
        showRecord(r);
        m_verifier.release()->deleteLater();
        setBusy(false);
        save(r);
        Q_EMIT recordChanged(r);
    });
    setBusy(true);
    std::optional<RepairTarget> target;
    if (repair)
        target = RepairTarget { m_engine->redis(), m_engine->keys() };
    return m_verifier->start(m_history[size_t(m_current)].definition, target);
}

bool RunsPage::cleanUpCurrent(bool confirm)
{
    if (m_current < 0 || m_verifier || m_cleaner || m_run)
        return false;
    // First a preview (a dry run), so the operator sees what would go before anything does.
    m_cleaner = std::make_unique<Cleaner>(m_engine->instantly());
    connect(m_cleaner.get(), &Cleaner::finished, this,
            [this, confirm](const CleanupReport &report) {
                RunRecord &r = m_history[size_t(m_current)];
                m_cleaner.release()->deleteLater();
                if (report.dryRun) {
                    r.cleanup = report;
                    showRecord(r);
                    const bool go = report.error.isEmpty() && report.found > 0
                        && (!confirm
                            || QMessageBox::question(
                                   this, tr("Clean up run %1?").arg(r.definition.id),
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
                    m_cleaner = std::make_unique<Cleaner>(m_engine->instantly());
                    m_cleaner->setJournal(m_engine->journal());
                    connect(m_cleaner.get(), &Cleaner::finished, this,
                            [this](const CleanupReport &done) {
                                RunRecord &rec = m_history[size_t(m_current)];
                                rec.cleanup = done;
                                judgeRecord(rec, m_observable);
                                replaceHistoryRow(rec);
                                showRecord(rec);
                                m_cleaner.release()->deleteLater();
                                setBusy(false);
                                save(rec);
                                Q_EMIT recordChanged(rec);
                            });
                    m_cleaner->start(r, CleanupMode::Delete);
                    return;
                }
            });
    setBusy(true);
    m_status->setText(tr("Looking for the run's leads…"));
    return m_cleaner->start(m_history[size_t(m_current)], CleanupMode::DryRun);
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
        || out.write(QByteArray::fromStdString(toJson(r).dump(2))) < 0)
        QMessageBox::warning(this, tr("Export failed"),
                             tr("Cannot write %1: %2").arg(file, out.errorString()));
}

void RunsPage::save(const RunRecord &r)
{
    QPointer<RunsPage> self(this);
    m_ledger->save(r, [self, id = r.definition.id](Result<RunSaveOutcome, LedgerError> saved) {
        if (self && !saved.ok())
            self->m_status->setText(
                self->m_status->text()
                + tr("\nRun %1 was not saved in the ledger: %2").arg(id, saved.error().describe()));
    });
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
        secondsText(r.deliveredMs - r.firstSentMs),
        QStringLiteral("%1 ms").arg(double(r.ack.p99) / 1000.0, 0, 'f', 1),
        QStringLiteral("%1 / %2").arg(r.delivered + r.skipped).arg(r.definition.leads),
        r.passed ? tr("PASS") : tr("FAIL"),
    };
    for (int c = 0; c < cells.size(); ++c)
        m_table->setItem(0, c, new QTableWidgetItem(cells[c]));
}

} // namespace sluice
