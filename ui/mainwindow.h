#pragma once

#include <QMainWindow>
#include <QPointer>

class QAction;
class QDialog;
class QFrame;
class QLabel;
class QSystemTrayIcon;
class QListWidget;
class QPushButton;
class QStackedWidget;
class QTimer;

namespace sluice {

class BackfillDialog;
class LocalEngine;
struct ConsoleSettings;
struct PauseState;
class AlertsPage;
class DeadLettersPage;
class ElidingLabel;
class LeadsPage;
class OverviewPage;
class ParkedPage;
class RunsPage;
class Telemetry;
class WebhooksPage;

/// The operator console: a page list on the left (Overview, Runs, ...), the page on the
/// right, a mode banner (SANDBOX or LIVE) and a status bar with Redis, listener, breaker and
/// rate. It only draws: the engine runs on its own thread, and the pages redraw from
/// Telemetry's snapshots.
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    MainWindow(LocalEngine *engine, bool live, QWidget *parent = nullptr);
    ~MainWindow() override;

    Telemetry *telemetry() const { return m_telemetry; }
    OverviewPage *overview() const { return m_overview; }
    RunsPage *runs() const { return m_runs; }
    DeadLettersPage *deadLetters() const { return m_deadLetters; }
    WebhooksPage *webhooks() const { return m_webhooks; }
    LeadsPage *leads() const { return m_leads; }
    ParkedPage *parked() const { return m_parked; }
    AlertsPage *alerts() const { return m_alerts; }
    /// Opens the Leads page on the timelines for `query` (email, Close lead id, task id).
    void showLead(const QString &query);
    /// The in-window notice (a finished run), empty when none is shown.
    QString noticeText() const;
    /// Saves `settings`; with `applyNow`, remembers the window and asks for a restart of the
    /// engine (restartRequested()) instead of waiting for the next start.
    void applySettings(const ConsoleSettings &settings, bool applyNow);

    QAction *pauseAction() const { return m_pauseAction; }
    /// Tools → Backfill from Close…
    QAction *backfillAction() const { return m_backfillAction; }
    /// Opens the backfill dialog (non-modal; one at a time) and returns it.
    BackfillDialog *openBackfill();
    QStackedWidget *pages() const { return m_pages; }
    /// The page list on the left (its Alerts item carries the badge).
    QListWidget *navigation() const { return m_nav; }
    void showPage(int index);
    /// Status bar texts, for tests: "mode", "paused", "redis", "listener", "breaker", "rate".
    QString statusText(const QString &name) const;
    /// The status bar's Resume button (shown only while dispatching is paused).
    QPushButton *resumeButton() const { return m_resume; }
    /// Reads the fleet's pause state (and Instantly's remaining_in_plan) now instead of at the
    /// next tick.
    void readPauseState();

Q_SIGNALS:
    /// Settings were saved to apply now: whoever made the engine stops it and starts a new one
    /// (and a new window) with them.
    void restartRequested();

protected:
    void closeEvent(QCloseEvent *event) override;

private:
    void saveWindowState();

private:
    void addPage(const QString &title, QWidget *page, const QString &shortcut);
    void refreshStatus();
    void showPauseState(const PauseState &state);
    void resumeDispatching();
    void buildToolBar();
    void notify(const QString &title, const QString &text, bool good);
    /// A notice in the status bar for `ms`, elided to the room the permanent labels leave
    /// (the whole text in its tooltip), so it never runs under them. A newer one replaces it.
    void showNotice(const QString &text, int ms);

    LocalEngine *m_engine;
    bool m_live;
    Telemetry *m_telemetry;
    QListWidget *m_nav;
    QStackedWidget *m_pages;
    OverviewPage *m_overview;
    RunsPage *m_runs;
    DeadLettersPage *m_deadLetters;
    WebhooksPage *m_webhooks;
    LeadsPage *m_leads;
    ParkedPage *m_parked;
    AlertsPage *m_alerts;
    QFrame *m_notice;
    QLabel *m_noticeText;
    QSystemTrayIcon *m_tray = nullptr;
    int m_trayTarget = 1; ///< the page a click on the tray's message shows
    QAction *m_pauseAction = nullptr;
    QAction *m_backfillAction = nullptr;
    QPointer<QDialog> m_backfillDialog;
    bool m_paused = false;
    ElidingLabel *m_statusNotice = nullptr; ///< the status bar's notice (showNotice)
    QTimer *m_statusNoticeTimer = nullptr; ///< clears it
    QWidget *m_pausedBox = nullptr; ///< the PAUSED indicator and its Resume button
    QPushButton *m_resume = nullptr;
    QTimer *m_pauseTimer = nullptr;
    bool m_readingPause = false;
    bool m_readPauseAgain = false;
    QHash<QString, QLabel *> m_status;
};

} // namespace sluice
