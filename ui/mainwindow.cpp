#include "mainwindow.h"

#include "agetext.h"
#include "alertspage.h"
#include "backfilldialog.h"
#include "consolesettings.h"
#include "control/operatorcontrol.h"
#include "deadletterspage.h"
#include "elidinglabel.h"
#include "leadspage.h"
#include "limiter/raterule.h"
#include "local/localengine.h"
#include "overviewpage.h"
#include "parkedpage.h"
#include "queue/pausecause.h"
#include "runspage.h"
#include "settingsdialog.h"
#include "telemetry/telemetry.h"
#include "tones.h"
#include "webhookspage.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QFrame>
#include <QHBoxLayout>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QPainter>
#include <QPointer>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QSystemTrayIcon>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <utility>

namespace sluice {

namespace {

/// What stopped the fleet, in words for the status bar.
QString pauseCauseTitle(PauseCause cause)
{
    switch (cause) {
    case PauseCause::InstantlyKeyRejected:
        return MainWindow::tr("Instantly API key rejected");
    case PauseCause::CloseKeyRejected:
        return MainWindow::tr("Close API key rejected");
    case PauseCause::PlanExhausted:
        return MainWindow::tr("Instantly plan exhausted");
    case PauseCause::Operator:
        break;
    }
    return MainWindow::tr("paused by an operator");
}

} // namespace

MainWindow::MainWindow(LocalEngine *engine, bool live, QWidget *parent)
    : QMainWindow(parent)
    , m_engine(engine)
    , m_live(live)
    , m_telemetry(engine->telemetry())
{
    setWindowTitle(live ? tr("Sluice — LIVE") : tr("Sluice — SANDBOX"));
    auto *central = new QWidget(this);
    auto *outer = new QVBoxLayout(central);
    outer->setContentsMargins(0, 0, 0, 0);
    outer->setSpacing(0);

    auto *banner = new QLabel(central);
    banner->setObjectName(QStringLiteral("modeBanner"));
    banner->setAlignment(Qt::AlignCenter);
    banner->setMargin(4);
    banner->setText(live ? tr("LIVE — leads go to your real Instantly workspace")
                         : tr("SANDBOX — embedded fake Instantly and Close with the real limits; "
                              "nothing leaves this machine"));
    banner->setStyleSheet(live ? QStringLiteral("background:#c62828;color:white;font-weight:bold")
                               : QStringLiteral("background:#f9a825;color:black;font-weight:bold"));
    outer->addWidget(banner);

    // The in-window notice: a run that finished stays announced until dismissed.
    m_notice = new QFrame(central);
    m_notice->setObjectName(QStringLiteral("notice"));
    m_notice->setFrameShape(QFrame::StyledPanel);
    auto *noticeLayout = new QHBoxLayout(m_notice);
    noticeLayout->setContentsMargins(8, 4, 8, 4);
    m_noticeText = new QLabel(m_notice);
    m_noticeText->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_noticeText->setWordWrap(true);
    noticeLayout->addWidget(m_noticeText, 1);
    auto *showRun = new QPushButton(tr("Show run"), m_notice);
    connect(showRun, &QPushButton::clicked, this, [this] {
        showPage(1);
        m_notice->hide();
    });
    noticeLayout->addWidget(showRun);
    auto *dismiss = new QPushButton(tr("Dismiss"), m_notice);
    dismiss->setShortcut(QKeySequence(Qt::Key_Escape));
    connect(dismiss, &QPushButton::clicked, m_notice, &QWidget::hide);
    noticeLayout->addWidget(dismiss);
    m_notice->hide();
    outer->addWidget(m_notice);

    auto *splitter = new QSplitter(central);
    splitter->setObjectName(QStringLiteral("mainSplitter"));
    m_nav = new QListWidget(splitter);
    m_nav->setMinimumWidth(110);
    m_nav->setStyleSheet(QStringLiteral("QListWidget::item { padding: 6px 8px; }"));
    m_pages = new QStackedWidget(splitter);
    splitter->addWidget(m_nav);
    splitter->addWidget(m_pages);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({ 150, 1100 });
    outer->addWidget(splitter, 1);
    setCentralWidget(central);

    const std::vector<RateRule> caps = engine->loadTestServices().caps;
    m_overview = new OverviewPage(m_telemetry, capWithin(caps, std::chrono::seconds { 1 }),
                                  capWithin(caps, std::chrono::seconds { 60 }), m_pages);
    m_runs = new RunsPage(engine, live, m_pages);
    addPage(tr("Overview"), m_overview, QStringLiteral("Ctrl+1"));
    addPage(tr("Runs"), m_runs, QStringLiteral("Ctrl+2"));
    m_webhooks = new WebhooksPage(engine, m_pages);
    addPage(tr("Webhooks"), m_webhooks, QStringLiteral("Ctrl+3"));
    m_leads = new LeadsPage(engine, m_pages);
    addPage(tr("Leads"), m_leads, QStringLiteral("Ctrl+4"));
    m_deadLetters = new DeadLettersPage(engine->control(), m_pages);
    addPage(tr("Dead letters"), m_deadLetters, QStringLiteral("Ctrl+5"));
    m_parked = new ParkedPage(engine, live, m_pages);
    addPage(tr("Parked"), m_parked, QStringLiteral("Ctrl+6"));
    m_alerts = new AlertsPage(engine->alerts(), m_pages);
    addPage(tr("Alerts"), m_alerts, QStringLiteral("Ctrl+7"));
    // The badge: the firing count in the navigation, red while any is not acknowledged.
    connect(m_alerts, &AlertsPage::badgeChanged, this, [this](int firing, int unacknowledged) {
        QListWidgetItem *item = m_nav->item(m_pages->indexOf(m_alerts));
        item->setText(firing > 0 ? tr("Alerts (%1)").arg(firing) : tr("Alerts"));
        QFont font = item->font();
        font.setBold(unacknowledged > 0);
        item->setFont(font);
        item->setForeground(unacknowledged > 0 ? toneColor(Tone::Bad, palette())
                                               : palette().color(QPalette::Text));
    });
    m_alerts->refresh();
    connect(m_webhooks, &WebhooksPage::timelineRequested, this, &MainWindow::showLead);
    connect(m_deadLetters, &DeadLettersPage::timelineRequested, this, &MainWindow::showLead);
    auto *find = new QShortcut(QKeySequence::Find, this);
    connect(find, &QShortcut::activated, this, [this] {
        showPage(m_pages->indexOf(m_leads));
        m_leads->searchBox()->setFocus();
        m_leads->searchBox()->selectAll();
    });
    buildToolBar();
    connect(m_nav, &QListWidget::currentRowChanged, m_pages, &QStackedWidget::setCurrentIndex);
    m_nav->setCurrentRow(0);

    // A paused fleet is the first thing in the status bar, with its cause and a way out.
    m_pausedBox = new QWidget(this);
    m_pausedBox->setObjectName(QStringLiteral("pausedBox"));
    auto *pausedLayout = new QHBoxLayout(m_pausedBox);
    pausedLayout->setContentsMargins(6, 0, 6, 0);
    auto *pausedLabel = new QLabel(m_pausedBox);
    pausedLabel->setObjectName(QStringLiteral("pausedIndicator"));
    pausedLayout->addWidget(pausedLabel);
    m_resume = new QPushButton(tr("Resume"), m_pausedBox);
    m_resume->setToolTip(tr("Let every instance take leads again"));
    connect(m_resume, &QPushButton::clicked, this, &MainWindow::resumeDispatching);
    pausedLayout->addWidget(m_resume);
    m_pausedBox->hide();
    // Notices (alerts, settings, errors) on the left, in the room the labels below leave.
    m_statusNotice = new ElidingLabel(this);
    m_statusNotice->setObjectName(QStringLiteral("statusNotice"));
    m_statusNotice->setContentsMargins(6, 0, 6, 0);
    statusBar()->addWidget(m_statusNotice, 1);
    m_statusNoticeTimer = new QTimer(this);
    m_statusNoticeTimer->setSingleShot(true);
    connect(m_statusNoticeTimer, &QTimer::timeout, m_statusNotice,
            [this] { m_statusNotice->setFullText({}); });
    statusBar()->addPermanentWidget(m_pausedBox); // run notices must not hide these
    m_status.insert(QStringLiteral("paused"), pausedLabel);
    for (const char *name : { "mode", "redis", "listener", "breaker", "rate" }) {
        auto *label = new QLabel(this);
        label->setContentsMargins(6, 0, 6, 0);
        statusBar()->addPermanentWidget(label);
        m_status.insert(QLatin1String(name), label);
    }
    connect(m_telemetry, &Telemetry::sampled, this, &MainWindow::refreshStatus);
    // The pause lives in Redis (any instance or console may pause or resume the fleet): read
    // every two seconds, one read at a time.
    m_pauseTimer = new QTimer(this);
    m_pauseTimer->setInterval(2000);
    connect(m_pauseTimer, &QTimer::timeout, this, &MainWindow::readPauseState);
    m_pauseTimer->start();
    readPauseState();
    if (QSystemTrayIcon::isSystemTrayAvailable()) {
        QPixmap icon(32, 32);
        icon.fill(Qt::transparent);
        QPainter p(&icon);
        p.setRenderHint(QPainter::Antialiasing);
        p.setBrush(QColor(0x15, 0x65, 0xc0));
        p.setPen(Qt::NoPen);
        p.drawRoundedRect(2, 2, 28, 28, 6, 6);
        p.setBrush(Qt::white);
        p.drawRect(8, 10, 16, 4);
        p.drawRect(8, 18, 16, 4);
        p.end();
        m_tray = new QSystemTrayIcon(QIcon(icon), this);
        m_tray->setToolTip(windowTitle());
        connect(m_tray, &QSystemTrayIcon::messageClicked, this, [this] {
            showNormal();
            raise();
            activateWindow();
            showPage(m_trayTarget);
        });
        m_tray->show();
    }
    if (AlertCenter *alerts = engine->alerts()) {
        // Every alert any instance starts or ends: the status bar, and the tray for someone
        // in another window.
        connect(alerts, &AlertCenter::logged, this, [this](const AlertEvent &e) {
            const bool firing = e.state == AlertEvent::State::Firing;
            const QString title = tr("Alert %1: %2")
                                      .arg(QString::fromLatin1(alertKindName(e.kind)),
                                           firing ? tr("firing") : tr("resolved"));
            showNotice(QStringLiteral("%1 — %2").arg(title, e.summary), 30'000);
            if (m_tray && !isActiveWindow()) {
                m_trayTarget = m_pages->indexOf(m_alerts);
                m_tray->showMessage(title, e.summary,
                                    firing && e.severity != AlertSeverity::Info
                                        ? QSystemTrayIcon::Warning
                                        : QSystemTrayIcon::Information,
                                    10'000);
            }
        });
    }
    connect(m_runs, &RunsPage::runFinished, this, [this](const RunRecord &r) {
        const QString title
            = tr("Run %1: %2").arg(r.definition.id, r.passed ? tr("PASS") : tr("FAIL"));
        QString text = tr("%1 of %2 leads delivered to '%3'")
                           .arg(r.delivered)
                           .arg(r.definition.leads)
                           .arg(r.definition.campaign);
        if (!r.passed && !r.stopReason.isEmpty())
            text += QStringLiteral(": ") + r.stopReason;
        notify(title, text, r.passed);
    });

    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    // Every named splitter (the page list, the Webhooks and Leads panes) as it was left.
    for (QSplitter *s : findChildren<QSplitter *>())
        if (!s->objectName().isEmpty())
            s->restoreState(
                settings.value(QStringLiteral("window/") + s->objectName()).toByteArray());
    if (!settings.contains(QStringLiteral("window/geometry")))
        resize(1200, 860);
    m_telemetry->start();
    refreshStatus();
}

MainWindow::~MainWindow() = default;

void MainWindow::addPage(const QString &title, QWidget *page, const QString &shortcut)
{
    m_pages->addWidget(page);
    auto *item = new QListWidgetItem(title, m_nav);
    item->setToolTip(tr("%1 (%2)").arg(title, shortcut));
    const int index = m_pages->count() - 1;
    auto *key = new QShortcut(QKeySequence(shortcut), this);
    connect(key, &QShortcut::activated, this, [this, index] { showPage(index); });
}

void MainWindow::buildToolBar()
{
    QToolBar *bar = addToolBar(tr("Controls"));
    bar->setObjectName(QStringLiteral("controls"));
    bar->setMovable(false);
    m_pauseAction = bar->addAction(tr("Pause dispatching…"));
    m_pauseAction->setShortcut(QKeySequence(QStringLiteral("Ctrl+Shift+P")));
    m_pauseAction->setToolTip(tr("Stop every instance from taking new leads (%1)")
                                  .arg(m_pauseAction->shortcut().toString()));
    connect(m_pauseAction, &QAction::triggered, this, [this] {
        if (m_paused) {
            resumeDispatching();
            return;
        }
        bool ok = false;
        const QString reason = QInputDialog::getText(
            this, tr("Pause dispatching"),
            tr("Why? Every instance and console shows this until someone resumes."),
            QLineEdit::Normal, QString(), &ok);
        if (!ok)
            return;
        QPointer<MainWindow> self(this);
        if (auto problem = m_engine->control()->pause(reason, [self](auto) {
                if (self)
                    self->readPauseState();
            }))
            QMessageBox::warning(this, tr("Not paused"), *problem);
    });
    bar->addSeparator();
    auto force = [this](bool open) {
        bool ok = false;
        const QString reason = QInputDialog::getText(
            this, open ? tr("Force the breaker open") : tr("Force the breaker closed"),
            open ? tr("Why? Nothing is sent upstream by any instance for 15 minutes or until "
                      "cleared.")
                 : tr("Why? Failures will not open it for 15 minutes or until cleared."),
            QLineEdit::Normal, QString(), &ok);
        if (!ok)
            return;
        const auto problem = open
            ? m_engine->control()->forceBreakerOpen(reason, std::chrono::minutes { 15 })
            : m_engine->control()->forceBreakerClosed(reason, std::chrono::minutes { 15 });
        if (problem)
            QMessageBox::warning(this, tr("Breaker not forced"), *problem);
    };
    QAction *open = bar->addAction(tr("Force breaker open…"));
    connect(open, &QAction::triggered, this, [force] { force(true); });
    QAction *closed = bar->addAction(tr("Force closed…"));
    connect(closed, &QAction::triggered, this, [force] { force(false); });
    QAction *clear = bar->addAction(tr("Clear force"));
    connect(clear, &QAction::triggered, this,
            [this] { m_engine->control()->clearBreakerForce(tr("cleared from the console")); });
    QMenu *tools = menuBar()->addMenu(tr("&Tools"));
    m_backfillAction = tools->addAction(tr("Backfill from Close…"));
    m_backfillAction->setToolTip(
        tr("Queue the Close \"Instantly:\" tasks whose webhooks never arrived"));
    connect(m_backfillAction, &QAction::triggered, this, [this] { openBackfill(); });
    bar->addSeparator();
    QAction *settings = bar->addAction(tr("Settings…"));
    settings->setShortcut(QKeySequence::Preferences);
    connect(settings, &QAction::triggered, this, [this] {
        QSettings store;
        SettingsDialog dialog(ConsoleSettings::load(store), this);
        if (dialog.exec() != QDialog::Accepted)
            return;
        const auto answer = QMessageBox::question(
            this, tr("Apply the settings now?"),
            tr("The console restarts its engine with them. Leads in hand go back to the queue "
               "and are delivered after the restart; webhooks that arrive in that second are "
               "refused, and Close sends them again. Nothing is lost.\n\nNo: they apply when "
               "the console starts again."),
            QMessageBox::Yes | QMessageBox::No, QMessageBox::Yes);
        applySettings(dialog.settings(), answer == QMessageBox::Yes);
    });
}

BackfillDialog *MainWindow::openBackfill()
{
    if (auto *open = qobject_cast<BackfillDialog *>(m_backfillDialog.data())) {
        open->raise();
        open->activateWindow();
        return open;
    }
    auto *dialog = new BackfillDialog(m_engine, this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    m_backfillDialog = dialog;
    dialog->show();
    return dialog;
}

void MainWindow::applySettings(const ConsoleSettings &settings, bool applyNow)
{
    QSettings store;
    settings.save(store);
    store.sync();
    if (!applyNow) {
        showNotice(tr("Settings saved; they apply when the console starts again."), 15'000);
        return;
    }
    saveWindowState();
    Q_EMIT restartRequested();
}

void MainWindow::showPage(int index)
{
    m_nav->setCurrentRow(index);
}

void MainWindow::showLead(const QString &query)
{
    showPage(m_pages->indexOf(m_leads));
    m_leads->search(query);
}

QString MainWindow::noticeText() const
{
    return m_notice->isHidden() ? QString() : m_noticeText->text();
}

void MainWindow::showNotice(const QString &text, int ms)
{
    m_statusNotice->setFullText(text);
    m_statusNoticeTimer->start(ms);
}

void MainWindow::notify(const QString &title, const QString &text, bool good)
{
    m_noticeText->setText(
        QStringLiteral("<b>%1</b> — %2").arg(title.toHtmlEscaped(), text.toHtmlEscaped()));
    const QColor tone = toneColor(good ? Tone::Good : Tone::Bad, palette());
    m_notice->setStyleSheet(QStringLiteral("#notice { border: 2px solid %1; }").arg(tone.name()));
    m_notice->show();
    // Someone watching another window hears about it too: the tray, or the taskbar.
    if (m_tray && !isActiveWindow()) {
        m_trayTarget = 1; // the run
        m_tray->showMessage(title, text,
                            good ? QSystemTrayIcon::Information : QSystemTrayIcon::Warning, 10'000);
    }
    QApplication::alert(this);
}

QString MainWindow::statusText(const QString &name) const
{
    const QLabel *label = m_status.value(name);
    return label ? label->text() : QString();
}

void MainWindow::refreshStatus()
{
    const DeliverySnapshot s
        = m_engine->delivery() ? m_engine->delivery()->snapshot() : DeliverySnapshot {};
    m_status[QStringLiteral("mode")]->setText(m_live ? tr("LIVE") : tr("SANDBOX"));
    QString redis = tr("Redis %1: %2").arg(m_engine->redisDisplay(), s.redisState);
    if (m_engine->usesPrivateRedis())
        redis += tr(" (private)");
    if (s.limiterDegraded)
        redis += tr(" — limiter on local fallback");
    m_status[QStringLiteral("redis")]->setText(redis);
    const QUrl listener = m_engine->listenerUrl();
    m_status[QStringLiteral("listener")]->setText(
        listener.isEmpty() ? tr("no listener") : tr("Listening on %1").arg(listener.toString()));
    QLabel *breaker = m_status[QStringLiteral("breaker")];
    breaker->setText(tr("Breaker %1").arg(breakerStateName(s.breaker).toUpper()));
    QPalette pal = breaker->palette();
    const bool closed
        = s.breaker == BreakerState::Closed || s.breaker == BreakerState::ForcedClosed;
    pal.setColor(QPalette::WindowText,
                 toneColor(closed                                    ? Tone::Good
                               : s.breaker == BreakerState::HalfOpen ? Tone::Warning
                                                                     : Tone::Bad,
                           palette()));
    breaker->setPalette(pal);
    m_status[QStringLiteral("rate")]->setText(tr("%1 of %2 requests/s")
                                                  .arg(s.effectivePerSecond, 0, 'f', 1)
                                                  .arg(s.configuredPerSecond, 0, 'f', 1));
}

void MainWindow::readPauseState()
{
    if (m_readingPause) {
        m_readPauseAgain = true;
        return;
    }
    m_readingPause = true;
    QPointer<MainWindow> self(this);
    m_engine->control()->pauseState([self](Result<PauseState, RedisError> r) {
        if (!self)
            return;
        self->m_readingPause = false;
        // Unreadable: the Redis label says so; the indicator keeps what was last known.
        if (r.ok())
            self->showPauseState(r.value());
        if (std::exchange(self->m_readPauseAgain, false))
            self->readPauseState();
    });
}

void MainWindow::showPauseState(const PauseState &state)
{
    m_overview->setRemainingInPlan(state.remainingInPlan);
    m_paused = state.reason.has_value();
    m_pauseAction->setText(m_paused ? tr("Resume dispatching") : tr("Pause dispatching…"));
    QLabel *paused = m_status[QStringLiteral("paused")];
    if (!m_paused) {
        paused->clear();
        m_pausedBox->hide();
        return;
    }
    const QString reason = state.reason->trimmed();
    const QString cause = pauseCauseTitle(state.cause);
    QString text;
    if (state.cause == PauseCause::Operator)
        text = tr("PAUSED by an operator: %1").arg(reason);
    else if (reason.isEmpty() || reason.startsWith(cause, Qt::CaseInsensitive))
        text = tr("PAUSED: %1").arg(reason.isEmpty() ? cause : reason);
    else
        text = tr("PAUSED: %1 — %2").arg(cause, reason);
    paused->setText(text);
    paused->setStyleSheet(
        QStringLiteral("color:%1;font-weight:bold").arg(toneColor(Tone::Bad, palette()).name()));
    QString tip
        = state.sinceMs > 0 ? tr("Paused since %1.").arg(timestampText(state.sinceMs)) : QString();
    tip += QLatin1Char(' ')
        + (state.cause == PauseCause::Operator
               ? tr("An operator's pause ends only when someone resumes.")
               : tr("No instance takes new leads; one checks about every minute whether the "
                    "cause is gone and resumes by itself. Fix the cause, then Resume to go on "
                    "at once."));
    m_pausedBox->setToolTip(tip.trimmed());
    m_pausedBox->show();
}

void MainWindow::resumeDispatching()
{
    m_resume->setEnabled(false);
    QPointer<MainWindow> self(this);
    m_engine->control()->resume([self](std::optional<RedisError> error) {
        if (!self)
            return;
        self->m_resume->setEnabled(true);
        if (error)
            self->showNotice(tr("Not resumed: %1").arg(error->describe()), 15'000);
        self->readPauseState();
    });
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    saveWindowState();
    event->accept();
}

void MainWindow::saveWindowState()
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    for (const QSplitter *s : findChildren<QSplitter *>())
        if (!s->objectName().isEmpty())
            settings.setValue(QStringLiteral("window/") + s->objectName(), s->saveState());
}

} // namespace sluice

#include "moc_mainwindow.cpp" // NOLINT(bugprone-suspicious-include)
