#include "leadspage.h"

#include "local/localengine.h"
#include "tones.h"

#include <QDateTime>
#include <QFontDatabase>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPointer>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QTimer>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace sluice {

namespace {

constexpr int kRecentLeads = 200;
constexpr int kTaskLeads = 200;

std::optional<Tone> toneOf(const QString &kind, int status = 0)
{
    if (kind == u"delivered" || kind == u"verified" || kind == u"skipped")
        return Tone::Good;
    if (kind == u"dead" || kind == u"failed" || kind == u"missing" || kind == u"duplicated")
        return Tone::Bad;
    if (kind == u"retry" || kind == u"rate limited" || (kind == u"attempt" && status >= 400))
        return Tone::Warning;
    if (kind == u"deleted")
        return Tone::Muted;
    return std::nullopt;
}

QString clock(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss.zzz"));
}

} // namespace

LeadsPage::LeadsPage(LocalEngine *engine, QWidget *parent)
    : QWidget(parent)
    , m_journal(engine->journal())
    , m_search(new QLineEdit(this))
    , m_filter(new QLineEdit(this))
    , m_status(new QLabel(this))
    , m_recent(new QTableWidget(0, 3, this))
    , m_timeline(new QTreeWidget(this))
    , m_detail(new QPlainTextEdit(this))
    , m_refresh(new QTimer(this))
{
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    m_search->setPlaceholderText(tr("Email, Close lead id or task id, then Enter"));
    m_search->setClearButtonEnabled(true);
    m_search->setToolTip(tr("Find a lead's timeline (Ctrl+F)"));
    connect(m_search, &QLineEdit::returnPressed, this, [this] { search(m_search->text()); });
    auto *find = new QPushButton(tr("&Find"), this);
    connect(find, &QPushButton::clicked, this, [this] { search(m_search->text()); });
    top->addWidget(new QLabel(tr("Lead:"), this));
    top->addWidget(m_search, 1);
    top->addWidget(find);
    layout->addLayout(top);

    auto *splitter = new QSplitter(Qt::Horizontal, this);
    splitter->setObjectName(QStringLiteral("leadsSplitter"));
    auto *left = new QWidget(splitter);
    auto *leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(0, 0, 0, 0);
    m_filter->setPlaceholderText(tr("Filter recent leads"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, this, &LeadsPage::applyRecentFilter);
    leftLayout->addWidget(m_filter);
    m_recent->setHorizontalHeaderLabels({ tr("Lead"), tr("State"), tr("Last event") });
    m_recent->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_recent->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    m_recent->horizontalHeader()->setSectionResizeMode(2, QHeaderView::ResizeToContents);
    m_recent->verticalHeader()->hide();
    m_recent->verticalHeader()->setDefaultSectionSize(m_recent->fontMetrics().height() + 6);
    m_recent->setTextElideMode(Qt::ElideRight);
    m_recent->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_recent->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_recent->setSelectionMode(QAbstractItemView::SingleSelection);
    m_recent->setWordWrap(false);
    connect(m_recent, &QTableWidget::itemSelectionChanged, this, [this] {
        const auto rows = m_recent->selectionModel()->selectedRows();
        if (rows.isEmpty())
            return;
        const QString identity = m_recent->item(rows.first().row(), 0)->text();
        m_search->setText(identity);
        search(identity);
    });
    leftLayout->addWidget(m_recent);

    auto *right = new QWidget(splitter);
    auto *rightLayout = new QVBoxLayout(right);
    rightLayout->setContentsMargins(0, 0, 0, 0);
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    rightLayout->addWidget(m_status);
    m_timeline->setColumnCount(4);
    m_timeline->setHeaderLabels({ tr("Time"), tr("After"), tr("Step"), tr("Details") });
    m_timeline->setRootIsDecorated(true);
    m_timeline->setUniformRowHeights(true);
    m_timeline->setAlternatingRowColors(true);
    m_timeline->header()->setStretchLastSection(true);
    m_timeline->setTextElideMode(Qt::ElideRight);
    rightLayout->addWidget(m_timeline, 1);
    m_detail->setReadOnly(true);
    m_detail->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_detail->setPlaceholderText(tr("Select a step to see all of it."));
    m_detail->setMaximumHeight(m_detail->fontMetrics().height() * 6);
    rightLayout->addWidget(m_detail);
    connect(m_timeline, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem *item) {
        m_detail->setPlainText(item ? item->data(0, Qt::UserRole).toString() : QString());
    });
    splitter->addWidget(left);
    splitter->addWidget(right);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 3);
    splitter->setSizes({ 460, 860 });
    layout->addWidget(splitter, 1);

    m_status->setText(tr("Search for a lead, or pick one of the recent leads on the left."));
    m_refresh->setInterval(2000);
    connect(m_refresh, &QTimer::timeout, this, &LeadsPage::refreshRecent);
}

