#include "backfilldialog.h"

#include "close/closeclient.h"
#include "close/closegate.h"
#include "local/localengine.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPointer>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

BackfillDialog::BackfillDialog(LocalEngine *engine, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Backfill from Close"));
    setObjectName(QStringLiteral("backfillDialog"));
    auto *layout = new QVBoxLayout(this);
    auto *intro = new QLabel(
        tr("Finds the Close tasks \"Instantly: <campaign>\" created since a time and queues the "
           "ones Sluice never saw: the way back after Sluice was down longer than Close's "
           "retries, or Close paused the webhook subscription. Tasks already queued (by "
           "webhook or an earlier backfill) are left alone."),
        this);
    intro->setWordWrap(true);
    layout->addWidget(intro);

    auto *row = new QHBoxLayout;
    auto *form = new QFormLayout;
    m_since = new QLineEdit(QStringLiteral("24h"), this);
    m_since->setObjectName(QStringLiteral("backfillSince"));
    m_since->setToolTip(tr("ISO 8601 (2026-12-07T06:00:00Z; UTC without an offset) or a "
                           "duration back from now: 90m, 6h, 2d"));
    form->addRow(tr("Since:"), m_since);
    row->addLayout(form, 1);
    m_preview = new QPushButton(tr("Preview"), this);
    m_preview->setDefault(true);
    row->addWidget(m_preview);
    layout->addLayout(row);

    m_table = new QTreeWidget(this);
    m_table->setObjectName(QStringLiteral("backfillTable"));
    m_table->setRootIsDecorated(false);
    m_table->setHeaderLabels(
        { tr("Close task"), tr("Lead"), tr("Created (UTC)"), tr("Campaign"), tr("State") });
    m_table->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    layout->addWidget(m_table, 1);
    m_status
        = new QLabel(tr("Choose a time and press Preview: nothing is queued before Queue."), this);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_status);

    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
    m_queue = buttons->addButton(tr("Queue"), QDialogButtonBox::ActionRole);
    m_queue->setEnabled(false);
    layout->addWidget(buttons);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_preview, &QPushButton::clicked, this, &BackfillDialog::preview);
    connect(m_queue, &QPushButton::clicked, this, &BackfillDialog::queue);
    connect(m_since, &QLineEdit::textEdited, this, [this] {
        m_plan.reset();
        m_queue->setEnabled(false);
    });

    const DeliverySettings *settings
        = engine->delivery() ? &engine->delivery()->settings() : nullptr;
    if (!settings || !engine->redis() || settings->close.apiKey.isEmpty()) {
        m_status->setText(settings && settings->close.apiKey.isEmpty()
                              ? tr("No Close API key is set (Settings…): the backfill needs it.")
                              : tr("The engine is not running."));
        m_preview->setEnabled(false);
        return;
    }
    m_close = new CloseClient(settings->close, this);
    LimiterOptions closeBudget = settings->limiter;
    closeBudget.caps = settings->closeCaps;
    // The same shared Close budget as the dispatchers' lookups.
    m_close->transport()->setGate(
        new CloseGate(engine->redis(), engine->keys().closeLimiter(), closeBudget, m_close));
    m_backfill = new Backfill(
        m_close, engine->redis(), engine->keys(),
        { BackfillOptions {}.retention, engine->options().serve.dispatcher.journal }, this);
    resize(820, 480);
}

BackfillDialog::~BackfillDialog() = default;

QString BackfillDialog::statusText() const
{
    return m_status->text();
}

void BackfillDialog::setBusy(bool busy)
{
    m_busy = busy;
    m_preview->setEnabled(!busy && m_backfill);
    m_since->setEnabled(!busy);
    m_queue->setEnabled(!busy && m_plan && !m_plan->toQueue.empty());
}

void BackfillDialog::preview()
{
    if (!m_backfill || m_busy)
        return;
    const auto since = parseBackfillSince(m_since->text(), QDateTime::currentDateTimeUtc());
    if (!since) {
        m_status->setText(since.error());
        return;
    }
    m_plan.reset();
    m_table->clear();
    m_status->setText(
        tr("Asking Close for the tasks created since %1…").arg(closeDateTimeText(since.value())));
    setBusy(true);
    QPointer<BackfillDialog> self(this);
    m_backfill->plan(since.value(), [self](Result<BackfillPlan, QString> r) {
        if (!self)
            return;
        if (!r) {
            self->m_status->setText(tr("Failed: %1").arg(r.error()));
            self->setBusy(false);
            return;
        }
        self->showPlan(r.value());
        self->m_plan = r.value();
        self->setBusy(false);
    });
}

void BackfillDialog::showPlan(const BackfillPlan &plan)
{
    m_table->clear();
    auto add = [this](const BackfillItem &item, const QString &state) {
        auto *row = new QTreeWidgetItem(m_table);
        row->setText(0, item.closeTaskId);
        row->setText(1, item.closeLeadId);
        row->setText(2, item.created.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")));
        row->setText(3, item.campaign);
        row->setText(4, state);
    };
    for (const BackfillItem &item : plan.toQueue)
        add(item, tr("to queue"));
    for (const BackfillItem &item : plan.alreadySeen)
        add(item, tr("already queued (%1)").arg(item.sluiceTaskId));
    QString text = tr("%n task(s) to queue", nullptr, int(plan.toQueue.size()));
    text += tr("; %1 already queued, %2 not \"Instantly:\" tasks, of %3 lead tasks created "
               "since %4.")
                .arg(plan.alreadySeen.size())
                .arg(plan.notOurs)
                .arg(plan.listed)
                .arg(closeDateTimeText(plan.since));
    if (!plan.refused.isEmpty())
        text += QLatin1Char(' ') + tr("Unusable: %1").arg(plan.refused.join(QStringLiteral("; ")));
    if (!plan.toQueue.empty())
        text += QLatin1Char(' ') + tr("Nothing is queued until you press Queue.");
    m_status->setText(text);
}

void BackfillDialog::queue()
{
    if (!m_backfill || m_busy || !m_plan || m_plan->toQueue.empty())
        return;
    setBusy(true);
    m_status->setText(tr("Queueing %n task(s)…", nullptr, int(m_plan->toQueue.size())));
    QPointer<BackfillDialog> self(this);
    m_backfill->apply(*m_plan, [self](Result<BackfillOutcome, QString> r) {
        if (!self)
            return;
        self->m_plan.reset();
        if (!r) {
            self->m_status->setText(tr("Failed: %1").arg(r.error()));
        } else {
            QString text = tr("Queued %1, skipped %2 (queued meanwhile).")
                               .arg(r.value().queued)
                               .arg(r.value().skipped);
            if (!r.value().failed.isEmpty())
                text += QLatin1Char(' ')
                    + tr("Failed: %1").arg(r.value().failed.join(QStringLiteral("; ")));
            self->m_status->setText(text);
            // Which ones someone else queued meanwhile the script does not say; the count does.
            const QString done = r.value().skipped == 0 && r.value().failed.isEmpty()
                ? tr("queued")
                : tr("queued, skipped or failed");
            for (int i = 0; i < self->m_table->topLevelItemCount(); ++i) {
                QTreeWidgetItem *row = self->m_table->topLevelItem(i);
                if (row->text(4) == tr("to queue"))
                    row->setText(4, done);
            }
        }
        self->setBusy(false);
    });
}

} // namespace sluice

#include "moc_backfilldialog.cpp" // NOLINT(bugprone-suspicious-include)
