#include "webhookspage.h"

#include "tones.h"

#include "close/closewebhook.h"
#include "core/jsontext.h"
#include "local/localengine.h"

#include <QComboBox>
#include <QDateTime>
#include <QFontDatabase>
#include <QGuiApplication>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QTimer>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

namespace sluice {

namespace {

/// The deepest body the inspector pretty-prints (Close's webhooks nest about 5 levels).
constexpr int kPrettyDepth = 64;

/// Shows only rows of one kind (accepted / rejected) and matching the search text.
class WebhookFilter : public QSortFilterProxyModel
{
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    int kind = 0; ///< 0 all, 1 accepted (2xx), 2 rejected
    QString text;

    void refilter() { invalidateFilter(); }

protected:
    bool filterAcceptsRow(int row, const QModelIndex &) const override
    {
        const auto *model = static_cast<const WebhookModel *>(sourceModel());
        const WebhookExchange &e = model->exchange(row);
        const bool ok = e.status >= 200 && e.status < 300;
        if ((kind == 1 && !ok) || (kind == 2 && ok))
            return false;
        if (text.isEmpty())
            return true;
        for (const QString &field : { e.taskId, e.eventId, e.remote, e.outcome(), e.signature,
                                      QString::fromUtf8(e.body.left(qsizetype(64) * 1024)) }) {
            if (field.contains(text, Qt::CaseInsensitive))
                return true;
        }
        return false;
    }
};

QString sizeText(qint64 bytes)
{
    return bytes < 1024 ? QStringLiteral("%1 B").arg(bytes)
                        : QStringLiteral("%1 KiB").arg(double(bytes) / 1024.0, 0, 'f', 1);
}

} // namespace

WebhookModel::WebhookModel(LocalEngine *engine, QObject *parent)
    : QAbstractTableModel(parent)
    , m_engine(engine)
{
    reload();
}

void WebhookModel::reload()
{
    beginResetModel();
    m_rows = int(m_engine->webhooks().size());
    endResetModel();
}

int WebhookModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : m_rows;
}

int WebhookModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

const WebhookExchange &WebhookModel::exchange(int row) const
{
    // Newest first; rows are counted as of the last reload.
    const auto &buffer = m_engine->webhooks();
    const size_t shift = buffer.size() - size_t(m_rows);
    return buffer.at(buffer.size() - 1 - size_t(row) - shift);
}

QVariant WebhookModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() >= m_rows)
        return {};
    const WebhookExchange &e = exchange(index.row());
    if (role == Qt::ForegroundRole && index.column() == Status)
        return toneColor(e.status >= 200 && e.status < 300 ? Tone::Good : Tone::Bad,
                         QGuiApplication::palette());
    if (role != Qt::DisplayRole && role != Qt::ToolTipRole)
        return {};
    switch (index.column()) {
    case Time:
        return QDateTime::fromMSecsSinceEpoch(e.atMs).toString(QStringLiteral("HH:mm:ss.zzz"));
    case Source:
        return e.remote;
    case Size:
        return sizeText(e.bodySize);
    case Signature:
        return e.signature;
    case Status:
        return e.status;
    case Outcome:
        return e.outcome();
    case Task:
        return e.taskId;
    default:
        return {};
    }
}

QVariant WebhookModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char *const names[]
        = { "Time", "Source", "Size", "Signature", "Status", "Outcome", "Task" };
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