QString LeadsPage::statusText() const
{
    return m_status->text();
}

void LeadsPage::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    refreshRecent();
    m_refresh->start();
}

void LeadsPage::hideEvent(QHideEvent *event)
{
    m_refresh->stop();
    QWidget::hideEvent(event);
}

void LeadsPage::search(const QString &query)
{
    const QString q = query.trimmed();
    if (q.isEmpty()) {
        m_status->setText(tr("Type an email, a Close lead id (lead_…) or a task id."));
        return;
    }
    if (m_search->text().trimmed() != q)
        m_search->setText(q);
    m_status->setText(tr("Searching for %1…").arg(q));
    const quint64 generation = ++m_searchGeneration;
    m_journal.search(
        q, kTaskLeads,
        [self = QPointer<LeadsPage>(this), q,
         generation](Result<QList<LeadTimeline>, RedisError> r) {
            if (!self || generation != self->m_searchGeneration)
                return; // a newer search replaced it
            if (!r.ok()) {
                self->m_status->setText(
                    tr("Redis did not answer the search: %1").arg(r.error().describe()));
                Q_EMIT self->searched();
                return;
            }
            self->showTimelines(q, r.value());
        });
}

void LeadsPage::showTimelines(const QString &query, const QList<LeadTimeline> &timelines)
{
    m_timelines = timelines;
    m_timeline->clear();
    if (timelines.isEmpty()) {
        m_status->setText(tr("Nothing in the journal for %1. Emails are matched whole (any case); "
                             "the journal keeps a lead's events for the task retention "
                             "(7 days by default).")
                              .arg(query));
        Q_EMIT searched();
        return;
    }
    const QPalette pal = palette();
    for (const LeadTimeline &t : timelines) {
        auto *head = new QTreeWidgetItem(m_timeline);
        const QString state = t.state();
        const QString title
            = tr("%1 in '%2': %3 — %4 step(s), task %5")
                  .arg(t.identity, t.campaign.isEmpty() ? tr("(no campaign)") : t.campaign, state)
                  .arg(t.events.size())
                  .arg(t.tasks().join(QStringLiteral(", ")));
        head->setText(0, title);
        head->setData(0, Qt::UserRole, title);
        head->setFirstColumnSpanned(true);
        QFont bold = head->font(0);
        bold.setBold(true);
        head->setFont(0, bold);
        if (auto tone = toneOf(state))
            head->setForeground(0, toneColor(*tone, pal));
        const qint64 start = t.events.isEmpty() ? 0 : t.events.first().atMs;
        for (const JournalEvent &e : t.events) {
            auto *row = new QTreeWidgetItem(head);
            row->setText(0, clock(e.atMs));
            row->setText(1, journalOffsetText(e.atMs - start));
            row->setText(2, e.stepName());
            row->setText(3, e.summary());
            QString full
                = QStringLiteral("%1  %2\n%3")
                      .arg(QDateTime::fromMSecsSinceEpoch(e.atMs).toString(Qt::ISODateWithMs),
                           e.stepName(), e.summary());
            if (!e.task.isEmpty())
                full += tr("\ntask %1").arg(e.task);
            if (!e.instance.isEmpty())
                full += tr("\nby %1").arg(e.instance);
            row->setData(0, Qt::UserRole, full);
            row->setToolTip(3, full);
            if (auto tone = toneOf(e.kind, e.status)) {
                row->setForeground(2, toneColor(*tone, pal));
                row->setForeground(3, toneColor(*tone, pal));
            }
        }
    }
    m_timeline->expandAll();
    // Sized by the steps (the spanned lead rows would widen the first column).
    for (int c = 0; c < 3; ++c) {
        int width = m_timeline->header()->sectionSizeHint(c);
        for (int i = 0; i < m_timeline->topLevelItemCount(); ++i) {
            const QTreeWidgetItem *head = m_timeline->topLevelItem(i);
            for (int j = 0; j < head->childCount(); ++j)
                width
                    = std::max(width,
                               m_timeline->fontMetrics().horizontalAdvance(head->child(j)->text(c))
                                   + (c == 0 ? 2 * m_timeline->indentation() : 0) + 24);
        }
        m_timeline->setColumnWidth(c, width);
    }
    if (m_timeline->topLevelItemCount() > 0 && m_timeline->topLevelItem(0)->childCount() > 0)
        m_timeline->setCurrentItem(
            m_timeline->topLevelItem(0)->child(m_timeline->topLevelItem(0)->childCount() - 1));
    if (timelines.size() == 1)
        m_status->setText(tr("%1 in %2: %3.")
                              .arg(timelines.first().identity,
                                   timelines.first().campaign.isEmpty()
                                       ? tr("no campaign")
                                       : QStringLiteral("'%1'").arg(timelines.first().campaign),
                                   timelines.first().state()));
    else
        m_status->setText(tr("%1 timeline(s) for %2.").arg(timelines.size()).arg(query));
    Q_EMIT searched();
}

