// The console, offscreen, fed by a real embedded engine (sandbox, real redis-server): after a
// 20-lead run each view shows the right numbers, the buttons drive the engine, and every page
// renders to a PNG under the build directory that a person can look at (and that is not
// blank).
#include "alertspage.h"
#include "common/suite.h"
#include "common/testrun.h"
#include "common/validschedule.h"
#include "consolesettings.h"
#include "control/operatorcontrol.h"
#include "core/clock.h"
#include "deadletterspage.h"
#include "journal/leadjournal.h"
#include "leadspage.h"
#include "limiter/sendaudit.h"
#include "local/localengine.h"
#include "mainwindow.h"
#include "net/apitransport.h"
#include "overviewpage.h"
#include "parkedpage.h"
#include "queue/leadreason.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "runs/webhookfirer.h"
#include "runspage.h"
#include "sandbox/sandboxserver.h"
#include "store/queuedlead.h"
#include "telemetry/telemetry.h"
#include "tones.h"
#include "webhookspage.h"

#include <QAction>
#include <QApplication>
#include <QDir>
#include <QImage>
#include <QLabel>
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

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

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

/// The fields the dispatcher writes for a lead it dead-letters (or parks, with `parked`).
QList<QByteArray> settledLeadFields(const QString &email, const QString &campaign, int attempt,
                                    LeadReason reason, const QString &detail, bool parked = false)
{
    QueuedLead lead;
    lead.taskId = QStringLiteral("task-console-") + email.section(QLatin1Char('@'), 0, 0);
    lead.campaignName = campaign;
    lead.source = QStringLiteral("direct");
    lead.receivedMs = wallClockMs();
    lead.attempt = attempt;
    lead.lead.email = email;
    QList<QByteArray> fields = lead.toFields();
    fields << "reason" << detail.toUtf8() << "code" << leadReasonCode(reason)
           << (parked ? "parked_ms" : "dead_ms") << QByteArray::number(wallClockMs());
    return fields;
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
        options.serve.alerts.interval = std::chrono::milliseconds { 200 };
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
                                  QStringLiteral("PAUSED by an operator: maintenance window"),
                                  10'000);
        QCOMPARE(m_window->pauseAction()->text(), QStringLiteral("Resume dispatching"));
        m_window->pauseAction()->trigger(); // resumes, no question asked
        QTRY_COMPARE_WITH_TIMEOUT(m_window->statusText(QStringLiteral("paused")), QString(),
                                  10'000);
    }

    void aFleetPauseShowsItsCauseAndResumeClearsIt()
    {
        // A pause the dispatcher made itself (Instantly refused the key). The test holds the
        // fleet's probe lock, so no instance ends it by itself while the test looks.
        RedisClient *redis = m_engine->redis();
        const RedisKeys &keys = m_engine->keys();
        QVERIFY(test::execute(*redis, { "SET", keys.probe(), "tst_console", "PX", "600000" }).ok());
        QVERIFY(
            test::execute(*redis,
                          { "HSET", keys.control(), "paused", "HTTP 401 on GET /api/v2/campaigns",
                            "paused_cause", "instantly_key_rejected", "paused_ms",
                            QByteArray::number(wallClockMs()) })
                .ok());
        QTRY_COMPARE_WITH_TIMEOUT(
            m_window->statusText(QStringLiteral("paused")),
            QStringLiteral(
                "PAUSED: Instantly API key rejected — HTTP 401 on GET /api/v2/campaigns"),
            10'000);
        QPushButton *resume = m_window->resumeButton();
        QVERIFY(resume->isVisible());
        QCOMPARE(m_window->pauseAction()->text(), QStringLiteral("Resume dispatching"));
        QTest::mouseClick(resume, Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(m_window->statusText(QStringLiteral("paused")), QString(),
                                  10'000);
        QVERIFY(!resume->isVisible());
        QCOMPARE(m_window->pauseAction()->text(), QStringLiteral("Pause dispatching…"));
        QVERIFY(!test::execute(*redis, { "HEXISTS", keys.control(), "paused" }).value().integer());
        QVERIFY(test::execute(*redis, { "DEL", keys.probe() }).ok());
    }

    void theOverviewShowsWhatIsLeftOfThePlan()
    {
        // The 20-lead run's bulk answers carried remaining_in_plan; any instance's last one
        // is shown.
        OverviewPage *overview = m_window->overview();
        QTRY_VERIFY_WITH_TIMEOUT(overview->tileText(QStringLiteral("plan")) != QStringLiteral("—"),
                                 10'000);
        const QColor normal = overview->tileColor(QStringLiteral("plan"));
        const QByteArray seen
            = test::execute(*m_engine->redis(),
                            { "HGET", m_engine->keys().control(), "remaining_in_plan" })
                  .value()
                  .bytes();
        QVERIFY(seen.toLongLong() > 0);
        QVERIFY(test::execute(*m_engine->redis(),
                              { "HSET", m_engine->keys().control(), "remaining_in_plan", "0" })
                    .ok());
        QTRY_COMPARE_WITH_TIMEOUT(overview->tileText(QStringLiteral("plan")), QStringLiteral("0"),
                                  10'000);
        QCOMPARE(overview->tileColor(QStringLiteral("plan")),
                 toneColor(Tone::Warning, overview->palette()));
        QVERIFY(test::execute(*m_engine->redis(),
                              { "HDEL", m_engine->keys().control(), "remaining_in_plan" })
                    .ok());
        QTRY_COMPARE_WITH_TIMEOUT(overview->tileText(QStringLiteral("plan")), QStringLiteral("—"),
                                  10'000);
        QCOMPARE(overview->tileColor(QStringLiteral("plan")), normal);
        QVERIFY(test::execute(*m_engine->redis(),
                              { "HSET", m_engine->keys().control(), "remaining_in_plan", seen })
                    .ok());
    }

    void deadLettersAreGroupedByReasonAndRetriedByReason()
    {
        SandboxServer *sandbox = m_engine->sandbox();
        nlohmann::json campaign
            = { { "name", "Dead Letter Campaign" },
                { "campaign_schedule", sluice::test::validCampaignSchedule() } };
        QCOMPARE(sandbox->store().createCampaign(campaign).status, 200);
        // Leads the dispatcher gave up on, as it writes them: two for a passing cause, one
        // Instantly found invalid.
        const QString dead = QStringLiteral("Dead Letter Campaign");
        addDeadLetter(settledLeadFields(QStringLiteral("revived@example.com"), dead, 12,
                                        LeadReason::GaveUp,
                                        QStringLiteral("HTTP 503 twelve times")));
        addDeadLetter(settledLeadFields(QStringLiteral("second@example.com"), dead, 12,
                                        LeadReason::GaveUp,
                                        QStringLiteral("timed out twelve times")));
        addDeadLetter(settledLeadFields(QStringLiteral("typo@exmaple.con"), dead, 1,
                                        LeadReason::InvalidEmail,
                                        QStringLiteral("invalid_email_count 1 of 1")));

        m_window->showPage(m_window->pages()->indexOf(m_window->deadLetters()));
        DeadLettersPage *page = m_window->deadLetters();
        QSignalSpy refreshed(page, &DeadLettersPage::refreshed);
        page->refresh();
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toLongLong() == 3);
        // One row per reason, in the engine's order of reasons: title, code, count.
        QTableWidget *reasons = page->reasonsTable();
        QCOMPARE(reasons->rowCount(), 2);
        QCOMPARE(reasons->item(0, 0)->text(), leadReasonTitle(LeadReason::InvalidEmail));
        QCOMPARE(reasons->item(0, 1)->text(), QStringLiteral("invalid_email"));
        QCOMPARE(reasons->item(0, 2)->text(), QStringLiteral("1"));
        QCOMPARE(reasons->item(1, 0)->text(), leadReasonTitle(LeadReason::GaveUp));
        QCOMPARE(reasons->item(1, 1)->text(), QStringLiteral("gave_up"));
        QCOMPARE(reasons->item(1, 2)->text(), QStringLiteral("2"));

        // The selected reason: what to do, then its leads, newest first.
        QVERIFY(page->selectReason(LeadReason::GaveUp));
        QVERIFY2(page->actionText().contains(leadReasonAction(LeadReason::GaveUp).toHtmlEscaped()),
                 qPrintable(page->actionText()));
        QTableWidget *entries = page->entriesTable();
        QTRY_COMPARE(entries->rowCount(), 2);
        QCOMPARE(entries->item(0, 0)->text(), QStringLiteral("second@example.com"));
        QCOMPARE(entries->item(1, 0)->text(), QStringLiteral("revived@example.com"));
        QCOMPARE(entries->item(1, 1)->text(), dead);
        QCOMPARE(entries->item(1, 3)->text(), QStringLiteral("12"));
        QCOMPARE(entries->item(1, 4)->text(), QStringLiteral("HTTP 503 twelve times"));

        // Retry all of this reason: its two go back and are delivered; the other stays.
        const int before = sandbox->store().leadCount();
        QSignalSpy retried(page, &DeadLettersPage::retried);
        page->retryReason();
        QTRY_COMPARE(retried.size(), 1);
        QCOMPARE(retried.front().front().toInt(), 2);
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toLongLong() == 1);
        QCOMPARE(reasons->rowCount(), 1);
        QCOMPARE(reasons->item(0, 1)->text(), QStringLiteral("invalid_email"));
        QCOMPARE(page->selectedReason(), LeadReason::InvalidEmail);
        QCOMPARE(entries->rowCount(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox->store().leadCount(), before + 2, 15'000);
        QCOMPARE(sandbox->store().leadCount(), before + 2); // not the invalid one
    }

    void aDiscardedDeadLetterLeavesThePageAndItsTimelineSaysWhy()
    {
        DeadLettersPage *page = m_window->deadLetters();
        QTableWidget *entries = page->entriesTable();
        QCOMPARE(entries->rowCount(), 1);
        QCOMPARE(entries->item(0, 0)->text(), QStringLiteral("typo@exmaple.con"));
        entries->selectRow(0);
        QSignalSpy discarded(page, &DeadLettersPage::discarded);
        QSignalSpy refreshed(page, &DeadLettersPage::refreshed);
        page->discardSelected(QStringLiteral("  ")); // a reason is required
        QVERIFY(page->statusText().startsWith(QStringLiteral("Not discarded")));
        page->discardSelected(QStringLiteral("a typo; the contact was re-sent from Close"));
        QTRY_COMPARE(discarded.size(), 1);
        QCOMPARE(discarded.front().front().toInt(), 1);
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toLongLong() == 0);
        QCOMPARE(page->reasonsTable()->rowCount(), 0);
        QCOMPARE(entries->rowCount(), 0);
        QVERIFY(page->actionText().isEmpty());

        // The lead's journal has the discard, with why and who.
        auto events = std::make_shared<std::optional<QList<JournalEvent>>>();
        m_engine->journal().events(journalIdentity(QStringLiteral("typo@exmaple.con")),
                                   [events](Result<QList<JournalEvent>, RedisError> r) {
                                       *events = r.ok() ? r.value() : QList<JournalEvent> {};
                                   });
        QTRY_VERIFY(events->has_value());
        const auto discard
            = std::find_if((*events)->begin(), (*events)->end(), [](const JournalEvent &e) {
                  return e.kind == QStringLiteral("discarded");
              });
        QVERIFY((*events)->size() >= 1);
        QVERIFY2(discard != (*events)->end(), qPrintable((*events)->back().kind));
        QVERIFY2(discard->detail.contains(QStringLiteral("a typo")), qPrintable(discard->detail));
        QVERIFY2(discard->detail.contains(DeadLettersPage::operatorName()),
                 qPrintable(discard->detail));

        // Left with a few reasons, for the screenshot.
        const QString webinar = QStringLiteral("Webinar Follow-up");
        addDeadLetter(settledLeadFields(QStringLiteral("jane.doe@blocked.io"), webinar, 1,
                                        LeadReason::Blocklisted,
                                        QStringLiteral("in_blocklist 1: blocked.io is on the "
                                                       "workspace blocklist")));
        addDeadLetter(settledLeadFields(QStringLiteral("sam@blocked.io"), webinar, 1,
                                        LeadReason::Blocklisted,
                                        QStringLiteral("in_blocklist 1: blocked.io is on the "
                                                       "workspace blocklist")));
        addDeadLetter(settledLeadFields(QStringLiteral("lee@northwind.example"), webinar, 12,
                                        LeadReason::GaveUp,
                                        QStringLiteral("HTTP 503 twelve times; last: Service "
                                                       "Unavailable")));
        addDeadLetter(settledLeadFields(QStringLiteral("kim@contoso.example"),
                                        QStringLiteral("Q1 Outreach"), 1, LeadReason::Rejected,
                                        QStringLiteral("HTTP 400: custom_variables must be flat")));
        page->refresh();
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toLongLong() == 4);
        QVERIFY(page->selectReason(LeadReason::Blocklisted));
        QTRY_COMPARE(entries->rowCount(), 2);
        entries->selectRow(0);
    }

    void parkedCampaignsAreListedAndRetriedOnceTheyExist()
    {
        // The test holds the fleet's recheck lock: only the page's Retry moves parked leads.
        RedisClient *redis = m_engine->redis();
        const RedisKeys &keys = m_engine->keys();
        QVERIFY(test::execute(*redis, { "SET", keys.parkedCheck(), "tst_console", "PX", "600000" })
                    .ok());
        const QString later = QStringLiteral("Spring Launch");
        const QString created = QStringLiteral("Partners EMEA");
        const QString waiting = QStringLiteral("Webinar Follow-up 2027");
        auto park = [&](const QString &email, const QString &campaign) {
            QList<QByteArray> argv { "XADD", keys.parkedLeads(campaign), "*" };
            argv << settledLeadFields(
                email, campaign, 0, LeadReason::CampaignMissing,
                QStringLiteral("campaign '%1' not found in Instantly").arg(campaign), true);
            QVERIFY(test::execute(*redis, argv).ok());
            QVERIFY(test::execute(*redis, { "SADD", keys.parked(), campaign.toUtf8() }).ok());
        };
        park(QStringLiteral("ana@spring.example"), later);
        park(QStringLiteral("bo@spring.example"), later);
        park(QStringLiteral("cy@partners.example"), created);
        for (int i = 1; i <= 3; ++i)
            park(QStringLiteral("guest%1@webinar.example").arg(i), waiting);

        ParkedPage *page = m_window->parked();
        m_window->showPage(m_window->pages()->indexOf(page));
        QCOMPARE(m_window->pages()->currentWidget(), page);
        QSignalSpy refreshed(page, &ParkedPage::refreshed);
        page->refresh();
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toInt() == 3);
        auto rowOf = [page](const QString &name) {
            for (int row = 0; row < page->table()->rowCount(); ++row)
                if (page->table()->item(row, 0)->text() == name)
                    return row;
            return -1;
        };
        const int row = rowOf(later);
        QVERIFY(row >= 0);
        QCOMPARE(page->table()->item(row, 1)->text(), QStringLiteral("2"));
        QVERIFY(page->table()->item(row, 3)->text().contains(QStringLiteral("not found")));
        page->table()->selectRow(row);
        QCOMPARE(page->selectedCampaign(), later);
        QVERIFY(page->retryButton()->isEnabled());
        QVERIFY(page->createButton()->isEnabled()); // sandbox: through the sandbox's API

        // Still missing: Retry says so and the leads stay parked.
        QSignalSpy retried(page, &ParkedPage::retried);
        QTest::mouseClick(page->retryButton(), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(retried.size(), 1, 10'000);
        QCOMPARE(retried.at(0).at(1).toLongLong(), 0);
        QVERIFY2(page->statusText().contains(QStringLiteral("still not in Instantly")),
                 qPrintable(page->statusText()));
        QCOMPARE(test::execute(*redis, { "XLEN", keys.parkedLeads(later) }).value().integer(), 2);

        // Someone creates it in Instantly: Retry sends both, and they are delivered.
        SandboxServer *sandbox = m_engine->sandbox();
        QCOMPARE(
            sandbox->store()
                .createCampaign({ { "name", later.toStdString() },
                                  { "campaign_schedule", sluice::test::validCampaignSchedule() } })
                .status,
            200);
        const int before = sandbox->store().leadCount();
        page->table()->selectRow(rowOf(later));
        QTest::mouseClick(page->retryButton(), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(retried.size(), 2, 10'000);
        QCOMPARE(retried.at(1).at(0).toString(), later);
        QCOMPARE(retried.at(1).at(1).toLongLong(), 2);
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toInt() == 2);
        QCOMPARE(rowOf(later), -1);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox->store().leadCount(), before + 2, 15'000);

        // Create campaign: made in the sandbox's Instantly, and its lead goes at once.
        QSignalSpy creation(page, &ParkedPage::creationFinished);
        page->createCampaign(created);
        QTRY_COMPARE_WITH_TIMEOUT(creation.size(), 1, 10'000);
        QVERIFY(creation.front().at(1).toBool());
        QTRY_COMPARE_WITH_TIMEOUT(retried.size(), 3, 10'000);
        QCOMPARE(retried.at(2).at(1).toLongLong(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(sandbox->store().leadCount(), before + 3, 15'000);
        QTRY_VERIFY(!refreshed.isEmpty() && refreshed.last().front().toInt() == 1);
        QCOMPARE(page->table()->item(0, 0)->text(), waiting); // left for the screenshot
        QCOMPARE(page->table()->item(0, 1)->text(), QStringLiteral("3"));
        QVERIFY(test::execute(*redis, { "DEL", keys.parkedCheck() }).ok());
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
        // The console reads the audit from its first read on ("the history before is not this
        // console's"): record only after a sample says that read happened, or a suite run alone
        // records before it and the console never counts those requests.
        QTRY_VERIFY_WITH_TIMEOUT(!m_window->telemetry()->samples().empty()
                                     && m_window->telemetry()->samples().back().fleetSent >= 0,
                                 10'000);
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
        // The console's own sends count in the fleet total too, so it may reach before + 4
        // before the audit read that holds the other instance's requests: wait for that one.
        QTRY_VERIFY_WITH_TIMEOUT(
            m_window->telemetry()->instances().contains(QStringLiteral("other-host-1")), 10'000);
        QTRY_VERIFY_WITH_TIMEOUT(fleetTotal() >= before + 4, 10'000);
        QTRY_VERIFY(m_window->overview()->tileText(QStringLiteral("instances")).toInt() >= 1);
        // The 429 may come in a later read of the audit than the three answers before it.
        auto limitedSeen = [this] {
            int seen = 0;
            const auto &samples = m_window->telemetry()->samples();
            for (size_t i = 0; i < samples.size(); ++i)
                seen += samples.at(i).fleetRateLimited;
            return seen;
        };
        QTRY_VERIFY_WITH_TIMEOUT(limitedSeen() >= 1, 10'000);
    }

    void rangeSelectorChangesTheWindow()
    {
        OverviewPage *overview = m_window->overview();
        overview->setRangeSeconds(600);
        QCOMPARE(overview->rangeSeconds(), 600);
        overview->setRangeSeconds(60);
    }

    void alertsPageListsFiringAlertsAndAcknowledgesThem()
    {
        AlertsPage *page = m_window->alerts();
        QVERIFY(m_engine->alerts());
        auto rowOf = [page](const QString &kind) {
            for (int r = 0; r < page->firingTable()->rowCount(); ++r)
                if (page->firingTable()->item(r, 1)->text() == kind)
                    return r;
            return -1;
        };
        QListWidgetItem *nav = m_window->navigation()->item(m_window->pages()->indexOf(page));
        QVERIFY(!m_engine->control()->pause(QStringLiteral("alerts drill")));
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(QStringLiteral("dispatch_paused")) >= 0, 10'000);
        const int row = rowOf(QStringLiteral("dispatch_paused"));
        QVERIFY(page->firingTable()->item(row, 3)->text().contains(QLatin1String("alerts drill")));
        QCOMPARE(page->firingTable()->item(row, 0)->text(), QStringLiteral("WARNING"));
        // The badge counts what fires and is bold while something is not acknowledged.
        QVERIFY2(nav->text().startsWith(QLatin1String("Alerts (")), qPrintable(nav->text()));
        QVERIFY(nav->font().bold());
        QVERIFY(page->summaryText().contains(QLatin1String("No alert URL is set")));

        m_window->showPage(m_window->pages()->indexOf(page));
        page->firingTable()->selectRow(row);
        QVERIFY(page->acknowledgeButton()->isEnabled());
        page->acknowledgeSelected(QStringLiteral("tester"));
        QTRY_VERIFY_WITH_TIMEOUT(page->firingTable()
                                     ->item(rowOf(QStringLiteral("dispatch_paused")), 4)
                                     ->text()
                                     .startsWith(QLatin1String("tester")),
                                 10'000);
        // Acknowledged for every console (in Redis), and still firing until it clears.
        QVERIFY(test::execute(*m_engine->redis(),
                              { "HEXISTS", m_engine->keys().alertAcks(), "dispatch_paused" })
                    .value()
                    .integer());
        QVERIFY(m_engine->alerts()->isActive(AlertKind::DispatchPaused));

        m_engine->control()->resume();
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(QStringLiteral("dispatch_paused")) < 0, 10'000);
        // The history has both, newest first.
        QTableWidget *history = page->historyTable();
        QTRY_VERIFY_WITH_TIMEOUT(history->rowCount() >= 2
                                     && history->item(0, 2)->text()
                                         == QLatin1String("dispatch_paused")
                                     && history->item(0, 1)->text() == QLatin1String("resolved"),
                                 10'000);
        // The status bar tells of it, in the room its labels leave: cut short with "…" and
        // whole in the tooltip when it does not fit.
        const auto *notice = m_window->findChild<QLabel *>(QStringLiteral("statusNotice"));
        QVERIFY(notice);
        QTRY_VERIFY2(notice->text().startsWith(QLatin1String("Alert dispatch_paused: resolved")),
                     qPrintable(notice->text()));
        QVERIFY2(notice->fontMetrics().horizontalAdvance(notice->text())
                     <= notice->contentsRect().width(),
                 qPrintable(notice->text()));
        if (notice->text().endsWith(QChar(0x2026)))
            QVERIFY2(notice->toolTip().startsWith(notice->text().chopped(1)),
                     qPrintable(notice->toolTip()));
        else
            QVERIFY2(notice->toolTip().isEmpty(), qPrintable(notice->toolTip()));
        // The acknowledgement ended with the alert.
        QTRY_VERIFY(!test::execute(*m_engine->redis(),
                                   { "HEXISTS", m_engine->keys().alertAcks(), "dispatch_paused" })
                         .value()
                         .integer());
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
        const QStringList names { QStringLiteral("overview"),     QStringLiteral("runs"),
                                  QStringLiteral("webhooks"),     QStringLiteral("leads"),
                                  QStringLiteral("dead-letters"), QStringLiteral("parked"),
                                  QStringLiteral("alerts") };
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
    void addDeadLetter(const QList<QByteArray> &fields)
    {
        QList<QByteArray> argv { "XADD", m_engine->keys().deadLetters(), "*" };
        argv << fields;
        QVERIFY(test::execute(*m_engine->redis(), argv).ok());
    }

    test::RedisServer m_redis;
    QTemporaryDir m_dir;
    std::unique_ptr<LocalEngine> m_engine;
    std::unique_ptr<MainWindow> m_window;
};

SLUICE_TEST_MAIN(TestConsole)
#include "tst_console.moc"
