#pragma once

#include <QWidget>

class QLabel;
class QPushButton;
class QTableWidget;

namespace sluice {

class AlertCenter;

/// The alerts (issue 17): what fires now across the fleet, with who acknowledged it, and the
/// history of every firing and resolved event any instance sent, newest first. Acknowledge
/// marks the selected firing alert as seen for every console (through Redis); it does not
/// silence it: the condition still resolves by itself. Redrawn when the AlertCenter changes
/// (at most once per evaluation).
class AlertsPage : public QWidget
{
    Q_OBJECT
public:
    /// `alerts` may be null (an engine that does not deliver): the page says so.
    explicit AlertsPage(AlertCenter *alerts, QWidget *parent = nullptr);

    QTableWidget *firingTable() const { return m_firing; }
    QTableWidget *historyTable() const { return m_history; }
    QPushButton *acknowledgeButton() const { return m_acknowledge; }
    QString summaryText() const;
    /// Firing alerts nobody acknowledged yet (the navigation's badge).
    int unacknowledged() const { return m_unacknowledged; }
    int firing() const { return m_firingCount; }
    /// Acknowledges the selected firing alert as `who`.
    void acknowledgeSelected(const QString &who);

public Q_SLOTS:
    void refresh();

Q_SIGNALS:
    /// The firing count or the unacknowledged count changed.
    void badgeChanged(int firing, int unacknowledged);

private:
    AlertCenter *m_alerts;
    QLabel *m_summary;
    QTableWidget *m_firing;
    QTableWidget *m_history;
    QPushButton *m_acknowledge;
    int m_firingCount = -1;
    int m_unacknowledged = -1;
};

/// "alice (console on host)": who acknowledges, as the alert log records it.
QString consoleUserName();

} // namespace sluice