void LeadsPage::refreshRecent()
{
    if (m_loadingRecent)
        return;
    m_loadingRecent = true;
    m_journal.recent(kRecentLeads,
                     [self = QPointer<LeadsPage>(this)](Result<QList<RecentLead>, RedisError> r) {
                         if (!self)
                             return;
                         self->m_loadingRecent = false;
                         if (r.ok())
                             self->showRecent(r.value());
                         Q_EMIT self->recentLoaded();
                     });
}

void LeadsPage::showRecent(const QList<RecentLead> &leads)
{
    const QSignalBlocker block(m_recent);
    QString selected;
    if (const auto rows = m_recent->selectionModel()->selectedRows(); !rows.isEmpty())
        selected = m_recent->item(rows.first().row(), 0)->text();
    m_recent->setRowCount(int(leads.size()));
    const QPalette pal = palette();
    for (int i = 0; i < leads.size(); ++i) {
        const RecentLead &lead = leads[i];
        const QString state = lead.latest.state();
        const QStringList cells { lead.identity, state, clock(lead.latest.atMs) };
        for (int c = 0; c < cells.size(); ++c) {
            auto *item = new QTableWidgetItem(cells[c]);
            item->setToolTip(
                tr("%1\n%2 in '%3'\n%4")
                    .arg(lead.identity, state, lead.latest.campaign, lead.latest.summary()));
            if (c == 1)
                if (auto tone = toneOf(state))
                    item->setForeground(toneColor(*tone, pal));
            m_recent->setItem(i, c, item);
        }
        if (lead.identity == selected)
            m_recent->selectRow(i);
    }
    applyRecentFilter();
}

void LeadsPage::applyRecentFilter()
{
    const QString text = m_filter->text().trimmed();
    for (int row = 0; row < m_recent->rowCount(); ++row) {
        bool match = text.isEmpty();
        for (int c = 0; !match && c < m_recent->columnCount(); ++c)
            match = m_recent->item(row, c)->text().contains(text, Qt::CaseInsensitive);
        m_recent->setRowHidden(row, !match);
    }
}

} // namespace sluice

#include "moc_leadspage.cpp" // NOLINT(bugprone-suspicious-include)