WebhooksPage::WebhooksPage(LocalEngine *engine, QWidget *parent)
    : QWidget(parent)
    , m_engine(engine)
    , m_model(new WebhookModel(engine, this))
    , m_proxy(new WebhookFilter(this))
    , m_search(new QLineEdit(this))
    , m_kind(new QComboBox(this))
    , m_view(new QTableView(this))
    , m_detail(new QPlainTextEdit(this))
    , m_replay(new QPushButton(tr("Re&play"), this))
    , m_timeline(new QPushButton(tr("Lead &timeline"), this))
    , m_result(new QLabel(this))
    , m_count(new QLabel(this))
    , m_redraw(new QTimer(this))
{
    auto *layout = new QVBoxLayout(this);
    auto *top = new QHBoxLayout;
    m_search->setPlaceholderText(tr("Search task id, event id, email, outcome…"));
    m_search->setClearButtonEnabled(true);
    top->addWidget(m_search, 1);
    m_kind->addItems({ tr("All"), tr("Accepted"), tr("Rejected") });
    top->addWidget(m_kind);
    top->addWidget(m_count);
    layout->addLayout(top);

    m_proxy->setSourceModel(m_model);
    m_view->setModel(m_proxy);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->verticalHeader()->hide();
    m_view->verticalHeader()->setDefaultSectionSize(m_view->fontMetrics().height() + 6);
    m_view->horizontalHeader()->setSectionResizeMode(WebhookModel::Outcome, QHeaderView::Stretch);
    m_view->setWordWrap(false);

    m_detail->setReadOnly(true);
    m_detail->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_detail->setPlaceholderText(tr("Select a webhook to see its headers, body and answer."));
    auto *detailBox = new QWidget(this);
    auto *detailLayout = new QVBoxLayout(detailBox);
    detailLayout->setContentsMargins(0, 0, 0, 0);
    auto *actions = new QHBoxLayout;
    m_replay->setToolTip(tr("Send it to the listener again (re-signed); refused when it is "
                            "already stored"));
    m_replay->setEnabled(false);
    actions->addWidget(m_replay);
    m_timeline->setToolTip(tr("Follow the leads of this webhook's task on the Leads page "
                              "(or double-click the row)"));
    m_timeline->setEnabled(false);
    actions->addWidget(m_timeline);
    m_result->setWordWrap(true); // a long answer must not widen the window
    actions->addWidget(m_result, 1);
    detailLayout->addLayout(actions);
    detailLayout->addWidget(m_detail);

    auto *split = new QSplitter(Qt::Vertical, this);
    split->setObjectName(QStringLiteral("webhooksSplitter"));
    split->addWidget(m_view);
    split->addWidget(detailBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    layout->addWidget(split, 1);

    connect(m_search, &QLineEdit::textChanged, this, &WebhooksPage::setSearch);
    connect(m_kind, &QComboBox::currentIndexChanged, this, [this](int kind) {
        static_cast<WebhookFilter *>(m_proxy)->kind = kind;
        static_cast<WebhookFilter *>(m_proxy)->refilter();
    });
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
            &WebhooksPage::showSelected);
    connect(m_replay, &QPushButton::clicked, this, &WebhooksPage::replaySelected);
    auto openTimeline = [this] {
        const QModelIndex index = m_view->currentIndex();
        if (!index.isValid())
            return;
        const WebhookExchange &e = m_model->exchange(m_proxy->mapToSource(index).row());
        if (!e.taskId.isEmpty())
            Q_EMIT timelineRequested(e.taskId);
    };
    connect(m_timeline, &QPushButton::clicked, this, openTimeline);
    connect(m_view, &QTableView::doubleClicked, this, openTimeline);
    m_redraw->setSingleShot(true);
    m_redraw->setInterval(250);
    connect(m_redraw, &QTimer::timeout, this, [this] {
        const int selectedSeq = m_view->currentIndex().isValid()
            ? int(m_model->exchange(m_proxy->mapToSource(m_view->currentIndex()).row()).seq)
            : -1;
        m_model->reload();
        m_count->setText(tr("%1 recorded").arg(m_model->rowCount()));
        if (selectedSeq >= 0) {
            for (int row = 0; row < m_model->rowCount(); ++row) {
                if (int(m_model->exchange(row).seq) == selectedSeq) {
                    m_view->setCurrentIndex(m_proxy->mapFromSource(m_model->index(row, 0)));
                    break;
                }
            }
        }
    });
    connect(engine, &LocalEngine::webhookRecorded, this, [this] {
        if (!m_redraw->isActive())
            m_redraw->start();
    });
    m_count->setText(tr("%1 recorded").arg(m_model->rowCount()));
}

void WebhooksPage::setSearch(const QString &text)
{
    if (m_search->text() != text)
        m_search->setText(text);
    static_cast<WebhookFilter *>(m_proxy)->text = text;
    static_cast<WebhookFilter *>(m_proxy)->refilter();
}

void WebhooksPage::showSelected()
{
    const QModelIndex index = m_view->currentIndex();
    m_replay->setEnabled(index.isValid());
    if (!index.isValid()) {
        m_timeline->setEnabled(false);
        m_detail->clear();
        return;
    }
    const WebhookExchange &e = m_model->exchange(m_proxy->mapToSource(index).row());
    m_timeline->setEnabled(!e.taskId.isEmpty());
    QString text = QStringLiteral("%1 %2 from %3 at %4 — %5 in %6 ms\n\n")
                       .arg(QString::fromLatin1(e.method), e.path, e.remote,
                            QDateTime::fromMSecsSinceEpoch(e.atMs).toString(Qt::ISODateWithMs))
                       .arg(e.status)
                       .arg(double(e.latencyUs) / 1000.0, 0, 'f', 2);
    for (const auto &[name, value] : e.headers) {
        // Never show a credential, should a client send one here.
        const bool secret = name.compare("authorization", Qt::CaseInsensitive) == 0;
        text += QString::fromLatin1(name) + QStringLiteral(": ")
            + (secret ? QStringLiteral("•••• (hidden)") : QString::fromLatin1(value)) + u'\n';
    }
    // Pretty-printed only when it nests no deeper than kPrettyDepth: the printer recurses,
    // and a hostile body nested 100,000 levels deep would take the console down. Anything
    // else is shown as it came.
    IntakeLimits limits;
    limits.maxDepth = kPrettyDepth;
    nlohmann::json body;
    const auto unreadable = parseLimitedJson(e.body, limits, body);
    text += u'\n';
    if (unreadable && !e.body.trimmed().isEmpty() && e.bodySize == e.body.size())
        text += tr("(shown as received: %1)\n").arg(unreadable->message());
    text += unreadable ? QString::fromUtf8(e.body) : QString::fromStdString(jsonText(body, 2));
    if (e.bodySize > e.body.size())
        text += tr("\n… (%1 of %2 bytes kept)").arg(e.body.size()).arg(e.bodySize);
    text += tr("\n\nAnswer %1:\n").arg(e.status) + QString::fromUtf8(e.response);
    m_detail->setPlainText(text);
}

QString WebhooksPage::detailText() const
{
    return m_detail->toPlainText();
}

void WebhooksPage::replaySelected()
{
    const QModelIndex index = m_view->currentIndex();
    if (!index.isValid())
        return;
    const WebhookExchange e = m_model->exchange(m_proxy->mapToSource(index).row());
    m_result->setText(tr("Replaying…"));
    m_engine->replayWebhook(e, [self = QPointer<WebhooksPage>(this)](const QString &result) {
        if (!self)
            return;
        self->m_result->setText(result);
        Q_EMIT self->replayed(result);
    });
}

QString WebhooksPage::replayResult() const
{
    return m_result->text();
}

} // namespace sluice

#include "moc_webhookspage.cpp" // NOLINT(bugprone-suspicious-include)
