#include "alertspage.h"

#include "alerts/alertcenter.h"
#include "core/jsontext.h"
#include "tones.h"

#include <QDateTime>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QSysInfo>
#include <QTableWidget>
#include <QVBoxLayout>

namespace sluice {

namespace {

enum FiringColumn { FSeverity, FKind, FSince, FSummary, FAcknowledged, FColumns };
enum HistoryColumn { HAt, HState, HKind, HSeverity, HInstance, HSummary, HColumns };

QString timeText(qint64 ms)
{
    const QDateTime at = QDateTime::fromMSecsSinceEpoch(ms);
    return at.date() == QDate::currentDate() ? at.toString(QStringLiteral("HH:mm:ss"))
                                             : at.toString(QStringLiteral("yyyy-MM-dd HH:mm"));
}

Tone severityTone(AlertSeverity s)
{
    switch (s) {
    case AlertSeverity::Critical:
        return Tone::Bad;
    case AlertSeverity::Warning:
        return Tone::Warning;
    case AlertSeverity::Info:
        break;
    }
    return Tone::Muted;
}

QTableWidgetItem *cell(const QString &text, const QString &tip = {})
{
    auto *item = new QTableWidgetItem(text);
    item->setToolTip(tip.isEmpty() ? text : tip);
    return item;
}

QTableWidget *table(int columns, const QStringList &headers, QWidget *parent)
{
    auto *t = new QTableWidget(0, columns, parent);
    t->setHorizontalHeaderLabels(headers);
    t->setSelectionBehavior(QAbstractItemView::SelectRows);
    t->setSelectionMode(QAbstractItemView::SingleSelection);
    t->setEditTriggers(QAbstractItemView::NoEditTriggers);
    t->verticalHeader()->hide();
    t->horizontalHeader()->setStretchLastSection(false);
    t->setWordWrap(false);
    return t;
}

} // namespace

QString consoleUserName()
{
    QString user = qEnvironmentVariable("USER");
    if (user.isEmpty())
        user = qEnvironmentVariable("USERNAME", QStringLiteral("someone"));
    return QStringLiteral("%1 (console on %2)").arg(user, QSysInfo::machineHostName());
}

AlertsPage::AlertsPage(AlertCenter *alerts, QWidget *parent)
    : QWidget(parent)
    , m_alerts(alerts)
    , m_summary(new QLabel(this))
    , m_firing(table(
          FColumns,
          { tr("Severity"), tr("Alert"), tr("Since"), tr("What it means"), tr("Acknowledged") },
          this))
    , m_history(table(
          HColumns,
          { tr("At"), tr("State"), tr("Alert"), tr("Severity"), tr("Instance"), tr("Summary") },
          this))
    , m_acknowledge(new QPushButton(tr("&Acknowledge"), this))
{
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    m_summary->setObjectName(QStringLiteral("alertsSummary"));
    m_summary->setWordWrap(true);
    top->addWidget(m_summary, 1);
    m_acknowledge->setToolTip(tr("Mark the selected alert as seen, for every console. It still "
                                 "resolves by itself when its condition clears."));
    connect(m_acknowledge, &QPushButton::clicked, this,
            [this] { acknowledgeSelected(consoleUserName()); });
    top->addWidget(m_acknowledge);
    layout->addLayout(top);

    auto *firingTitle = new QLabel(tr("<b>Firing now</b> (the whole fleet)"), this);
    layout->addWidget(firingTitle);
    m_firing->horizontalHeader()->setSectionResizeMode(FSummary, QHeaderView::Stretch);
    m_firing->setMaximumHeight(220);
    layout->addWidget(m_firing);
    connect(m_firing, &QTableWidget::itemSelectionChanged, this, [this] {
        const int row = m_firing->currentRow();
        m_acknowledge->setEnabled(row >= 0 && m_firing->item(row, FAcknowledged)
                                  && m_firing->item(row, FAcknowledged)->text().isEmpty());
    });

    auto *historyTitle
        = new QLabel(tr("<b>History</b> (every instance's alerts, newest first)"), this);
    layout->addWidget(historyTitle);
    m_history->horizontalHeader()->setSectionResizeMode(HSummary, QHeaderView::Stretch);
    layout->addWidget(m_history, 1);

    if (m_alerts)
        connect(m_alerts, &AlertCenter::changed, this, &AlertsPage::refresh);
    refresh();
}

QString AlertsPage::summaryText() const
{
    return m_summary->text();
}

void AlertsPage::refresh()
{
    if (!m_alerts) {
        m_summary->setText(tr("This console does not deliver, so it evaluates no alerts."));
        m_acknowledge->setEnabled(false);
        return;
    }
    const QString selectedKind
        = m_firing->currentRow() >= 0 && m_firing->item(m_firing->currentRow(), FKind)
        ? m_firing->item(m_firing->currentRow(), FKind)->text()
        : QString();
    const std::vector<AlertEvent> active = m_alerts->active();
    int unacknowledged = 0;
    m_firing->setRowCount(int(active.size()));
    for (int row = 0; row < int(active.size()); ++row) {
        const AlertEvent &e = active[size_t(row)];
        const QColor tone = toneColor(severityTone(e.severity), palette());
        auto *severity = cell(QString::fromLatin1(alertSeverityName(e.severity)).toUpper());
        severity->setForeground(tone);
        QFont bold = severity->font();
        bold.setBold(true);
        severity->setFont(bold);
        m_firing->setItem(row, FSeverity, severity);
        m_firing->setItem(row, FKind, cell(QString::fromLatin1(alertKindName(e.kind))));
        m_firing->setItem(
            row, FSince,
            cell(timeText(e.atMs),
                 tr("fired by %1%2")
                     .arg(e.instance,
                          e.instanceLocal ? tr(" alone (Redis unreachable)") : QString())));
        m_firing->setItem(row, FSummary,
                          cell(e.summary, QString::fromStdString(jsonText(e.detail, 2))));
        const auto ack = m_alerts->acknowledged(e.kind);
        m_firing->setItem(row, FAcknowledged,
                          cell(ack ? tr("%1, %2").arg(ack->by, timeText(ack->atMs)) : QString()));
        if (!ack)
            ++unacknowledged;
        if (QString::fromLatin1(alertKindName(e.kind)) == selectedKind)
            m_firing->selectRow(row);
    }
    m_firing->resizeColumnToContents(FSeverity);
    m_firing->resizeColumnToContents(FKind);
    m_firing->resizeColumnToContents(FSince);
    m_acknowledge->setEnabled(
        m_firing->currentRow() >= 0 && m_firing->item(m_firing->currentRow(), FAcknowledged)
        && m_firing->item(m_firing->currentRow(), FAcknowledged)->text().isEmpty());

    const std::deque<AlertEvent> &history = m_alerts->history();
    m_history->setRowCount(int(history.size()));
    int row = 0;
    for (auto it = history.rbegin(); it != history.rend(); ++it, ++row) {
        const AlertEvent &e = *it;
        const bool firing = e.state == AlertEvent::State::Firing;
        auto *state = cell(firing ? tr("firing") : tr("resolved"));
        state->setForeground(toneColor(firing ? severityTone(e.severity) : Tone::Good, palette()));
        m_history->setItem(
            row, HAt,
            cell(timeText(e.atMs),
                 QDateTime::fromMSecsSinceEpoch(e.atMs).toString(Qt::ISODateWithMs)));
        m_history->setItem(row, HState, state);
        m_history->setItem(row, HKind, cell(QString::fromLatin1(alertKindName(e.kind))));
        m_history->setItem(row, HSeverity,
                           cell(QString::fromLatin1(alertSeverityName(e.severity))));
        m_history->setItem(row, HInstance,
                           cell(e.instanceLocal ? tr("%1 (alone)").arg(e.instance) : e.instance));
        m_history->setItem(row, HSummary,
                           cell(e.summary, QString::fromStdString(jsonText(e.detail, 2))));
    }
    for (int c : { HAt, HState, HKind, HSeverity, HInstance })
        m_history->resizeColumnToContents(c);

    const AlertOptions &o = m_alerts->options();
    QString where = o.urls.isEmpty()
        ? tr("No alert URL is set (--alert-url): alerts show here, in the tray and in the log.")
        : tr("Alerts are POSTed to %1.").arg([&o] {
              QStringList shown;
              for (const QString &url : o.urls)
                  shown << maskedAlertUrl(url);
              return shown.join(QStringLiteral(", "));
          }());
    m_summary->setText(active.empty() ? tr("Nothing fires. %1").arg(where)
                                      : tr("%n alert(s) firing, %1 not acknowledged. %2", nullptr,
                                           int(active.size()))
                                            .arg(unacknowledged)
                                            .arg(where));
    if (int(active.size()) != m_firingCount || unacknowledged != m_unacknowledged) {
        m_firingCount = int(active.size());
        m_unacknowledged = unacknowledged;
        Q_EMIT badgeChanged(m_firingCount, m_unacknowledged);
    }
}

void AlertsPage::acknowledgeSelected(const QString &who)
{
    const int row = m_firing->currentRow();
    if (!m_alerts || row < 0 || !m_firing->item(row, FKind))
        return;
    const auto kind = alertKindFromName(m_firing->item(row, FKind)->text().toLatin1());
    if (!kind)
        return;
    QPointer<AlertsPage> self(this);
    m_alerts->acknowledge(*kind, who, [self](std::optional<QString> error) {
        if (self && error)
            self->m_summary->setText(tr("Not acknowledged: %1").arg(*error));
    });
}

} // namespace sluice

#include "moc_alertspage.cpp" // NOLINT(bugprone-suspicious-include)
