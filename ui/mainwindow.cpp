#include "mainwindow.h"

#include "breakerband.h"
#include "delivery/localengine.h"
#include "overviewpage.h"
#include "runspage.h"
#include "telemetry/telemetry.h"

#include <QAction>
#include <QCloseEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QSettings>
#include <QShortcut>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QVBoxLayout>

namespace sluice {

MainWindow::MainWindow(LocalEngine *engine, bool live, QWidget *parent)
    : QMainWindow(parent)
    , m_engine(engine)
    , m_live(live)
    , m_telemetry(new Telemetry(engine, 3600, this))
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

    int perSecond = 0, perMinute = 0;
    for (const RateRule &cap : engine->loadTestServices().caps) {
        if (cap.window.count() == 1000)
            perSecond = cap.limit;
        else if (cap.window.count() == 60'000)
            perMinute = cap.limit;
    }
    m_overview = new OverviewPage(m_telemetry, perSecond, perMinute, m_pages);
    m_runs = new RunsPage(engine, live, m_pages);
    addPage(tr("Overview"), m_overview, QStringLiteral("Ctrl+1"));
    addPage(tr("Runs"), m_runs, QStringLiteral("Ctrl+2"));
    connect(m_nav, &QListWidget::currentRowChanged, m_pages, &QStackedWidget::setCurrentIndex);
    m_nav->setCurrentRow(0);

    for (const char *name : { "mode", "redis", "listener", "breaker", "rate" }) {
        auto *label = new QLabel(this);
        label->setContentsMargins(6, 0, 6, 0);
        statusBar()->addPermanentWidget(label); // run notices must not hide these
        m_status.insert(QLatin1String(name), label);
    }
    connect(m_telemetry, &Telemetry::sampled, this, &MainWindow::refreshStatus);
    connect(m_runs, &RunsPage::runFinished, this, [this](const RunRecord &r) {
        statusBar()->showMessage(
            tr("Run %1 finished: %2").arg(r.definition.id, r.passed ? tr("PASS") : tr("FAIL")),
            15'000);
    });

    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    splitter->restoreState(settings.value(QStringLiteral("window/splitter")).toByteArray());
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

void MainWindow::showPage(int index)
{
    m_nav->setCurrentRow(index);
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
    pal.setColor(QPalette::WindowText, BreakerBand::colorFor(s.breaker));
    breaker->setPalette(pal);
    m_status[QStringLiteral("rate")]->setText(tr("%1 of %2 requests/s")
                                                  .arg(s.effectivePerSecond, 0, 'f', 1)
                                                  .arg(s.configuredPerSecond, 0, 'f', 1));
}

void MainWindow::closeEvent(QCloseEvent *event)
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    if (auto *splitter = findChild<QSplitter *>(QStringLiteral("mainSplitter")))
        settings.setValue(QStringLiteral("window/splitter"), splitter->saveState());
    event->accept();
}

} // namespace sluice
