// The console, offscreen, fed by a real embedded engine (sandbox, real redis-server): after a
// 20-lead run each view shows the right numbers, the buttons drive the engine, and every page
// renders to a PNG under the build directory that a person can look at (and that is not
// blank).
#include "common/testrun.h"
#include "common/validschedule.h"
#include "consolesettings.h"
#include "control/operatorcontrol.h"
#include "core/clock.h"
#include "deadletterspage.h"
#include "delivery/localengine.h"
#include "leadspage.h"
#include "limiter/sendaudit.h"
#include "mainwindow.h"
#include "net/apitransport.h"
#include "overviewpage.h"
#include "queue/queuedlead.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "runs/webhookfirer.h"
#include "runspage.h"
#include "sandbox/sandboxserver.h"
#include "telemetry/telemetry.h"
#include "tones.h"
#include "webhookspage.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QImage>
#include <QListWidget>
#include <QPushButton>
#include <QSet>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStackedWidget>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>

#include <nlohmann/json.hpp>

#include <cmath>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

int distinctColours(const QImage &image)
{
    QSet<QRgb> colours;
    for (int y = 0; y < image.height(); y += 3)
        for (int x = 0; x < image.width(); x += 3)
            colours.insert(image.pixel(x, y));
    return int(colours.size());
}

} // namespace

