#include "deadletterspage.h"

#include "agetext.h"
#include "core/clock.h"
#include "tones.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QSet>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <utility>

namespace sluice {

namespace {

/// Leads listed for the selected reason, newest first. The counts cover all of them, and so
/// does Retry all of this reason.
constexpr int kDeadLettersListed = 1000;

QTableWidget *deadLetterTable(const QStringList &headers, QWidget *parent)
{
    auto *table = new QTableWidget(0, int(headers.size()), parent);
    table->setHorizontalHeaderLabels(headers);
    table->horizontalHeader()->setStretchLastSection(true);
    table->verticalHeader()->hide();
    table->verticalHeader()->setDefaultSectionSize(table->fontMetrics().height() + 6);
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setWordWrap(false);
    return table;
}

} // namespace

DeadLettersPage::DeadLettersPage(OperatorControl *control, QWidget *parent)
    : QWidget(parent)
    , m_control(control)
    , m_reasons(deadLetterTable({ tr("Reason"), tr("Code"), tr("Leads"), tr("Newest") }, this))
    , m_entries(deadLetterTable(
          { tr("Email"), tr("Campaign"), tr("Age"), tr("Attempts"), tr("Detail") }, this))
    , m_action(new QLabel(this))
    , m_summary(new QLabel(this))
    , m_status(new QLabel(this))
    , m_retryOne(new QPushButton(tr("Retry &selected"), this))
    , m_retryReason(new QPushButton(tr("Retry &all of this reason…"), this))
    , m_discard(new QPushButton(tr("&Discard selected…"), this))
    , m_timer(new QTimer(this))
{
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    top->addWidget(m_summary, 1);
    auto *refreshButton = new QPushButton(tr("Re&fresh"), this);
    connect(refreshButton, &QPushButton::clicked, this, &DeadLettersPage::refresh);
    top->addWidget(refreshButton);
    layout->addLayout(top);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName(QStringLiteral("deadLettersSplitter"));
    m_reasons->setParent(splitter);
    m_reasons->setSelectionMode(QAbstractItemView::SingleSelection);
    m_reasons->horizontalHeader()->setStretchLastSection(false);
    m_reasons->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_reasons->setToolTip(tr("Why leads failed for good; pick one to see what to do and its "
                             "leads"));
    splitter->addWidget(m_reasons);

    auto *right = new QWidget(splitter);
    auto *rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    // What to do is what the operator came for: large, framed, above the leads.
    m_action->setObjectName(QStringLiteral("deadLetterAction"));
    m_action->setWordWrap(true);
    m_action->setTextFormat(Qt::RichText);
    m_action->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_action->setMargin(10);
    QFont actionFont = m_action->font();
    actionFont.setPointSizeF(actionFont.pointSizeF() * 1.15);
    m_action->setFont(actionFont);
    m_action->setStyleSheet(QStringLiteral("#deadLetterAction { border: 2px solid %1; "
                                           "border-radius: 4px; }")
                                .arg(toneColor(Tone::Warning, palette()).name()));
    rightLayout->addWidget(m_action);

    auto *buttons = new QHBoxLayout;
    m_retryOne->setToolTip(tr("Queue the selected leads again"));
    connect(m_retryOne, &QPushButton::clicked, this, &DeadLettersPage::retrySelected);
    buttons->addWidget(m_retryOne);
    m_retryReason->setToolTip(tr("Queue every dead letter of this reason again (fix the cause "
                                 "first); leads already delivered are never sent twice"));
    connect(m_retryReason, &QPushButton::clicked, this, [this] {
        const LeadReason reason = selectedReason();
        qint64 count = 0;
        for (const DeadLetterCount &c : m_counts)
            if (c.code == reason)
                count = c.count;
        if (QMessageBox::question(this, tr("Retry all of this reason?"),
                                  tr("Queue all %1 dead letter(s) of \"%2\" again? Do it once "
                                     "the cause is fixed, or they come back here.")
                                      .arg(count)
                                      .arg(leadReasonTitle(reason)))
            == QMessageBox::Yes)
            retryReason();
    });
    buttons->addWidget(m_retryReason);
    buttons->addStretch();
    m_discard->setToolTip(tr("Give up on the selected leads for good, saying why: they leave "
                             "this list, are kept aside, and each lead's timeline records it"));
    connect(m_discard, &QPushButton::clicked, this, [this] {
        const int count = int(selectedIds().size());
        bool ok = false;
        const QString why = QInputDialog::getText(
            this, tr("Discard %1 dead letter(s)").arg(count),
            tr("Why are they never to be sent? Recorded with your name (%1) in each lead's "
               "timeline.")
                .arg(operatorName()),
            QLineEdit::Normal, QString(), &ok);
        if (ok)
            discardSelected(why);
    });
    buttons->addWidget(m_discard);
    rightLayout->addLayout(buttons);

    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status->hide();
    rightLayout->addWidget(m_status);

    m_entries->setParent(right);
    m_entries->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_entries->setToolTip(tr("Double-click a lead to see its timeline"));
    rightLayout->addWidget(m_entries, 1);
    splitter->addWidget(right);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({ 380, 800 });
    layout->addWidget(splitter, 1);

    connect(m_reasons, &QTableWidget::itemSelectionChanged, this, [this] {
        // Another reason: its words at once, its leads with the next read (now).
        showAction();
        showEntries({});
        refresh();
    });
    connect(m_entries, &QTableWidget::itemSelectionChanged, this, &DeadLettersPage::updateButtons);
    connect(m_entries, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
        if (const QTableWidgetItem *lead = m_entries->item(row, 0))
            Q_EMIT timelineRequested(lead->data(Qt::UserRole + 1).toString());
    });
    m_timer->setInterval(5000);
    connect(m_timer, &QTimer::timeout, this, &DeadLettersPage::refresh);
    m_summary->setText(tr("No dead letters loaded yet."));
    showAction();
}

