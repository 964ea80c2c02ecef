#include "parkedpage.h"

#include "agetext.h"
#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "local/localengine.h"
#include "queue/campaignresolver.h"
#include "queue/leadreason.h"
#include "queue/parkedcampaigns.h"
#include "tones.h"

#include <QApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QPointer>
#include <QPushButton>
#include <QSysInfo>
#include <QTableWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>
#include <utility>

namespace sluice {

ParkedPage::ParkedPage(LocalEngine *engine, bool live, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_live(live)
    , m_resolver(new CampaignResolver(engine->redis(), engine->keys(), engine->instantly(),
                                      DispatcherOptions {}, this))
    , m_parked(new ParkedCampaigns(engine->redis(), engine->keys(), m_resolver,
                                   QStringLiteral("console-%1-%2")
                                       .arg(QSysInfo::machineHostName())
                                       .arg(QCoreApplication::applicationPid())
                                       .toUtf8(),
                                   engine->options().serve.dispatcher.journal, this))
    , m_table(new QTableWidget(0, 4, this))
    , m_summary(new QLabel(this))
    , m_status(new QLabel(this))
    , m_retry(new QPushButton(tr("&Retry selected"), this))
    , m_create(new QPushButton(tr("&Create campaign…"), this))
    , m_timer(new QTimer(this))
{
    auto *layout = new QVBoxLayout(this);

    // What to do, in the operator's words, before the list: every row here has this cause.
    auto *action = new QLabel(this);
    action->setObjectName(QStringLiteral("parkedAction"));
    action->setWordWrap(true);
    action->setTextFormat(Qt::RichText);
    action->setText(QStringLiteral("<b>%1.</b> %2")
                        .arg(leadReasonTitle(LeadReason::CampaignMissing).toHtmlEscaped(),
                             leadReasonAction(LeadReason::CampaignMissing).toHtmlEscaped()));
    action->setFrameShape(QFrame::StyledPanel);
    action->setMargin(8);
    layout->addWidget(action);

    auto *top = new QHBoxLayout;
    top->addWidget(m_summary, 1);
    auto *refreshButton = new QPushButton(tr("Re&fresh"), this);
    connect(refreshButton, &QPushButton::clicked, this, &ParkedPage::refresh);
    top->addWidget(refreshButton);
    m_retry->setToolTip(tr("Look for the campaign in Instantly now and send its leads if it "
                           "exists (the fleet looks about every minute by itself)"));
    connect(m_retry, &QPushButton::clicked, this, [this] {
        const QString name = selectedCampaign();
        if (!name.isEmpty())
            retry(name);
    });
    top->addWidget(m_retry);
    if (engine->instantly() == nullptr) {
        m_createRefusal = tr("This engine has no Instantly client to create campaigns with.");
    } else if (live && engine->options().serve.instantlyApiKey.isEmpty()) {
        m_createRefusal = tr("No Instantly API key is set (Settings, or INSTANTLY_API_KEY): "
                             "create the campaign in Instantly, then Retry.");
    }
    m_create->setToolTip(
        !m_createRefusal.isEmpty() ? m_createRefusal
            : live ? tr("Create a draft campaign of this name in your Instantly workspace "
                        "(POST /api/v2/campaigns, weekdays 9 to 5), then send its leads")
                   : tr("Create the campaign in the sandbox's Instantly, then send its leads"));
    connect(m_create, &QPushButton::clicked, this, [this] {
        const QString name = selectedCampaign();
        if (name.isEmpty())
            return;
        const QString where = m_live ? tr("your real Instantly workspace") : tr("the sandbox");
        if (QMessageBox::question(
                this, tr("Create the campaign?"),
                tr("Create a draft campaign named '%1' in %2, with a weekday 9-to-5 schedule "
                   "and no sequence? Its parked leads are sent to it at once. Instantly sends "
                   "no email until you add a sequence and activate it there.")
                    .arg(name, where))
            == QMessageBox::Yes)
            createCampaign(name);
    });
    top->addWidget(m_create);
    layout->addLayout(top);

    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_status->hide();
    layout->addWidget(m_status);

    m_table->setHorizontalHeaderLabels(
        { tr("Campaign"), tr("Leads"), tr("Waiting for"), tr("Reason") });
    m_table->horizontalHeader()->setSectionResizeMode(3, QHeaderView::Stretch);
    m_table->verticalHeader()->hide();
    m_table->verticalHeader()->setDefaultSectionSize(m_table->fontMetrics().height() + 6);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setWordWrap(false);
    layout->addWidget(m_table, 1);
    connect(m_table, &QTableWidget::itemSelectionChanged, this, &ParkedPage::updateButtons);

    m_timer->setInterval(5000);
    connect(m_timer, &QTimer::timeout, this, &ParkedPage::refresh);
    m_summary->setText(tr("No parked campaigns loaded yet."));
    updateButtons();
}

ParkedPage::~ParkedPage() = default;

void ParkedPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    m_timer->start();
    refresh();
}

void ParkedPage::hideEvent(QHideEvent *event)
{
    QWidget::hideEvent(event);
    m_timer->stop();
}

QString ParkedPage::statusText() const
{
    return m_status->text();
}

QString ParkedPage::selectedCampaign() const
{
    const QList<QTableWidgetItem *> selected = m_table->selectedItems();
    if (selected.isEmpty())
        return {};
    const QTableWidgetItem *name = m_table->item(selected.front()->row(), 0);
    return name ? name->data(Qt::UserRole).toString() : QString();
}

void ParkedPage::updateButtons()
{
    const bool any = !selectedCampaign().isEmpty();
    m_retry->setEnabled(any);
    m_create->setEnabled(any && m_createRefusal.isEmpty());
}

void ParkedPage::refresh()
{
    // One read at a time; a refresh asked for meanwhile runs once when it ends.
    if (m_loading) {
        m_again = true;
        return;
    }
    m_loading = true;
    QPointer<ParkedPage> self(this);
    ParkedCampaigns::list(
        m_engine->redis(), m_engine->keys(), [self](std::vector<ParkedCampaign> campaigns) {
            if (!self)
                return;
            self->m_loading = false;
            const QString keep = self->selectedCampaign();
            std::sort(campaigns.begin(), campaigns.end(),
                      [](const ParkedCampaign &a, const ParkedCampaign &b) {
                          return a.sinceMs != b.sinceMs ? a.sinceMs < b.sinceMs : a.name < b.name;
                      });
            QTableWidget *table = self->m_table;
            const QSignalBlocker quiet(table);
            table->setRowCount(int(campaigns.size()));
            const qint64 now = wallClockMs();
            qint64 leads = 0;
            int keepRow = -1;
            for (int row = 0; row < int(campaigns.size()); ++row) {
                const ParkedCampaign &c = campaigns[size_t(row)];
                leads += c.leads;
                if (c.name == keep)
                    keepRow = row;
                const QStringList cells { c.name, QString::number(c.leads), ageText(c.sinceMs, now),
                                          c.reason };
                for (int column = 0; column < cells.size(); ++column) {
                    auto *item = new QTableWidgetItem(cells[column]);
                    item->setToolTip(column == 2
                                         ? tr("oldest lead parked %1").arg(timestampText(c.sinceMs))
                                         : cells[column]);
                    if (column == 0)
                        item->setData(Qt::UserRole, c.name);
                    if (column == 1)
                        item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                    table->setItem(row, column, item);
                }
            }
            if (keepRow >= 0)
                table->selectRow(keepRow);
            else if (!campaigns.empty() && keep.isEmpty())
                table->selectRow(0);
            table->resizeColumnsToContents();
            self->m_summary->setText(
                campaigns.empty()
                    ? tr("No parked leads: every campaign the Close tasks named exists.")
                    : tr("%1 lead(s) wait for %2 campaign(s), oldest first.")
                          .arg(leads)
                          .arg(campaigns.size()));
            self->updateButtons();
            Q_EMIT self->refreshed(int(campaigns.size()));
            if (std::exchange(self->m_again, false))
                self->refresh();
        });
}

void ParkedPage::retry(const QString &name)
{
    m_status->setText(tr("Looking for '%1' in Instantly…").arg(name));
    m_status->setStyleSheet(QString());
    m_status->show();
    QPointer<ParkedPage> self(this);
    // Forget what anyone cached about the name (here and in the fleet's hash): ask Instantly.
    m_resolver->forget(name);
    m_resolver->resolve(name, [self, name](const CampaignAnswer &answer) {
        if (!self)
            return;
        if (answer.id) {
            self->unpark(name, tr("retried from the console: campaign '%1' found").arg(name));
            return;
        }
        const QPalette pal = self->palette();
        self->m_status->setStyleSheet(
            QStringLiteral("color:%1")
                .arg(toneColor(answer.missing ? Tone::Warning : Tone::Bad, pal).name()));
        self->m_status->setText(answer.missing
                                    ? tr("'%1' is still not in Instantly: its leads stay "
                                         "parked. Create it (or fix the Close task), then retry.")
                                          .arg(name)
                                    : tr("Could not look for '%1': %2").arg(name, answer.reason));
        Q_EMIT self->retried(name, 0);
    });
}

void ParkedPage::createCampaign(const QString &name)
{
    if (!m_createRefusal.isEmpty()) {
        m_status->setText(m_createRefusal);
        m_status->show();
        return;
    }
    m_status->setText(tr("Creating '%1'…").arg(name));
    m_status->setStyleSheet(QString());
    m_status->show();
    m_create->setEnabled(false);
    QPointer<ParkedPage> self(this);
    m_engine->instantly()->createCampaign(name, [self, name](ApiReply<Campaign> made) {
        if (!self)
            return;
        self->updateButtons();
        if (!made.ok()) {
            self->m_status->setStyleSheet(
                QStringLiteral("color:%1").arg(toneColor(Tone::Bad, self->palette()).name()));
            self->m_status->setText(
                tr("Could not create '%1': %2").arg(name, made.error().describe()));
            Q_EMIT self->creationFinished(name, false);
            return;
        }
        Q_EMIT self->creationFinished(name, true);
        // The dispatchers' caches may still say "missing": the resolver forgets it for the
        // fleet, finds the new campaign, and the leads go.
        self->retry(name);
    });
}

void ParkedPage::unpark(const QString &name, const QString &why)
{
    QPointer<ParkedPage> self(this);
    m_parked->unpark(name, why, [self, name](qint64 moved) {
        if (!self)
            return;
        self->m_status->setStyleSheet(
            QStringLiteral("color:%1").arg(toneColor(Tone::Good, self->palette()).name()));
        self->m_status->setText(
            moved > 0
                ? tr("'%1' exists: %2 parked lead(s) are back in the queue.").arg(name).arg(moved)
                : tr("'%1' exists; no leads were waiting for it any more.").arg(name));
        Q_EMIT self->retried(name, moved);
        self->refresh();
    });
}

} // namespace sluice

#include "moc_parkedpage.cpp" // NOLINT(bugprone-suspicious-include)
