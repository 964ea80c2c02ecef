#include "deadletterspage.h"

#include "control/operatorcontrol.h"

#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

namespace sluice {

DeadLettersPage::DeadLettersPage(OperatorControl *control, QWidget *parent)
    : QWidget(parent)
    , m_control(control)
    , m_table(new QTableWidget(0, 6, this))
    , m_summary(new QLabel(this))
    , m_retryAll(new QPushButton(tr("Retry &all…"), this))
    , m_retryOne(new QPushButton(tr("Retry &selected"), this))
    , m_timer(new QTimer(this))
{
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    top->addWidget(m_summary, 1);
    auto *refreshButton = new QPushButton(tr("&Refresh"), this);
    connect(refreshButton, &QPushButton::clicked, this, &DeadLettersPage::refresh);
    top->addWidget(refreshButton);
    m_retryAll->setToolTip(tr("Queue every dead letter again (fix the cause first)"));
    connect(m_retryAll, &QPushButton::clicked, this, [this] {
        if (QMessageBox::question(this, tr("Retry all dead letters?"),
                                  tr("Queue all %1 dead-lettered lead(s) again? Leads already "
                                     "delivered are skipped, never sent twice.")
                                      .arg(m_table->rowCount()))
            == QMessageBox::Yes)
            retryAll();
    });
    m_retryOne->setEnabled(false);
    connect(m_retryOne, &QPushButton::clicked, this, &DeadLettersPage::retrySelected);
    top->addWidget(m_retryOne);
    top->addWidget(m_retryAll);
    layout->addLayout(top);
    m_table->setHorizontalHeaderLabels(
        { tr("When"), tr("Email"), tr("Campaign"), tr("Task"), tr("Attempts"), tr("Reason") });
    m_table->horizontalHeader()->setSectionResizeMode(5, QHeaderView::Stretch);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setWordWrap(false);
    layout->addWidget(m_table);
    m_table->setToolTip(tr("Double-click a dead letter to see its lead's timeline"));
    connect(m_table, &QTableWidget::cellDoubleClicked, this, [this](int row, int) {
        if (const QTableWidgetItem *lead = m_table->item(row, 1))
            Q_EMIT timelineRequested(lead->data(Qt::UserRole).toString());
    });
    connect(m_table, &QTableWidget::itemSelectionChanged, this,
            [this] { m_retryOne->setEnabled(!m_table->selectedItems().isEmpty()); });
    m_timer->setInterval(5000);
    connect(m_timer, &QTimer::timeout, this, &DeadLettersPage::refresh);
    m_summary->setText(tr("No dead letters loaded yet."));
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

void DeadLettersPage::refresh()
{
    if (m_loading)
        return;
    m_loading = true;
    QPointer<DeadLettersPage> self(this);
    m_control->deadLetters(500, [self](Result<std::vector<DeadLetter>, RedisError> r) {
        if (!self)
            return;
        self->m_loading = false;
        if (!r.ok()) {
            self->m_summary->setText(
                tr("Cannot read the dead letters: %1").arg(r.error().describe()));
            return;
        }
        const std::vector<DeadLetter> &letters = r.value();
        self->m_ids.clear();
        for (const DeadLetter &d : letters)
            self->m_ids.append(d.entryId);
        self->m_table->setRowCount(int(letters.size()));
        for (int row = 0; row < int(letters.size()); ++row) {
            const DeadLetter &d = letters[size_t(row)];
            const QStringList cells {
                QDateTime::fromMSecsSinceEpoch(d.deadMs).toString(
                    QStringLiteral("yyyy-MM-dd HH:mm:ss")),
                d.lead.lead.email.isEmpty() ? tr("(Close lead %1)").arg(d.lead.closeLeadId)
                                            : d.lead.lead.email,
                d.lead.campaignName,
                d.lead.taskId,
                QString::number(d.lead.attempt),
                d.reason,
            };
            for (int c = 0; c < cells.size(); ++c) {
                auto *item = new QTableWidgetItem(cells[c]);
                item->setToolTip(cells[c]);
                if (c == 1) // what the Leads page searches for
                    item->setData(Qt::UserRole,
                                  d.lead.lead.email.isEmpty()
                                      ? QStringLiteral("close:") + d.lead.closeLeadId
                                      : d.lead.lead.email);
                self->m_table->setItem(row, c, item);
            }
        }
        self->m_table->resizeColumnsToContents();
        self->m_summary->setText(
            letters.empty() ? tr("No dead letters: every lead was delivered, skipped or "
                                 "is still on its way.")
                            : tr("%1 dead-lettered lead(s), newest first.").arg(letters.size()));
        self->m_retryAll->setEnabled(!letters.empty());
        Q_EMIT self->refreshed(int(letters.size()));
    });
}

void DeadLettersPage::retrySelected()
{
    const int row = m_table->currentRow();
    if (row < 0 || row >= m_ids.size())
        return;
    QPointer<DeadLettersPage> self(this);
    m_control->retryDeadLetter(m_ids.at(row), [self](Result<int, RedisError> r) {
        if (!self)
            return;
        if (!r.ok()) {
            self->m_summary->setText(tr("Retry failed: %1").arg(r.error().describe()));
            return;
        }
        self->m_summary->setText(r.value() == 1 ? tr("Queued again.")
                                                : tr("That dead letter was already gone."));
        Q_EMIT self->retried(r.value());
        self->refresh();
    });
}

void DeadLettersPage::retryAll()
{
    QPointer<DeadLettersPage> self(this);
    m_control->retryDeadLetters(1'000'000, [self](Result<int, RedisError> r) {
        if (!self)
            return;
        if (!r.ok()) {
            self->m_summary->setText(tr("Retry failed: %1").arg(r.error().describe()));
            return;
        }
        self->m_summary->setText(tr("%1 lead(s) queued again.").arg(r.value()));
        Q_EMIT self->retried(r.value());
        self->refresh();
    });
}

} // namespace sluice