QString DeadLettersPage::operatorName()
{
    for (const char *name : { "USER", "LOGNAME", "USERNAME" }) {
        QString user = qEnvironmentVariable(name).trimmed();
        if (!user.isEmpty())
            return user;
    }
    return QStringLiteral("console");
}

void DeadLettersPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    m_timer->start();
    refresh();
}

void DeadLettersPage::hideEvent(QHideEvent *event)
{
    QWidget::hideEvent(event);
    m_timer->stop();
}

QString DeadLettersPage::actionText() const
{
    return m_action->isHidden() ? QString() : m_action->text();
}

QString DeadLettersPage::summaryText() const
{
    return m_summary->text();
}

QString DeadLettersPage::statusText() const
{
    return m_status->isHidden() ? QString() : m_status->text();
}

LeadReason DeadLettersPage::selectedReason() const
{
    const QList<QTableWidgetItem *> selected = m_reasons->selectedItems();
    if (selected.isEmpty())
        return LeadReason::Unknown;
    const QTableWidgetItem *item = m_reasons->item(selected.front()->row(), 0);
    return item ? LeadReason(item->data(Qt::UserRole).toInt()) : LeadReason::Unknown;
}

bool DeadLettersPage::selectReason(LeadReason reason)
{
    for (int row = 0; row < m_reasons->rowCount(); ++row)
        if (m_reasons->item(row, 0)->data(Qt::UserRole).toInt() == int(reason)) {
            m_reasons->selectRow(row);
            return true;
        }
    return false;
}

void DeadLettersPage::refresh()
{
    // One read at a time; a refresh asked for meanwhile runs once when it ends.
    if (m_loading) {
        m_again = true;
        return;
    }
    m_loading = true;
    QPointer<DeadLettersPage> self(this);
    m_control->deadLetterCounts([self](Result<std::vector<DeadLetterCount>, RedisError> r) {
        if (!self)
            return;
        if (!r.ok()) {
            self->m_summary->setText(
                tr("Cannot read the dead letters: %1").arg(r.error().describe()));
            self->loaded();
            return;
        }
        self->showCounts(std::move(r).value());
        if (self->m_reasons->selectedItems().isEmpty()) {
            self->showEntries({});
            self->loaded();
            return;
        }
        const LeadReason reason = self->selectedReason();
        self->m_control->deadLettersWithReason(
            reason, kDeadLettersListed,
            [self, reason](Result<std::vector<DeadLetter>, RedisError> letters) {
                if (!self)
                    return;
                if (!letters.ok())
                    self->m_summary->setText(
                        tr("Cannot read the dead letters: %1").arg(letters.error().describe()));
                else if (self->selectedReason() == reason)
                    self->showEntries(letters.value());
                self->loaded();
            });
    });
}

