// `sluice runs` as a process, the way an operator uses it: against a test redis-server holding
// runs saved through the ledger, it lists, shows, exports, compares and deletes them, and
// answers unknown runs, bad usage and an unreachable Redis with a message and an exit code.
#include "common/suite.h"
#include "redis/privateredis.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "runs/runledger.h"
#include "runs/samplerun.h"
#include "store/rediskeys.h"

#include <QEventLoop>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;
using sluice::test::kCreated;
using sluice::test::passingRun;
using sluice::test::RedisServer;
using sluice::test::sampleRun;
using json = nlohmann::json;

namespace {

const QString kNamespace = QStringLiteral("cli");
const QString kOldest = QStringLiteral("run-20251129-093612-aaaa");
const QString kMiddle = QStringLiteral("run-20251129-103612-bbbb");
const QString kNewest = QStringLiteral("run-20251129-113612-cccc");

struct Outcome
{
    int exitCode = -1;
    QString out;
    QString err;

    QString describe() const
    {
        return QStringLiteral("exit %1\nstdout:\n%2\nstderr:\n%3").arg(exitCode).arg(out, err);
    }
};

} // namespace

class TestRunsCommand : public QObject
{
    Q_OBJECT

private:
    /// `sluice runs <args>` with only the environment given here (no REDIS_URL from the
    /// machine running the tests).
    Outcome runs(QStringList args, const QProcessEnvironment &extra = {}, bool redisFlags = true)
    {
        QProcess process;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char *name : { "REDIS_URL", "SLUICE_NAMESPACE", "SLUICE_DATA_DIR" })
            env.remove(QLatin1String(name));
        for (const QString &key : extra.keys())
            env.insert(key, extra.value(key));
        env.insert(QStringLiteral("XDG_DATA_HOME"), m_home.path()); // never the user's data
        process.setProcessEnvironment(env);
        args.prepend(QStringLiteral("runs"));
        if (redisFlags)
            args << QStringLiteral("--redis") << m_server.url() << QStringLiteral("--namespace")
                 << kNamespace;
        process.start(QStringLiteral(SLUICE_BINARY), args);
        Outcome outcome;
        if (!process.waitForFinished(60'000)) {
            process.kill();
            process.waitForFinished();
            outcome.err = QStringLiteral("did not finish within 60 s");
            return outcome;
        }
        outcome.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
        outcome.out = QString::fromUtf8(process.readAllStandardOutput());
        outcome.err = QString::fromUtf8(process.readAllStandardError());
        return outcome;
    }

    void saveRun(RunLedger &ledger, const RunRecord &record)
    {
        auto saved = std::make_shared<std::optional<QString>>();
        ledger.save(record, [saved](Result<RunSaveOutcome, LedgerError> r) {
            *saved = r.ok() ? QString() : r.error().describe();
        });
        QTRY_VERIFY(saved->has_value());
        QVERIFY2((*saved)->isEmpty(), qPrintable(**saved));
    }

