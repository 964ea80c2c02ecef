#pragma once

#include <QAbstractTableModel>
#include <QWidget>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;
class QTimer;

namespace sluice {

class LocalEngine;
struct WebhookExchange;

/// The recorded webhook exchanges, newest first, as a table model over the engine's ring
/// buffer (no copies).
class WebhookModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Time, Source, Size, Signature, Status, Outcome, Task, ColumnCount };

    explicit WebhookModel(LocalEngine *engine, QObject *parent = nullptr);
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    const WebhookExchange &exchange(int row) const;
    void reload();

private:
    LocalEngine *m_engine;
    int m_rows = 0;
};

/// Every webhook the listener answered: time, source, size, signature result, status,
/// outcome and task id, with a detail pane (headers, pretty-printed body, the answer), a
/// filter and search, and Replay, which refuses what would only be dropped as a duplicate
/// and says so. Redrawn at most four times a second, however fast webhooks arrive.
class WebhooksPage : public QWidget
{
    Q_OBJECT
public:
    explicit WebhooksPage(LocalEngine *engine, QWidget *parent = nullptr);

    QTableView *view() const { return m_view; }
    QSortFilterProxyModel *proxy() const { return m_proxy; }
    void setSearch(const QString &text);
    /// Replays the selected exchange; the result appears in replayResult().
    void replaySelected();
    QString replayResult() const;
    QString detailText() const;

Q_SIGNALS:
    void replayed(const QString &result);
    /// "Lead timeline" for the selected exchange's task.
    void timelineRequested(const QString &taskId);

private:
    void showSelected();

    LocalEngine *m_engine;
    WebhookModel *m_model;
    QSortFilterProxyModel *m_proxy;
    QLineEdit *m_search;
    QComboBox *m_kind;
    QTableView *m_view;
    QPlainTextEdit *m_detail;
    QPushButton *m_replay;
    QPushButton *m_timeline;
    QLabel *m_result;
    QLabel *m_count;
    QTimer *m_redraw;
};

} // namespace sluice