void DeadLettersPage::loaded()
{
    m_loading = false;
    Q_EMIT refreshed(m_total);
    if (std::exchange(m_again, false))
        refresh();
}

void DeadLettersPage::showCounts(std::vector<DeadLetterCount> counts)
{
    m_counts = std::move(counts);
    // In the engine's order of reasons (the same order everywhere), only those with leads.
    std::vector<DeadLetterCount> shown;
    for (LeadReason reason : allLeadReasons())
        for (const DeadLetterCount &c : m_counts)
            if (c.code == reason && c.count > 0)
                shown.push_back(c);
    const bool hadSelection = !m_reasons->selectedItems().isEmpty();
    const LeadReason keep = selectedReason();
    const qint64 now = wallClockMs();
    m_total = 0;
    bool changed = false;
    {
        const QSignalBlocker quiet(m_reasons);
        m_reasons->setRowCount(int(shown.size()));
        int keepRow = -1;
        for (int row = 0; row < int(shown.size()); ++row) {
            const DeadLetterCount &c = shown[size_t(row)];
            m_total += c.count;
            if (hadSelection && c.code == keep)
                keepRow = row;
            const QStringList cells { leadReasonTitle(c.code),
                                      QString::fromLatin1(leadReasonCode(c.code)),
                                      QString::number(c.count), ageText(c.newestMs, now) };
            for (int column = 0; column < cells.size(); ++column) {
                auto *item = new QTableWidgetItem(cells[column]);
                item->setToolTip(column == 3 ? timestampText(c.newestMs)
                                             : leadReasonAction(c.code));
                if (column == 0)
                    item->setData(Qt::UserRole, int(c.code));
                if (column == 1)
                    item->setForeground(toneColor(Tone::Muted, palette()));
                if (column == 2)
                    item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                m_reasons->setItem(row, column, item);
            }
        }
        // The reason that was selected, else the first: the page always shows what to do.
        if (keepRow < 0 && !shown.empty())
            keepRow = 0;
        if (keepRow >= 0)
            m_reasons->selectRow(keepRow);
        else
            m_reasons->clearSelection();
        changed = !hadSelection || keepRow < 0 || selectedReason() != keep;
        m_reasons->resizeColumnsToContents();
        m_reasons->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    }
    m_summary->setText(
        m_total == 0
            ? tr("No dead letters: every lead was delivered, skipped, parked or "
                 "is still on its way.")
            : tr("%1 dead-lettered lead(s) for %2 reason(s).").arg(m_total).arg(shown.size()));
    if (changed)
        showEntries({});
    showAction();
}

void DeadLettersPage::showAction()
{
    const bool any = !m_reasons->selectedItems().isEmpty();
    const LeadReason reason = selectedReason();
    m_action->setVisible(any);
    if (any)
        m_action->setText(QStringLiteral("<b>%1</b> <span style=\"color:%2\">(%3)</span><br>%4")
                              .arg(leadReasonTitle(reason).toHtmlEscaped(),
                                   toneColor(Tone::Muted, palette()).name(),
                                   QString::fromLatin1(leadReasonCode(reason)),
                                   leadReasonAction(reason).toHtmlEscaped()));
    updateButtons();
}