    /// The run ids of a `sluice runs` table, in order.
    static QStringList tableIds(const QString &table)
    {
        QStringList ids;
        for (const QString &line : table.split(QLatin1Char('\n')))
            if (line.startsWith(QStringLiteral("run-")))
                ids.append(line.section(QLatin1Char(' '), 0, 0));
        return ids;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_home.isValid());
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
        RedisOptions options;
        options.url = m_server.url();
        RedisClient client(options);
        client.connectToServer();
        RunLedger ledger(&client, RedisKeys(kNamespace));
        RunRecord oldest = sampleRun(kOldest, kCreated);
        oldest.definition.campaign = QStringLiteral("Q4, \"big\" push");
        saveRun(ledger, oldest);
        saveRun(ledger, passingRun(kMiddle, kCreated + 3'600'000));
        RunRecord newest = passingRun(kNewest, kCreated + 7'200'000);
        newest.definition.stage = QStringLiteral("500");
        newest.definition.leads = 500;
        newest.delivered = 500;
        saveRun(ledger, newest);
        client.disconnectFromServer();
    }

    void listsRunsNewestFirst()
    {
        const Outcome all = runs({});
        QVERIFY2(all.exitCode == 0, qPrintable(all.describe()));
        QVERIFY2(all.out.startsWith(QStringLiteral("ID ")), qPrintable(all.describe()));
        QCOMPARE(tableIds(all.out), (QStringList { kNewest, kMiddle, kOldest }));
        QVERIFY2(all.out.contains(QStringLiteral("500/500")), qPrintable(all.out));
        QVERIFY2(all.err.isEmpty(), qPrintable(all.describe())); // no connection chatter

        const Outcome two = runs({ QStringLiteral("--limit"), QStringLiteral("2") });
        QVERIFY2(two.exitCode == 0, qPrintable(two.describe()));
        QCOMPARE(tableIds(two.out), (QStringList { kNewest, kMiddle }));
        QVERIFY2(two.out.contains(QStringLiteral("2 of 3 runs shown")), qPrintable(two.out));

        const Outcome asJson = runs({ QStringLiteral("--json") });
        QVERIFY2(asJson.exitCode == 0, qPrintable(asJson.describe()));
        const json array = json::parse(asJson.out.toStdString(), nullptr, false);
        QVERIFY2(array.is_array() && array.size() == 3, qPrintable(asJson.out));
        QCOMPARE(QString::fromStdString(array[0]["definition"]["id"].get<std::string>()), kNewest);
    }

    void namespacesAndEnvironmentChooseTheLedger()
    {
        // REDIS_URL and SLUICE_NAMESPACE instead of flags; an empty namespace has no runs.
        QProcessEnvironment env;
        env.insert(QStringLiteral("REDIS_URL"), m_server.url());
        env.insert(QStringLiteral("SLUICE_NAMESPACE"), kNamespace);
        const Outcome fromEnv = runs({}, env, false);
        QVERIFY2(fromEnv.exitCode == 0, qPrintable(fromEnv.describe()));
        QCOMPARE(tableIds(fromEnv.out).size(), 3);

        env.insert(QStringLiteral("SLUICE_NAMESPACE"), QStringLiteral("elsewhere"));
        const Outcome empty = runs({}, env, false);
        QVERIFY2(empty.exitCode == 0, qPrintable(empty.describe()));
        QVERIFY2(empty.out.contains(QStringLiteral("no runs in the ledger yet")),
                 qPrintable(empty.describe()));
    }

    void showsOneRun()
    {
        const Outcome shown = runs({ QStringLiteral("show"), kOldest });
        QVERIFY2(shown.exitCode == 0, qPrintable(shown.describe()));
        QVERIFY2(shown.out.startsWith(QStringLiteral("Run %1: FAIL\n").arg(kOldest)),
                 qPrintable(shown.out));
        QVERIFY2(shown.out.contains(QStringLiteral("Verdict: FAIL (failing: all delivered)")),
                 qPrintable(shown.out));
        QVERIFY2(shown.out.contains(QStringLiteral("p99 88.0")), qPrintable(shown.out));

        const Outcome asJson = runs({ QStringLiteral("show"), kMiddle, QStringLiteral("--json") });
        QVERIFY2(asJson.exitCode == 0, qPrintable(asJson.describe()));
        const json record = json::parse(asJson.out.toStdString(), nullptr, false);
        QVERIFY2(record.is_object(), qPrintable(asJson.out));
        const auto back = runRecordFromJson(record);
        QVERIFY(back.has_value());
        QVERIFY(toJson(*back) == toJson(passingRun(kMiddle, kCreated + 3'600'000)));
    }

    void unknownRunsFailWithTheirName()
    {
        const Outcome shown = runs({ QStringLiteral("show"), QStringLiteral("run-nope") });
        QCOMPARE(shown.exitCode, 1);
        QVERIFY(shown.out.isEmpty());
        QVERIFY2(shown.err.contains(QStringLiteral("no run 'run-nope'; `sluice runs` lists them")),
                 qPrintable(shown.describe()));

        const Outcome compared
            = runs({ QStringLiteral("compare"), kOldest, QStringLiteral("run-nope") });
        QCOMPARE(compared.exitCode, 1);
        QVERIFY(compared.out.isEmpty());
        QVERIFY2(compared.err.contains(QStringLiteral("run-nope")),
                 qPrintable(compared.describe()));

        const Outcome exported
            = runs({ QStringLiteral("export"), kOldest, QStringLiteral("run-nope"),
                     QStringLiteral("--format"), QStringLiteral("csv") });
        QCOMPARE(exported.exitCode, 1);
        QVERIFY2(exported.out.isEmpty(), "nothing is exported when a named run is unknown");
    }

    void exportsCsvToAFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("runs.csv"));
        const Outcome exported = runs({ QStringLiteral("export"), QStringLiteral("--format"),
                                        QStringLiteral("csv"), QStringLiteral("--output"), path });
        QVERIFY2(exported.exitCode == 0, qPrintable(exported.describe()));
        QVERIFY(exported.out.isEmpty());
        QVERIFY2(exported.err.contains(QStringLiteral("exported 3 run(s)")),
                 qPrintable(exported.describe()));
        QFile file(path);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QString csv = QString::fromUtf8(file.readAll());
        const QStringList lines = csv.split(QStringLiteral("\r\n"), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 4);
        QVERIFY(lines[0].startsWith(QStringLiteral("id,stage,leads,campaign,")));
        QVERIFY(lines[1].startsWith(kNewest + QLatin1Char(',')));
        QVERIFY2(
            lines[3].startsWith(kOldest + QStringLiteral(",200,200,\"Q4, \"\"big\"\" push\",")),
            qPrintable(lines[3]));
    }

    void exportsChosenRunsAsJson()
    {
        const Outcome exported
            = runs({ QStringLiteral("export"), kOldest, kNewest, QStringLiteral("--format=json") });
        QVERIFY2(exported.exitCode == 0, qPrintable(exported.describe()));
        const json array = json::parse(exported.out.toStdString(), nullptr, false);
        QVERIFY2(array.is_array() && array.size() == 2, qPrintable(exported.out));
        // In the order asked for.
        QCOMPARE(QString::fromStdString(array[0]["definition"]["id"].get<std::string>()), kOldest);
        QCOMPARE(QString::fromStdString(array[1]["definition"]["id"].get<std::string>()), kNewest);
    }

    void comparesTwoRuns()
    {
        const Outcome compared = runs({ QStringLiteral("compare"), kOldest, kNewest });
        QVERIFY2(compared.exitCode == 0, qPrintable(compared.describe()));
        QVERIFY2(compared.out.startsWith(QStringLiteral("A: %1\nB: %2\n").arg(kOldest, kNewest)),
                 qPrintable(compared.out));
        QVERIFY2(compared.out.contains(QStringLiteral("CHANGE")), qPrintable(compared.out));
        const QString leads = compared.out.section(QStringLiteral("\nleads "), 1, 1)
                                  .section(QLatin1Char('\n'), 0, 0)
                                  .simplified();
        QCOMPARE(leads, QStringLiteral("200 500 +300 (+150.0%)"));
    }

    void badUsageIsExplained_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown form") << QStringList { QStringLiteral("frobnicate") }
                                      << QStringLiteral("unknown command 'frobnicate'");
        QTest::newRow("compare one") << QStringList { QStringLiteral("compare"), kOldest }
                                     << QStringLiteral("takes two run ids");
        QTest::newRow("show none")
            << QStringList { QStringLiteral("show") } << QStringLiteral("takes exactly one run id");
        QTest::newRow("export without format")
            << QStringList { QStringLiteral("export") } << QStringLiteral("needs --format");
        QTest::newRow("bad format")
            << QStringList { QStringLiteral("export"), QStringLiteral("--format"),
                             QStringLiteral("xml") }
            << QStringLiteral("neither json nor csv");
        QTest::newRow("limit zero")
            << QStringList { QStringLiteral("--limit"), QStringLiteral("0") }
            << QStringLiteral("--limit: '0' is not a whole number from 1 to 100000");
        QTest::newRow("limit without value")
            << QStringList { QStringLiteral("--limit") } << QStringLiteral("--limit needs a value");
        QTest::newRow("option of another form")
            << QStringList { QStringLiteral("show"), kOldest, QStringLiteral("--limit"),
                             QStringLiteral("3") }
            << QStringLiteral("unknown option '--limit' for `sluice runs show`");
        QTest::newRow("short option")
            << QStringList { QStringLiteral("show"), QStringLiteral("-j"), kOldest }
            << QStringLiteral("unknown option '-j' for `sluice runs show`");
        QTest::newRow("bad namespace")
            << QStringList { QStringLiteral("--namespace"), QStringLiteral("no spaces") }
            << QStringLiteral("use 1 to 64 letters");
    }
    void badUsageIsExplained()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        // Only --redis is added, so a row's own --namespace is the one that counts.
        const Outcome outcome
            = runs(args + QStringList { QStringLiteral("--redis"), m_server.url() }, {}, false);
        QCOMPARE(outcome.exitCode, 2);
        QVERIFY(outcome.out.isEmpty());
        QVERIFY2(outcome.err.contains(message), qPrintable(outcome.describe()));
    }

    void everyFormHasHelp_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("usage");
        QTest::newRow("list") << QStringList { QStringLiteral("--help") }
                              << QStringLiteral("Usage: sluice runs [--limit N] [--json]");
        QTest::newRow("show") << QStringList { QStringLiteral("show"), QStringLiteral("--help") }
                              << QStringLiteral("Usage: sluice runs show ID [--json]");
        QTest::newRow("export") << QStringList { QStringLiteral("export"), QStringLiteral("-h") }
                                << QStringLiteral("Usage: sluice runs export [ID...] --format "
                                                  "json|csv [--output FILE]");
        QTest::newRow("compare") << QStringList { QStringLiteral("compare"),
                                                  QStringLiteral("--help") }
                                 << QStringLiteral("Usage: sluice runs compare A B");
        QTest::newRow("delete") << QStringList { QStringLiteral("delete"),
                                                 QStringLiteral("--help") }
                                << QStringLiteral("Usage: sluice runs delete ID");
    }
    void everyFormHasHelp()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, usage);
        const Outcome outcome = runs(args, {}, false);
        QCOMPARE(outcome.exitCode, 0);
        QVERIFY2(outcome.out.startsWith(usage), qPrintable(outcome.describe()));
        QVERIFY2(outcome.out.contains(QStringLiteral("--redis V")), qPrintable(outcome.out));
    }

    void unreachableRedisFailsWithoutShowingThePassword()
    {
        RedisServer gone;
        QVERIFY2(gone.start(), qPrintable(gone.errorString()));
        gone.kill(); // nothing listens on its port now
        const QString url = QStringLiteral("redis://:s3cret-pw@127.0.0.1:%1/0").arg(gone.port());
        const Outcome outcome = runs({ QStringLiteral("--redis"), url }, {}, false);
        QCOMPARE(outcome.exitCode, 1);
        QVERIFY2(outcome.err.contains(QStringLiteral("could not")), qPrintable(outcome.describe()));
        QVERIFY2(!outcome.err.contains(QStringLiteral("s3cret-pw")), "the password leaked");
        QVERIFY(!outcome.out.contains(QStringLiteral("s3cret-pw")));
    }

    void usesThePrivateRedisWhenNoneIsConfigured()
    {
        QTemporaryDir dir;
        const Outcome outcome = runs(
            { QStringLiteral("--data-dir"), dir.filePath(QStringLiteral("data")) }, {}, false);
        QVERIFY2(outcome.exitCode == 0, qPrintable(outcome.describe()));
        QVERIFY2(outcome.out.contains(QStringLiteral("no runs in the ledger yet")),
                 qPrintable(outcome.describe()));
        QVERIFY(QFile::exists(dir.filePath(QStringLiteral("data/redis/appendonlydir"))));
        // It stopped the server it started.
        QVERIFY(!redisAnswersOnSocket(dir.filePath(QStringLiteral("data/redis/redis.sock")),
                                      std::chrono::milliseconds { 200 }));
    }

    void deletesARun()
    {
        // Last: the other tests read the three runs.
        const Outcome deleted = runs({ QStringLiteral("delete"), kMiddle });
        QVERIFY2(deleted.exitCode == 0, qPrintable(deleted.describe()));
        QCOMPARE(deleted.out, QStringLiteral("deleted run %1\n").arg(kMiddle));
        QCOMPARE(runs({ QStringLiteral("show"), kMiddle }).exitCode, 1);
        QCOMPARE(tableIds(runs({}).out), (QStringList { kNewest, kOldest }));
        const Outcome again = runs({ QStringLiteral("delete"), kMiddle });
        QCOMPARE(again.exitCode, 1);
        QVERIFY2(again.err.contains(QStringLiteral("no run '%1'").arg(kMiddle)),
                 qPrintable(again.describe()));
    }

private:
    QTemporaryDir m_home;
    RedisServer m_server;
};

SLUICE_TEST_GUILESS_MAIN(TestRunsCommand)
#include "tst_runscommand.moc"