class TestConsole : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QCoreApplication::setOrganizationName(QStringLiteral("sluice-test"));
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
        LocalEngineOptions options
            = test::sandboxEngineOptions(m_redis.url(), QStringLiteral("console"), m_dir.path());
        options.recordWebhooks = 1000;
        m_engine = std::make_unique<LocalEngine>(options);
        const auto problem = m_engine->start();
        QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
        m_window = std::make_unique<MainWindow>(m_engine.get(), false);
        m_window->resize(1280, 900);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }

    void cleanupTestCase()
    {
        m_window.reset();
        m_engine.reset();
    }

    void statusBarShowsTheEngine()
    {
        QCOMPARE(m_window->windowTitle(), QStringLiteral("Sluice — SANDBOX"));
        QCOMPARE(m_window->statusText(QStringLiteral("mode")), QStringLiteral("SANDBOX"));
        QVERIFY(m_window->statusText(QStringLiteral("listener"))
                    .contains(QStringLiteral("/instantly/add_lead")));
        QTRY_VERIFY(
            m_window->statusText(QStringLiteral("redis")).contains(QStringLiteral("connected")));
        QCOMPARE(m_window->statusText(QStringLiteral("breaker")), QStringLiteral("Breaker CLOSED"));
        QTRY_COMPARE(m_window->statusText(QStringLiteral("rate")),
                     QStringLiteral("8.0 of 8.0 requests/s"));
    }

    void aStageButtonRunsALoadTestAndEveryViewShowsIt()
    {
        m_window->showPage(1);
        RunsPage *runs = m_window->runs();
        QVERIFY(runs->predictionText().contains(QStringLiteral("20 leads 0.")));
        QPushButton *twenty = nullptr;
        for (QPushButton *b : runs->findChildren<QPushButton *>())
            if (b->text() == QStringLiteral("20 leads"))
                twenty = b;
        QVERIFY(twenty);
        QSignalSpy finished(runs, &RunsPage::runFinished);
        QTest::mouseClick(twenty, Qt::LeftButton);
        QVERIFY(runs->running());
        QVERIFY(!twenty->isEnabled()); // one run at a time
        QVERIFY(finished.wait(60'000));
        const RunRecord r = finished.front().front().value<RunRecord>();
        QVERIFY2(r.passed, qPrintable(r.stopReason));
        QCOMPARE(runs->verdictText(), QStringLiteral("PASS"));
        // Announced in the window until dismissed (and in the tray when there is one).
        QVERIFY2(m_window->noticeText().contains(QStringLiteral("PASS"))
                     && m_window->noticeText().contains(QStringLiteral("20 of 20 leads")),
                 qPrintable(m_window->noticeText()));
        QVERIFY(runs->checksView()->topLevelItemCount() >= 4);
        QCOMPARE(runs->history().size(), size_t(1));
        QVERIFY(twenty->isEnabled());

        // The overview catches up within a couple of samples.
        OverviewPage *overview = m_window->overview();
        QTRY_COMPARE_WITH_TIMEOUT(overview->tileText(QStringLiteral("delivered")),
                                  QStringLiteral("20"), 5000);
        QTRY_VERIFY(overview->tileText(QStringLiteral("queue")) == QStringLiteral("0"));
        QCOMPARE(overview->tileText(QStringLiteral("breaker")), QStringLiteral("CLOSED"));
        int sent = 0;
        const auto &samples = m_window->telemetry()->samples();
        for (size_t i = 0; i < samples.size(); ++i)
            sent += samples.at(i).sent;
        QVERIFY(sent >= 2); // a campaign lookup and a bulk add, at least
    }

    void verifyRepairAndCleanUpFromTheButtons()
    {
        RunsPage *runs = m_window->runs();
        QCOMPARE(runs->currentIndex(), 0);
        QSignalSpy changed(runs, &RunsPage::recordChanged);
        QPushButton *verify = nullptr;
        for (QPushButton *b : runs->findChildren<QPushButton *>())
            if (b->text() == QStringLiteral("&Verify"))
                verify = b;
        QVERIFY(verify && verify->isEnabled());
        QTest::mouseClick(verify, Qt::LeftButton);
        QVERIFY(changed.wait(30'000));
        RunRecord r = changed.takeFirst().front().value<RunRecord>();
        QVERIFY(r.verify.has_value());
        QCOMPARE(r.verify->present, 20);
        QVERIFY(r.verify->missing.isEmpty());
        QVERIFY(r.passed);

        // A lead vanishes behind Sluice's back: verify says so, repair brings it back.
        SandboxServer *sandbox = m_engine->sandbox();
        const QString lost = r.definition.emails().at(3);
        QString lostId;
        for (const auto &lead : sandbox->store().allLeads())
            if (QString::fromStdString(lead["email"].get<std::string>()).toLower() == lost)
                lostId = QString::fromStdString(lead["id"].get<std::string>());
        QVERIFY(!lostId.isEmpty());
        QVERIFY(sandbox->store().deleteLead(lostId).status == 200);
        QVERIFY(runs->verifyCurrent(true));
        QVERIFY(changed.wait(30'000));
        r = changed.takeFirst().front().value<RunRecord>();
        QCOMPARE(r.verify->missing, QStringList { lost });
        QCOMPARE(r.verify->repaired, 1);
        QVERIFY(!r.passed);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox->store().leadCount(), 20, 15'000);
        QVERIFY(runs->verifyCurrent(false));
        QVERIFY(changed.wait(30'000));
        r = changed.takeFirst().front().value<RunRecord>();
        QVERIFY(r.verify->missing.isEmpty());
        QVERIFY(r.passed);

        QVERIFY(runs->cleanUpCurrent(false));
        QVERIFY(changed.wait(30'000));
        r = changed.takeFirst().front().value<RunRecord>();
        QVERIFY(r.cleanup.has_value());
        QVERIFY(!r.cleanup->dryRun);
        QCOMPARE(r.cleanup->deleted, 20);
        QCOMPARE(r.cleanup->remaining, 0);
        QVERIFY(r.cleanup->campaignDeleted);
        QCOMPARE(sandbox->store().leadCount(), 0);
        QVERIFY(r.passed);
    }

    void runsAreKeptInTheLedgerForTheNextConsole()
    {
        const RunRecord shown = m_window->runs()->history().back();
        RunsPage next(m_engine.get(), false); // what a restarted console shows
        QSignalSpy loaded(&next, &RunsPage::historyLoaded);
        QVERIFY(loaded.wait(10'000));
        QVERIFY(!next.history().empty());
        const RunRecord &stored = next.history().back();
        QCOMPARE(stored.definition.id, shown.definition.id);
        QVERIFY(stored.cleanup.has_value());
        QCOMPARE(stored.cleanup->remaining, 0);
        QCOMPARE(stored.passed, shown.passed);
        QVERIFY(stored.embeddedSandbox);
        QCOMPARE(next.verdictText(),
                 shown.passed ? QStringLiteral("PASS") : QStringLiteral("FAIL"));
    }

    void webhooksAreInspectedAndReplayRefusesDuplicates()
    {
        WebhooksPage *page = m_window->webhooks();
        m_window->showPage(2);
        // The 20-lead run came through the listener.
        QTRY_VERIFY(page->proxy()->rowCount() >= 20);
        QCOMPARE(page->proxy()->index(0, WebhookModel::Outcome).data().toString(),
                 QStringLiteral("accepted"));
        // The sandbox signs, as Close does, and the intake checks.
        QCOMPARE(page->proxy()->index(0, WebhookModel::Signature).data().toString(),
                 QStringLiteral("valid"));
        page->view()->setCurrentIndex(page->proxy()->index(0, 0));
        QVERIFY(page->detailText().contains(QStringLiteral("\"object_type\": \"task.lead\"")));
        QVERIFY(page->detailText().contains(QStringLiteral("Answer 202")));
        QSignalSpy replayed(page, &WebhooksPage::replayed);
        page->replaySelected();
        QTRY_COMPARE(replayed.size(), 1);
        QVERIFY2(page->replayResult().startsWith(QStringLiteral("not replayed: Close event ev_")),
                 qPrintable(page->replayResult()));
        QVERIFY(page->replayResult().contains(QStringLiteral("already stored as task")));

        // A broken request is recorded too, found by search, and a replay sends it again.
        FireOptions fire;
        fire.target = m_engine->listenerUrl();
        WebhookFirer firer(fire, { FireRequest { "{\"event\": 42}", {} } });
        firer.start();
        QTRY_VERIFY(firer.isFinished());
        // Unsigned: refused before its body is read.
        QCOMPARE(firer.results().front().status, 401);
        page->setSearch(QStringLiteral("\"event\": 42"));
        QTRY_COMPARE(page->proxy()->rowCount(), 1);
        page->view()->setCurrentIndex(page->proxy()->index(0, 0));
        QCOMPARE(page->proxy()->index(0, WebhookModel::Signature).data().toString(),
                 QStringLiteral("missing"));
        QVERIFY(page->proxy()
                    ->index(0, WebhookModel::Outcome)
                    .data()
                    .toString()
                    .startsWith(QStringLiteral("401: ")));
        // A replay is signed as Close would sign it: now the body itself is refused.
        page->replaySelected();
        QTRY_COMPARE(replayed.size(), 2);
        QVERIFY2(page->replayResult().startsWith(QStringLiteral("replayed: 400: ")),
                 qPrintable(page->replayResult()));

        // A body nested 100,000 levels deep is shown as it came, never pretty-printed (the
        // printer recurses: the console would crash).
        const QByteArray deep = QByteArray(100'000, '[') + QByteArray(100'000, ']');
        WebhookFirer deepFirer(fire, { FireRequest { deep, {} } });
        deepFirer.start();
        QTRY_VERIFY(deepFirer.isFinished());
        page->setSearch(QStringLiteral("[[[[[[[["));
        QTRY_COMPARE(page->proxy()->rowCount(), 1);
        page->view()->setCurrentIndex(page->proxy()->index(0, 0));
        QVERIFY2(page->detailText().contains(QStringLiteral("shown as received")),
                 qPrintable(page->detailText().left(300)));
        QVERIFY(page->detailText().contains(QStringLiteral("[[[[[[[[")));
        page->setSearch(QString());
    }

    void leadsPageShowsEachLeadsTimeline()
    {
        // The lead lost and repaired above: its whole life, in order, one timeline.
        const RunRecord run = m_window->runs()->history().back();
        const QString lost = run.definition.emails().at(3);
        LeadsPage *leads = m_window->leads();
        QSignalSpy searched(leads, &LeadsPage::searched);
        m_window->showLead(lost.toUpper());
        QCOMPARE(m_window->pages()->currentWidget(), leads);
        QVERIFY(searched.wait(10'000));
        QTreeWidget *tree = leads->timelineView();
        QCOMPARE(tree->topLevelItemCount(), 1);
        const QTreeWidgetItem *head = tree->topLevelItem(0);
        QVERIFY2(head->text(0).startsWith(lost + QStringLiteral(" in '")),
                 qPrintable(head->text(0)));
        QStringList steps;
        for (int i = 0; i < head->childCount(); ++i)
            steps << head->child(i)->text(2);
        // Lead-less, as Close sends it: the webhook is queued for a lookup, the lookup finds
        // the contact, and the contact is queued as a lead of its own.
        const QStringList expected {
            QStringLiteral("Received"),           QStringLiteral("Queued"),
            QStringLiteral("Looked up in Close"), QStringLiteral("Queued"),
            QStringLiteral("Attempt 1"),          QStringLiteral("Delivered"),
            QStringLiteral("Verified"),           QStringLiteral("Missing"),
            QStringLiteral("Queued again"),       QStringLiteral("Attempt 1"),
            QStringLiteral("Delivered"),          QStringLiteral("Verified"),
            QStringLiteral("Cleaned up")
        };
        QCOMPARE(steps, expected);
        QVERIFY2(head->child(4)->text(3).startsWith(QStringLiteral("attempt 1: HTTP 200 in ")),
                 qPrintable(head->child(4)->text(3)));
        QVERIFY(head->child(4)->text(3).contains(QStringLiteral("for the limiter")));
        QVERIFY(leads->statusText().contains(QStringLiteral("deleted")));

        // The recent list has every lead of the run; a filter narrows it.
        QSignalSpy recent(leads, &LeadsPage::recentLoaded);
        leads->refreshRecent();
        QVERIFY(recent.wait(10'000));
        QVERIFY(leads->recentTable()->rowCount() >= 20);

        // From a webhook: its task's lead.
        WebhooksPage *hooks = m_window->webhooks();
        QString task;
        for (int row = 0; row < hooks->proxy()->rowCount() && task.isEmpty(); ++row)
            task = hooks->proxy()->index(row, WebhookModel::Task).data().toString();
        QVERIFY(!task.isEmpty());
        m_window->showLead(task);
        QVERIFY(searched.wait(10'000));
        QCOMPARE(tree->topLevelItemCount(), 1);
        QVERIFY(tree->topLevelItem(0)->text(0).contains(task));

        QSignalSpy again(leads, &LeadsPage::searched);
        leads->search(QStringLiteral("nobody@nowhere.example"));
        QVERIFY(again.wait(10'000));
        QCOMPARE(tree->topLevelItemCount(), 0);
        QVERIFY(leads->statusText().startsWith(QStringLiteral("Nothing in the journal")));

        // Left on the repaired lead, for the screenshot.
        leads->search(lost);
        QVERIFY(again.wait(10'000));
    }

    void pauseShowsInTheStatusBarAndResumes()
    {
        QVERIFY(
            m_engine->control()->pause(QStringLiteral("   ")).has_value()); // a reason is required
        QVERIFY(!m_engine->control()->pause(QStringLiteral("maintenance window")));
        QTRY_COMPARE_WITH_TIMEOUT(m_window->statusText(QStringLiteral("paused")),
                                  QStringLiteral("PAUSED: maintenance window"), 10'000);
        QCOMPARE(m_window->pauseAction()->text(), QStringLiteral("Resume dispatching"));
        m_window->pauseAction()->trigger(); // resumes, no question asked
        QTRY_COMPARE_WITH_TIMEOUT(m_window->statusText(QStringLiteral("paused")), QString(),
                                  10'000);
    }

    void deadLettersAreListedAndRetried()
    {
        SandboxServer *sandbox = m_engine->sandbox();
        nlohmann::json campaign
            = { { "name", "Dead Letter Campaign" },
                { "campaign_schedule", sluice::test::validCampaignSchedule() } };
        QCOMPARE(sandbox->store().createCampaign(campaign).status, 200);
        // A lead the dispatcher gave up on, as it writes them.
        QueuedLead lead;
        lead.taskId = QStringLiteral("task-dead-1");
        lead.campaignName = QStringLiteral("Dead Letter Campaign");
        lead.source = QStringLiteral("direct");
        lead.receivedMs = wallClockMs();
        lead.attempt = 12;
        lead.lead.email = QStringLiteral("revived@example.com");
        QList<QByteArray> argv { "XADD", m_engine->keys().deadLetters(), "*" };
        argv << lead.toFields() << "reason"
             << "HTTP 503 twelve times"
             << "dead_ms" << QByteArray::number(wallClockMs());
        QVERIFY(test::execute(*m_engine->redis(), argv).ok());
        lead.lead.email = QStringLiteral("second@example.com");
        QList<QByteArray> second { "XADD", m_engine->keys().deadLetters(), "*" };
        second << lead.toFields() << "reason"
               << "HTTP 400: bad lead"
               << "dead_ms" << QByteArray::number(wallClockMs());
        QVERIFY(test::execute(*m_engine->redis(), second).ok());

        m_window->showPage(m_window->pages()->indexOf(m_window->deadLetters()));
        DeadLettersPage *page = m_window->deadLetters();
        QSignalSpy refreshed(page, &DeadLettersPage::refreshed);
        page->refresh();
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toInt() == 2);
        // Newest first.
        QCOMPARE(page->table()->item(1, 1)->text(), QStringLiteral("revived@example.com"));
        QCOMPARE(page->table()->item(1, 5)->text(), QStringLiteral("HTTP 503 twelve times"));
        QCOMPARE(page->table()->item(1, 4)->text(), QStringLiteral("12"));

        // One, then the rest.
        const int before = sandbox->store().leadCount();
        QSignalSpy retried(page, &DeadLettersPage::retried);
        page->table()->selectRow(1);
        page->retrySelected();
        QTRY_COMPARE(retried.size(), 1);
        QCOMPARE(retried.front().front().toInt(), 1);
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toInt() == 1);
        QCOMPARE(page->table()->item(0, 1)->text(), QStringLiteral("second@example.com"));
        QTRY_COMPARE_WITH_TIMEOUT(sandbox->store().leadCount(), before + 1, 15'000);
        page->retryAll();
        QTRY_COMPARE(retried.size(), 2);
        QCOMPARE(retried.at(1).front().toInt(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox->store().leadCount(), before + 2, 15'000);
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toInt() == 0);
    }

    void theOverviewCountsEveryInstanceSharingRedis()
    {
        // Another Sluice (a headless serve elsewhere) sends through the same Redis.
        SendAudit other(m_engine->redis(), m_engine->keys().audit(),
                        QStringLiteral("other-host-1"));
        auto fleetTotal = [this] {
            int total = 0;
            const auto &samples = m_window->telemetry()->samples();
            for (size_t i = 0; i < samples.size(); ++i)
                total += std::max(0, samples.at(i).fleetSent);
            return total;
        };
        const int before = fleetTotal();
        ApiResult ok;
        ok.outcome = CallOutcome::Success;
        ok.httpStatus = 200;
        ok.endpoint = QStringLiteral("POST /api/v2/leads/add");
        for (int i = 0; i < 3; ++i)
            other.record(ok, wallClockMs());
        ApiResult limited = ok;
        limited.outcome = CallOutcome::RateLimited;
        limited.httpStatus = 429;
        other.record(limited, wallClockMs());
        QTRY_VERIFY_WITH_TIMEOUT(fleetTotal() >= before + 4, 10'000);
        QVERIFY(m_window->telemetry()->instances().contains(QStringLiteral("other-host-1")));
        QTRY_VERIFY(m_window->overview()->tileText(QStringLiteral("instances")).toInt() >= 1);
        int limitedSeen = 0;
        const auto &samples = m_window->telemetry()->samples();
        for (size_t i = 0; i < samples.size(); ++i)
            limitedSeen += samples.at(i).fleetRateLimited;
        QVERIFY(limitedSeen >= 1);
    }

    void rangeSelectorChangesTheWindow()
    {
        OverviewPage *overview = m_window->overview();
        overview->setRangeSeconds(600);
        QCOMPARE(overview->rangeSeconds(), 600);
        overview->setRangeSeconds(60);
    }

    void everyPageRendersToAPng()
    {
        // Long texts (a replay's answer, a run's notice) wrap: the window still fits a
        // 1280-pixel-wide screen after everything above.
        QVERIFY2(m_window->minimumSizeHint().width() <= 1280,
                 qPrintable(QString::number(m_window->minimumSizeHint().width())));
        QCOMPARE(m_window->width(), 1280);
        const QString dir = QDir(QStringLiteral(SCREENSHOT_DIR)).absolutePath();
        QVERIFY(QDir().mkpath(dir));
        const QStringList names { QStringLiteral("overview"), QStringLiteral("runs"),
                                  QStringLiteral("webhooks"), QStringLiteral("leads"),
                                  QStringLiteral("deadletters") };
        for (int i = 0; i < m_window->pages()->count(); ++i) {
            m_window->showPage(i);
            QCoreApplication::processEvents();
            const QImage image = m_window->grab().toImage();
            QVERIFY(!image.isNull());
            QVERIFY2(distinctColours(image) > 50,
                     qPrintable(QStringLiteral("page %1 rendered (almost) blank").arg(i)));
            const QString file = QDir(dir).filePath(
                QStringLiteral("console-%1.png").arg(names.value(i, QString::number(i))));
            QVERIFY2(image.save(file), qPrintable(file));
        }
    }

    void applyingSettingsNowAsksForARestart()
    {
        // The console's runner (app/guicommand.cpp) restarts the engine on restartRequested();
        // here: the settings are saved either way, and only "apply now" asks for it.
        QSignalSpy restart(m_window.get(), &MainWindow::restartRequested);
        ConsoleSettings settings;
        settings.flags.insert(QStringLiteral("coalesce"), QStringLiteral("100ms"));
        m_window->applySettings(settings, false);
        QCOMPARE(restart.count(), 0);
        {
            QSettings store;
            QCOMPARE(ConsoleSettings::load(store).flags.value(QStringLiteral("coalesce")),
                     QStringLiteral("100ms"));
        }
        settings.flags.insert(QStringLiteral("coalesce"), QStringLiteral("300ms"));
        m_window->applySettings(settings, true);
        QCOMPARE(restart.count(), 1);
        QSettings store;
        QCOMPARE(ConsoleSettings::load(store).flags.value(QStringLiteral("coalesce")),
                 QStringLiteral("300ms"));
        QVERIFY(store.contains(QStringLiteral("window/geometry"))); // remembered for the next
        for (const char *splitter : { "mainSplitter", "webhooksSplitter", "leadsSplitter" })
            QVERIFY2(!store.value(QStringLiteral("window/") + QLatin1String(splitter))
                          .toByteArray()
                          .isEmpty(),
                     splitter);
        ConsoleSettings {}.save(store); // leave nothing for the next test run
    }

    void darkPaletteIsReadable()
    {
        // The meaning-carrying colours keep WCAG AA contrast (4.5:1) against the text
        // background of both a light and a dark palette.
        auto luminance = [](const QColor &c) {
            auto channel = [](double v) {
                return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
            };
            return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF())
                + 0.0722 * channel(c.blueF());
        };
        auto contrast = [&](const QColor &a, const QColor &b) {
            const double la = luminance(a), lb = luminance(b);
            return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
        };
        QPalette dark;
        dark.setColor(QPalette::Window, QColor(0x2b, 0x2b, 0x2b));
        dark.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x1e));
        dark.setColor(QPalette::AlternateBase, QColor(0x26, 0x26, 0x26));
        dark.setColor(QPalette::Text, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Button, QColor(0x35, 0x35, 0x35));
        dark.setColor(QPalette::ButtonText, QColor(0xe6, 0xe6, 0xe6));
        dark.setColor(QPalette::Highlight, QColor(0x2a, 0x82, 0xda));
        dark.setColor(QPalette::HighlightedText, Qt::white);
        dark.setColor(QPalette::PlaceholderText, QColor(0xa0, 0xa0, 0xa0));
        QPalette light;
        light.setColor(QPalette::Window, QColor(0xef, 0xef, 0xef));
        light.setColor(QPalette::Base, Qt::white);
        light.setColor(QPalette::PlaceholderText, QColor(0x60, 0x60, 0x60));
        for (const QPalette &pal : { light, dark })
            for (Tone tone : { Tone::Good, Tone::Bad, Tone::Warning, Tone::Muted }) {
                const double ratio = contrast(toneColor(tone, pal), pal.color(QPalette::Base));
                QVERIFY2(ratio >= 4.5,
                         qPrintable(QStringLiteral("tone %1 on %2: %3:1")
                                        .arg(int(tone))
                                        .arg(pal.color(QPalette::Base).name())
                                        .arg(ratio, 0, 'f', 2)));
            }

        // A console started under the dark palette, for a person to look at.
        const QPalette before = QApplication::palette();
        QApplication::setStyle(QStringLiteral("Fusion"));
        QApplication::setPalette(dark);
        {
            MainWindow window(m_engine.get(), false);
            window.resize(1280, 900);
            window.show();
            QVERIFY(QTest::qWaitForWindowExposed(&window));
            QSignalSpy searched(window.leads(), &LeadsPage::searched);
            window.showLead(m_window->runs()->history().back().definition.emails().at(3));
            QVERIFY(searched.wait(10'000));
            const QString dir = QDir(QStringLiteral(SCREENSHOT_DIR)).absolutePath();
            for (const auto &[index, name] :
                 { std::pair { 0, "overview" }, std::pair { 3, "leads" } }) {
                window.showPage(index);
                QCoreApplication::processEvents();
                const QImage image = window.grab().toImage();
                QVERIFY(distinctColours(image) > 50);
                // Mostly dark: the window follows the palette.
                QVERIFY(qGray(image.pixel(image.width() / 2, image.height() - 40)) < 128);
                QVERIFY(image.save(QDir(dir).filePath(
                    QStringLiteral("console-dark-%1.png").arg(QLatin1String(name)))));
            }
        }
        QApplication::setPalette(before);
    }

private:
    test::RedisServer m_redis;
    QTemporaryDir m_dir;
    std::unique_ptr<LocalEngine> m_engine;
    std::unique_ptr<MainWindow> m_window;
};

QTEST_MAIN(TestConsole)
#include "tst_console.moc"
