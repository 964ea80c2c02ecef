// Tools → Backfill from Close… offscreen, against a real embedded engine (sandbox, real
// redis-server): the preview lists the Close tasks Sluice never saw and queues nothing, Queue
// queues them (and they reach Instantly), a second preview finds them all queued, bad input
// says why, and the GUI thread keeps turning while the listing is under way.
#include "backfilldialog.h"
#include "common/suite.h"
#include "common/testrun.h"
#include "common/validschedule.h"
#include "local/localengine.h"
#include "mainwindow.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "sandbox/sandboxserver.h"

#include <QAction>
#include <QApplication>
#include <QLineEdit>
#include <QPushButton>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QTreeWidget>

#include <nlohmann/json.hpp>

using namespace sluice;
using json = nlohmann::json;

class TestBackfillDialog : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QCoreApplication::setOrganizationName(QStringLiteral("sluice-test"));
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
        m_engine = std::make_unique<LocalEngine>(
            test::sandboxEngineOptions(m_redis.url(), QStringLiteral("backfill"), m_dir.path()));
        const auto problem = m_engine->start();
        QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
        m_window = std::make_unique<MainWindow>(m_engine.get(), false);
        m_window->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_window.get()));
    }
    void cleanupTestCase()
    {
        m_window.reset();
        m_engine.reset();
    }

    void previewThenQueue()
    {
        SandboxServer *sandbox = m_engine->sandbox();
        const json campaign = { { "name", "Backfill Days" },
                                { "campaign_schedule", test::validCampaignSchedule() } };
        QCOMPARE(sandbox->store().createCampaign(campaign).status, 200);
        json tasks = json::array();
        for (int i = 0; i < 3; ++i) {
            const std::string n = std::to_string(i);
            QCOMPARE(sandbox->store()
                         .putCloseLead(
                             { { "id", "lead_bf" + n },
                               { "display_name", "Firm " + n },
                               { "contacts",
                                 json::array({ { { "name", "Ann Bee" },
                                                 { "emails",
                                                   json::array({ { { "email",
                                                                     "bf" + n
                                                                         + "@example."
                                                                           "com" } } }) } } }) } })
                         .status,
                     200);
            tasks.push_back({ { "id", "task_bf" + n },
                              { "lead_id", "lead_bf" + n },
                              { "text", "Instantly: Backfill Days" } });
        }
        tasks.push_back({ { "id", "task_other" }, { "lead_id", "lead_bf0" }, { "text", "Lunch" } });
        QCOMPARE(sandbox->store()
                     .closeTasks()
                     .putTasks(tasks,
                               [sandbox](const QString &id) {
                                   return sandbox->store().closeLeadName(id);
                               })
                     .status,
                 200);

        QVERIFY(m_window->backfillAction());
        m_window->backfillAction()->trigger();
        auto *dialog = m_window->findChild<BackfillDialog *>();
        QVERIFY(dialog);
        QVERIFY(QTest::qWaitForWindowExposed(dialog));
        QVERIFY(!dialog->queueButton()->isEnabled());

        // Bad input: said in the dialog, nothing asked.
        dialog->sinceEdit()->setText(QStringLiteral("last week"));
        dialog->preview();
        QVERIFY2(dialog->statusText().contains(QStringLiteral("neither")),
                 qPrintable(dialog->statusText()));
        QVERIFY(!dialog->busy());

        // The GUI thread keeps turning while Close is asked (the sandbox answers late).
        CloseFaultOptions slow = sandbox->closeFaults();
        slow.latency = std::chrono::milliseconds { 300 };
        sandbox->setCloseFaults(slow);
        int ticks = 0;
        QTimer ticker;
        connect(&ticker, &QTimer::timeout, this, [&ticks] { ++ticks; });
        ticker.start(20);
        dialog->sinceEdit()->setText(QStringLiteral("1h"));
        QTest::mouseClick(dialog->previewButton(), Qt::LeftButton);
        QVERIFY(dialog->busy());
        QTRY_VERIFY_WITH_TIMEOUT(!dialog->busy(), 15'000);
        QVERIFY2(ticks >= 5, qPrintable(QString::number(ticks)));
        sandbox->setCloseFaults({});
        QCOMPARE(dialog->table()->topLevelItemCount(), 3);
        QCOMPARE(dialog->table()->topLevelItem(0)->text(0), QStringLiteral("task_bf0"));
        QCOMPARE(dialog->table()->topLevelItem(0)->text(3), QStringLiteral("Backfill Days"));
        QVERIFY2(dialog->statusText().startsWith(QStringLiteral("3 task(s) to queue")),
                 qPrintable(dialog->statusText()));
        // The preview queued nothing.
        QCOMPARE(tasksStored(), 0);
        QVERIFY(dialog->queueButton()->isEnabled());

        QTest::mouseClick(dialog->queueButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!dialog->busy(), 15'000);
        QVERIFY2(dialog->statusText().startsWith(QStringLiteral("Queued 3, skipped 0")),
                 qPrintable(dialog->statusText()));
        QCOMPARE(tasksStored(), 3);
        QCOMPARE(dialog->table()->topLevelItem(2)->text(4), QStringLiteral("queued"));
        QTRY_COMPARE_WITH_TIMEOUT(sandbox->store().allLeads().size(), size_t(3), 20'000);

        // Again: all three already queued, nothing to queue.
        QTest::mouseClick(dialog->previewButton(), Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(!dialog->busy(), 15'000);
        QVERIFY2(dialog->statusText().startsWith(QStringLiteral("0 task(s) to queue; 3 already")),
                 qPrintable(dialog->statusText()));
        QVERIFY(!dialog->queueButton()->isEnabled());
        dialog->close();
    }

private:
    qint64 tasksStored()
    {
        const RedisResult r
            = test::execute(*m_engine->redis(), { "ZCARD", m_engine->keys().tasks() });
        return r.ok() ? r.value().integer() : -1;
    }

    test::RedisServer m_redis;
    QTemporaryDir m_dir;
    std::unique_ptr<LocalEngine> m_engine;
    std::unique_ptr<MainWindow> m_window;
};

SLUICE_TEST_MAIN(TestBackfillDialog)
#include "tst_backfilldialog.moc"
