#pragma once

#include <QWidget>

class QLabel;
class QPushButton;
class QTableWidget;
class QTimer;

namespace sluice {

class OperatorControl;

/// The dead letters: leads that failed for good (a bad address, a 4xx from Instantly, too
/// many attempts), with the reason, and a button that queues them all again once the cause
/// is fixed. Refreshed every few seconds while shown.
class DeadLettersPage : public QWidget
{
    Q_OBJECT
public:
    DeadLettersPage(OperatorControl *control, QWidget *parent = nullptr);

    QTableWidget *table() const { return m_table; }
    /// Queues every dead letter again (what "Retry all" does, without asking).
    void retryAll();
    /// Queues the selected dead letter again.
    void retrySelected();

public Q_SLOTS:
    void refresh();

Q_SIGNALS:
    void refreshed(int count);
    void retried(int moved);
    /// A row was double-clicked: its lead's timeline (email, or the Close lead id).
    void timelineRequested(const QString &lead);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    OperatorControl *m_control;
    QTableWidget *m_table;
    QLabel *m_summary;
    QPushButton *m_retryAll;
    QPushButton *m_retryOne;
    QList<QByteArray> m_ids; ///< entry id per row
    QTimer *m_timer;
    bool m_loading = false;
};

} // namespace sluice