void DeadLettersPage::showEntries(const std::vector<DeadLetter> &letters)
{
    QSet<QByteArray> keep;
    for (const QByteArray &id : selectedIds())
        keep.insert(id);
    const QSignalBlocker quiet(m_entries);
    m_entries->clearSelection();
    m_entries->setRowCount(int(letters.size()));
    const qint64 now = wallClockMs();
    for (int row = 0; row < int(letters.size()); ++row) {
        const DeadLetter &d = letters[size_t(row)];
        const QString lead = d.lead.lead.email.isEmpty()
            ? tr("(Close lead %1)").arg(d.lead.closeLeadId)
            : d.lead.lead.email;
        const QStringList cells { lead, d.lead.campaignName, ageText(d.deadMs, now),
                                  QString::number(d.lead.attempt), d.reason };
        for (int column = 0; column < cells.size(); ++column) {
            auto *item = new QTableWidgetItem(cells[column]);
            item->setToolTip(column == 2 ? tr("dead-lettered %1").arg(timestampText(d.deadMs))
                                         : cells[column]);
            if (column == 0) {
                item->setData(Qt::UserRole, d.entryId);
                item->setData(Qt::UserRole + 1,
                              d.lead.lead.email.isEmpty()
                                  ? QStringLiteral("close:") + d.lead.closeLeadId
                                  : d.lead.lead.email);
            }
            if (column == 3)
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_entries->setItem(row, column, item);
        }
        if (keep.contains(d.entryId))
            m_entries->selectionModel()->select(m_entries->model()->index(row, 0),
                                                QItemSelectionModel::Select
                                                    | QItemSelectionModel::Rows);
    }
    m_entries->resizeColumnsToContents();
    qint64 count = 0;
    for (const DeadLetterCount &c : m_counts)
        if (c.code == selectedReason())
            count = c.count;
    m_entries->setToolTip(
        count > qint64(letters.size()) && !letters.empty()
            ? tr("The newest %1 of this reason are listed; %2 more are older (Retry all of "
                 "this reason includes them)")
                  .arg(letters.size())
                  .arg(count - qint64(letters.size()))
            : tr("Double-click a lead to see its timeline"));
    updateButtons();
}

void DeadLettersPage::updateButtons()
{
    const bool anyReason = !m_reasons->selectedItems().isEmpty();
    const bool anyLead = !m_entries->selectionModel()->selectedRows().isEmpty();
    m_retryOne->setEnabled(anyLead);
    m_discard->setEnabled(anyLead);
    m_retryReason->setEnabled(anyReason);
}

std::vector<QByteArray> DeadLettersPage::selectedIds() const
{
    std::vector<QByteArray> ids;
    for (const QModelIndex &index : m_entries->selectionModel()->selectedRows())
        if (const QTableWidgetItem *item = m_entries->item(index.row(), 0))
            ids.push_back(item->data(Qt::UserRole).toByteArray());
    return ids;
}

void DeadLettersPage::report(const QString &text, bool bad)
{
    m_status->setStyleSheet(
        QStringLiteral("color:%1").arg(toneColor(bad ? Tone::Bad : Tone::Good, palette()).name()));
    m_status->setText(text);
    m_status->show();
}

void DeadLettersPage::retrySelected()
{
    const std::vector<QByteArray> ids = selectedIds();
    if (ids.empty())
        return;
    QPointer<DeadLettersPage> self(this);
    m_control->retryDeadLetters(ids, [self](Result<int, RedisError> r) {
        if (!self)
            return;
        if (!r.ok()) {
            self->report(tr("Retry failed: %1").arg(r.error().describe()), true);
            return;
        }
        self->report(tr("%1 lead(s) queued again.").arg(r.value()), false);
        Q_EMIT self->retried(r.value());
        self->refresh();
    });
}

void DeadLettersPage::retryReason()
{
    if (m_reasons->selectedItems().isEmpty())
        return;
    const LeadReason reason = selectedReason();
    QPointer<DeadLettersPage> self(this);
    m_control->retryDeadLettersWithReason(
        reason, 1'000'000, [self, reason](Result<int, RedisError> r) {
            if (!self)
                return;
            if (!r.ok()) {
                self->report(tr("Retry failed: %1").arg(r.error().describe()), true);
                return;
            }
            self->report(tr("%1 lead(s) of \"%2\" queued again.")
                             .arg(r.value())
                             .arg(leadReasonTitle(reason)),
                         false);
            Q_EMIT self->retried(r.value());
            self->refresh();
        });
}

void DeadLettersPage::discardSelected(const QString &why)
{
    const std::vector<QByteArray> ids = selectedIds();
    if (ids.empty())
        return;
    QPointer<DeadLettersPage> self(this);
    const auto refused = m_control->discardDeadLetters(
        ids, operatorName(), why, [self](Result<int, RedisError> r) {
            if (!self)
                return;
            if (!r.ok()) {
                self->report(tr("Discard failed: %1").arg(r.error().describe()), true);
                return;
            }
            self->report(tr("%1 lead(s) discarded.").arg(r.value()), false);
            Q_EMIT self->discarded(r.value());
            self->refresh();
        });
    if (refused)
        report(tr("Not discarded: %1").arg(*refused), true);
}

} // namespace sluice

#include "moc_deadletterspage.cpp" // NOLINT(bugprone-suspicious-include)
