// `sluice backfill` as a process, the way an operator runs it after an outage: Close tasks
// created while `sluice serve` was stopped are found through the sandbox's Close task listing
// and queued once, even when the backfill runs twice; a webhook for a task the backfill
// queued is not queued again, nor is a task a webhook queued first; a dry run queues
// nothing; bad input exits 2 with a message, a Close failure exits 1, and no key is printed.
#include "common/suite.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QProcess>
#include <QTest>

using namespace sluice;
using namespace sluice::test;
using json = nlohmann::json;

namespace {

struct BackfillRun
{
    int code = -1;
    QString out;
    QString err;
    QString describe() const
    {
        return QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3").arg(code).arg(out, err);
    }
};

} // namespace

class TestBackfill : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        m_sandbox = std::make_unique<SandboxServer>();
        QVERIFY(m_sandbox->start() != 0);
        QVERIFY(createCampaign(*m_sandbox, QStringLiteral("Spring Outreach")));
        QVERIFY(seedCloseLeads(*m_sandbox, 0, 10));
        m_redis = std::make_unique<RedisServer>();
        QVERIFY2(m_redis->start(), qPrintable(m_redis->errorString()));
    }
    void cleanup()
    {
        m_redis.reset();
        m_sandbox.reset();
    }

    void queuesTasksFromAnOutageOnceAndWebhooksDoNotRepeatThem()
    {
        RedisProbe probe(m_redis->url());
        ServeSetup setup(m_sandbox->baseUrl(), m_redis->url());
        setup.dataDir = m_dir.filePath(QStringLiteral("serve"));

        // Before the outage a webhook queues task_0 (Close's task id in event.object_id).
        addTask(0, QStringLiteral("Instantly: Spring Outreach"));
        {
            ServeProcess serve(setup);
            QVERIFY2(serve.start(), qPrintable(serve.error()));
            const HttpReply r = serve.post(QStringLiteral("/instantly/add_lead"),
                                           closeWebhook(0, QStringLiteral("Spring Outreach")));
            QCOMPARE(r.status, 202);
            QTRY_COMPARE_WITH_TIMEOUT(m_sandbox->store().leadCount(), 1, 30'000);
            QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
        }
        QCOMPARE(probe.taskCount(), 1);

        // While serve is stopped, Close gains tasks: five ours, one not, one from long ago.
        for (int i = 1; i <= 5; ++i)
            addTask(i, QStringLiteral("  instantly:   Spring Outreach "));
        addTask(6, QStringLiteral("Call back on Monday"));
        addTask(7, QStringLiteral("Instantly: Spring Outreach"),
                QDateTime::currentDateTimeUtc().addDays(-3));

        // The dry run shows what it would queue and queues nothing.
        const BackfillRun dry = runBackfill({ QStringLiteral("--since"), QStringLiteral("1h") });
        QVERIFY2(dry.code == 0, qPrintable(dry.describe()));
        QVERIFY2(dry.out.contains(QStringLiteral("Would queue 5 task(s)")), qPrintable(dry.out));
        for (int i = 1; i <= 5; ++i)
            QVERIFY2(dry.out.contains(QStringLiteral("task_%1 ").arg(i)), qPrintable(dry.out));
        QVERIFY2(!dry.out.contains(QStringLiteral("task_7")), qPrintable(dry.out));
        QVERIFY2(dry.out.contains(QStringLiteral("Dry run: nothing queued")), qPrintable(dry.out));
        QCOMPARE(probe.taskCount(), 1);
        QCOMPARE(probe.streamLength(probe.keys().leads()), 0);

        const BackfillRun dryJson = runBackfill(
            { QStringLiteral("--since"), QStringLiteral("1h"), QStringLiteral("--json") });
        QVERIFY2(dryJson.code == 0, qPrintable(dryJson.describe()));
        const json plan = json::parse(dryJson.out.toStdString(), nullptr, false);
        QVERIFY2(plan.is_object(), qPrintable(dryJson.out));
        QCOMPARE(plan["listed"].get<int>(), 7);
        QCOMPARE(plan["not_ours"].get<int>(), 1);
        QCOMPARE(plan["to_queue"].size(), size_t(5));
        QCOMPARE(plan["already_queued"].size(), size_t(1)); // task_0, by its webhook
        QCOMPARE(plan["already_queued"][0]["close_task_id"].get<std::string>(), "task_0");
        QCOMPARE(plan["to_queue"][0]["campaign"].get<std::string>(), "Spring Outreach");
        QCOMPARE(plan["applied"].get<bool>(), false);
        QCOMPARE(probe.taskCount(), 1);

        // --yes queues the five; a second run finds them all queued.
        const BackfillRun first = runBackfill(
            { QStringLiteral("--since"), QStringLiteral("1h"), QStringLiteral("--yes") });
        QVERIFY2(first.code == 0, qPrintable(first.describe()));
        QVERIFY2(first.out.contains(QStringLiteral("Queued 5, skipped 1")), qPrintable(first.out));
        QCOMPARE(probe.taskCount(), 6);
        const BackfillRun second = runBackfill(
            { QStringLiteral("--since"), QStringLiteral("1h"), QStringLiteral("--yes") });
        QVERIFY2(second.code == 0, qPrintable(second.describe()));
        QVERIFY2(second.out.contains(QStringLiteral("Queued 0, skipped 6")),
                 qPrintable(second.out));
        QCOMPARE(probe.taskCount(), 6);
        QCOMPARE(probe.streamLength(probe.keys().leads()), 5);

        // Serve comes back: every lead once, each looked up in Close like a webhook's.
        ServeProcess serve(setup);
        QVERIFY2(serve.start(), qPrintable(serve.error()));
        QTRY_VERIFY2_WITH_TIMEOUT(probe.queueEmpty() && m_sandbox->store().leadCount() == 6,
                                  qPrintable(exactlyOnceProblem(*m_sandbox, webhookEmails(0, 6))),
                                  30'000);
        QCOMPARE(exactlyOnceProblem(*m_sandbox, webhookEmails(0, 6)), QString());

        // Close's delayed webhook for a backfilled task (a new event id): not queued again.
        QByteArray late = closeWebhook(3, QStringLiteral("Spring Outreach"));
        late.replace("\"ev_3\"", "\"ev_late_3\"");
        const HttpReply again = serve.post(QStringLiteral("/instantly/add_lead"), late);
        QCOMPARE(again.status, 200);
        QCOMPARE(again.parsed()["duplicate"].get<bool>(), true);
        QCOMPARE(probe.taskCount(), 6);
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary()));
        QCOMPARE(exactlyOnceProblem(*m_sandbox, webhookEmails(0, 6)), QString());
    }

    /// Three pages against a Close that allows one listing a second: the 429s are waited out
    /// through the shared Close gate (rate_reset), and the listing still ends complete.
    void listingWaitsOutCloseRateLimits()
    {
        json many = json::array();
        for (int i = 0; i < 250; ++i)
            many.push_back({ { "id", "task_p" + std::to_string(i) },
                             { "lead_id", "lead_" + std::to_string(i % 10) },
                             { "text", "Instantly: Spring Outreach" } });
        const StoreReply stored = m_sandbox->store().closeTasks().putTasks(
            many, [this](const QString &id) { return m_sandbox->store().closeLeadName(id); });
        QCOMPARE(stored.status, 200);
        m_sandbox->setCloseLimit(QStringLiteral("task_list"), CloseGroupLimit { 1, 3 });
        const BackfillRun run = runBackfill(
            { QStringLiteral("--since"), QStringLiteral("1h"), QStringLiteral("--json") });
        QVERIFY2(run.code == 0, qPrintable(run.describe()));
        const json plan = json::parse(run.out.toStdString(), nullptr, false);
        QVERIFY2(plan.is_object(), qPrintable(run.out));
        QCOMPARE(plan["to_queue"].size(), size_t(250));
        const CloseGroupStats stats = m_sandbox->closeStats().at(QStringLiteral("task_list"));
        QCOMPARE(stats.requests - stats.rateLimited, 3);
        QVERIFY2(stats.rateLimited <= 4, qPrintable(QString::number(stats.rateLimited)));
    }

    void badInputExitsTwoWithAMessage_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("no --since") << QStringList() << QStringLiteral("--since is required");
        QTest::newRow("unreadable time")
            << QStringList { QStringLiteral("--since"), QStringLiteral("yesterday") }
            << QStringLiteral("neither an ISO 8601");
        QTest::newRow("future") << QStringList { QStringLiteral("--since"),
                                                 QStringLiteral("2099-01-01T00:00:00Z") }
                                << QStringLiteral("in the future");
        QTest::newRow("zero duration")
            << QStringList { QStringLiteral("--since"), QStringLiteral("0h") }
            << QStringLiteral("more than 0");
        QTest::newRow("unknown option")
            << QStringList { QStringLiteral("--since"), QStringLiteral("1h"),
                             QStringLiteral("--colour") }
            << QStringLiteral("colour");
        QTest::newRow("bad close url")
            << QStringList { QStringLiteral("--since"), QStringLiteral("1h"),
                             QStringLiteral("--close-url"), QStringLiteral("ftp://x") }
            << QStringLiteral("close-url");
    }
    void badInputExitsTwoWithAMessage()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const BackfillRun run = runBackfill(args, QStringLiteral("sandbox"), false);
        QCOMPARE(run.code, 2);
        QVERIFY2(run.err.contains(message), qPrintable(run.describe()));
    }

    void missingOrWrongKeyIsRefusedWithoutPrintingIt()
    {
        const BackfillRun none
            = runBackfill({ QStringLiteral("--since"), QStringLiteral("1h") }, QString());
        QCOMPARE(none.code, 2);
        QVERIFY2(none.err.contains(QStringLiteral("CLOSE_API_KEY")), qPrintable(none.describe()));
        const QString wrong = QStringLiteral("wrong-close-key-4711");
        const BackfillRun refused
            = runBackfill({ QStringLiteral("--since"), QStringLiteral("1h") }, wrong);
        QCOMPARE(refused.code, 1);
        QVERIFY2(refused.err.contains(QStringLiteral("401")), qPrintable(refused.describe()));
        QVERIFY2(!refused.out.contains(wrong) && !refused.err.contains(wrong),
                 qPrintable(refused.describe()));
    }

private:
    /// A task `task_<i>` on `lead_<i>` in the sandbox's Close.
    void addTask(int i, const QString &text, const QDateTime &created = {})
    {
        json task = { { "id", "task_" + std::to_string(i) },
                      { "lead_id", "lead_" + std::to_string(i) },
                      { "text", text.toStdString() } };
        if (created.isValid())
            task["date_created"] = created.toString(Qt::ISODate).toStdString();
        const StoreReply r = m_sandbox->store().closeTasks().putTasks(
            task, [this](const QString &id) { return m_sandbox->store().closeLeadName(id); });
        QVERIFY2(r.status == 200, bodyBytes(r).constData());
    }

    /// `sluice backfill ARGS` against the sandbox and the test's Redis. The event loop runs
    /// meanwhile: the sandbox answering it lives in this process.
    BackfillRun runBackfill(const QStringList &args,
                            const QString &closeKey = QStringLiteral("sandbox"),
                            bool withTargets = true)
    {
        QStringList all { QStringLiteral("backfill") };
        all << args;
        if (withTargets)
            all << QStringLiteral("--redis") << m_redis->url() << QStringLiteral("--close-url")
                << m_sandbox->baseUrl().toString();
        all << QStringLiteral("--data-dir") << m_dir.filePath(QStringLiteral("cli"));
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("CLOSE_API_KEY"));
        env.remove(QStringLiteral("CLOSE_URL"));
        env.remove(QStringLiteral("REDIS_URL"));
        if (!closeKey.isEmpty())
            env.insert(QStringLiteral("CLOSE_API_KEY"), closeKey);
        process.setProcessEnvironment(env);
        process.start(QStringLiteral(SLUICE_BINARY), all);
        BackfillRun run;
        if (!process.waitForStarted(10'000))
            return run;
        if (!QTest::qWaitFor([&] { return process.state() == QProcess::NotRunning; }, 60'000)) {
            process.kill();
            process.waitForFinished(5000);
        }
        run.code = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
        run.out = QString::fromUtf8(process.readAllStandardOutput());
        run.err = QString::fromUtf8(process.readAllStandardError());
        return run;
    }

    QTemporaryDir m_dir;
    std::unique_ptr<SandboxServer> m_sandbox;
    std::unique_ptr<RedisServer> m_redis;
};

SLUICE_TEST_GUILESS_MAIN(TestBackfill)
#include "tst_backfill.moc"
