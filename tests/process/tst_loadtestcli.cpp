// `sluice loadtest`, `sluice verify`, `sluice cleanup` and `sluice runs` as an operator runs
// them: stages 20 and 200 pass with verify and clean-up on a machine with nothing set up
// (embedded sandbox, private Redis); against a running serve and an outside sandbox, a lead
// deleted behind Sluice's back is reported missing and --repair restores it, a planted
// duplicate is reported, clean-up leaves nothing; a run against an outside target stays "not
// observable" when `cleanup --run` judges it again; fail-fast stops on a listener that never
// answers; the ledger survives a Redis restart.
#include "common/foreignreceiver.h"
#include "common/suite.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpServer>

using namespace sluice;
using namespace sluice::test;

namespace {

struct CliResult
{
    int code = -1;
    QString out;
    QString err;
    QString describe() const
    {
        return QStringLiteral("exit %1\n--- stdout\n%2\n--- stderr\n%3").arg(code).arg(out, err);
    }
};

/// Runs the sluice binary without blocking this thread's event loop (the sandbox lives here).
CliResult runSluice(const QStringList &args, const QList<QPair<QString, QString>> &env = {},
                    int timeoutMs = 120'000)
{
    QProcess p;
    QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
    for (const auto &[name, value] : env)
        e.insert(name, value);
    p.setProcessEnvironment(e);
    p.start(QStringLiteral(SLUICE_BINARY), args);
    CliResult r;
    if (!p.waitForStarted(10'000))
        return r;
    QByteArray out, err;
    QObject::connect(&p, &QProcess::readyReadStandardOutput, &p,
                     [&] { out += p.readAllStandardOutput(); });
    QObject::connect(&p, &QProcess::readyReadStandardError, &p,
                     [&] { err += p.readAllStandardError(); });
    if (!QTest::qWaitFor([&] { return p.state() == QProcess::NotRunning; }, timeoutMs))
        p.kill();
    p.waitForFinished(5000);
    out += p.readAllStandardOutput();
    err += p.readAllStandardError();
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = QString::fromUtf8(out);
    r.err = QString::fromUtf8(err);
    return r;
}

/// The environment of a command that talks to an outside sandbox as its Instantly.
QList<QPair<QString, QString>> sandboxKey()
{
    return { { QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sandbox") } };
}

/// The flags of a command on `redis` with `sandbox` as its Instantly.
QStringList againstSandbox(const RedisServer &redis, const SandboxServer &sandbox)
{
    return { QStringLiteral("--redis"), redis.url(), QStringLiteral("--instantly-url"),
             sandbox.baseUrl().toString() };
}

QString runIdIn(const QString &output)
{
    static const QRegularExpression re(QStringLiteral("sluice runs show (run-[0-9a-f-]+)"));
    return re.match(output).captured(1);
}

} // namespace

class TestLoadTestCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void stagesPassWithVerifyAndCleanupOnAFreshMachine_data()
    {
        QTest::addColumn<int>("leads");
        QTest::newRow("20") << 20;
        QTest::newRow("200") << 200;
    }
    void stagesPassWithVerifyAndCleanupOnAFreshMachine()
    {
        QFETCH(int, leads);
        QTemporaryDir dir;
        const QString json = dir.filePath(QStringLiteral("run.json"));
        const CliResult r = runSluice(
            { QStringLiteral("loadtest"), QStringLiteral("--leads"), QString::number(leads),
              QStringLiteral("--verify"), QStringLiteral("--cleanup"), QStringLiteral("--json"),
              json, QStringLiteral("--data-dir"), dir.filePath(QStringLiteral("data")) });
        QVERIFY2(r.code == 0, qPrintable(r.describe()));
        QVERIFY(r.out.contains(QStringLiteral(": PASS")));
        QFile file(json);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QJsonObject record = QJsonDocument::fromJson(file.readAll()).object();
        QCOMPARE(record.value(QStringLiteral("passed")).toBool(), true);
        QCOMPARE(record.value(QStringLiteral("delivered")).toInt(), leads);
        QCOMPARE(record.value(QStringLiteral("verify"))
                     .toObject()
                     .value(QStringLiteral("present"))
                     .toInt(),
                 leads);
        QCOMPARE(record.value(QStringLiteral("cleanup"))
                     .toObject()
                     .value(QStringLiteral("remaining"))
                     .toInt(),
                 0);
        QCOMPARE(record.value(QStringLiteral("upstream_429")).toInt(), 0);

        // The ledger has it (the sandbox's runs live in the 'sandbox' namespace).
        const QString id = runIdIn(r.out);
        QVERIFY(!id.isEmpty());
        const CliResult show
            = runSluice({ QStringLiteral("runs"), QStringLiteral("show"), id,
                          QStringLiteral("--namespace"), QStringLiteral("sandbox"),
                          QStringLiteral("--data-dir"), dir.filePath(QStringLiteral("data")) });
        QVERIFY2(show.code == 0, qPrintable(show.describe()));
        QVERIFY(show.out.contains(id));

        // `sluice lead` tells one lead's life from the shell, any case of its address.
        const QJsonObject definition = record.value(QStringLiteral("definition")).toObject();
        const QString email = QStringLiteral("lance+%1+%2@whiteboardgeeks.com")
                                  .arg(definition.value(QStringLiteral("timestamp")).toString())
                                  .arg(leads);
        const QStringList where { QStringLiteral("--namespace"), QStringLiteral("sandbox"),
                                  QStringLiteral("--data-dir"),
                                  dir.filePath(QStringLiteral("data")) };
        const CliResult lead
            = runSluice(QStringList { QStringLiteral("lead"), email.toUpper() } + where);
        QVERIFY2(lead.code == 0, qPrintable(lead.describe()));
        QVERIFY2(lead.out.startsWith(email + QStringLiteral(" in '")), qPrintable(lead.out));
        qsizetype at = 0;
        for (const char *step :
             { "Received", "Queued", "Attempt 1", "Delivered", "Verified", "Cleaned up" }) {
            at = lead.out.indexOf(QLatin1String(step), at);
            QVERIFY2(
                at > 0,
                qPrintable(
                    QStringLiteral("no %1 in order in:\n%2").arg(QLatin1String(step), lead.out)));
        }
        QVERIFY(lead.out.contains(QStringLiteral("attempt 1: HTTP 200 in ")));
        const CliResult asJson = runSluice(
            QStringList { QStringLiteral("lead"), email, QStringLiteral("--json") } + where);
        QVERIFY2(asJson.code == 0, qPrintable(asJson.describe()));
        const QJsonArray timelines = QJsonDocument::fromJson(asJson.out.toUtf8()).array();
        QCOMPARE(timelines.size(), 1);
        QCOMPARE(timelines[0].toObject().value(QStringLiteral("state")).toString(),
                 QStringLiteral("deleted"));
        const CliResult unknown = runSluice(
            QStringList { QStringLiteral("lead"), QStringLiteral("nobody@example.org") } + where);
        QCOMPARE(unknown.code, 1);
        QVERIFY2(unknown.err.contains(QStringLiteral("nothing in the journal")),
                 qPrintable(unknown.describe()));
        QCOMPARE(runSluice({ QStringLiteral("lead") }).code, 2);
        QCOMPARE(runSluice({ QStringLiteral("lead"), QStringLiteral("a@b.c"),
                             QStringLiteral("--limit"), QStringLiteral("0") })
                     .code,
                 2);
    }

    void verifyRepairAndCleanupAgainstAServe()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        RedisServer::Options redisOptions;
        redisOptions.appendOnly = true;
        RedisServer redis(redisOptions);
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url(),
                                      { QStringLiteral("--claim-idle"), QStringLiteral("2s") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));
        const QList<QPair<QString, QString>> key = sandboxKey();
        const QStringList common = againstSandbox(redis, sandbox);

        const CliResult run
            = runSluice(QStringList { QStringLiteral("loadtest"), QStringLiteral("--live"),
                                      QStringLiteral("--leads"), QStringLiteral("30"),
                                      QStringLiteral("--target"), serve.addLeadUrl().toString() }
                            + common,
                        key);
        QVERIFY2(run.code == 0, qPrintable(run.describe()));
        const QString id = runIdIn(run.out);
        QVERIFY(!id.isEmpty());
        const QStringList runArg { QStringLiteral("--run"), id };

        const CliResult clean
            = runSluice(QStringList { QStringLiteral("verify") } + runArg + common, key);
        QVERIFY2(clean.code == 0, qPrintable(clean.describe()));
        QVERIFY(clean.out.contains(QStringLiteral("30 present, 0 missing, 0 duplicated")));

        // One lead disappears behind Sluice's back.
        const nlohmann::json leads = sandbox.store().allLeads();
        const QString lostEmail = QString::fromStdString(leads[5]["email"].get<std::string>());
        QCOMPARE(sandbox.store()
                     .deleteLead(QString::fromStdString(leads[5]["id"].get<std::string>()))
                     .status,
                 200);
        const CliResult missing
            = runSluice(QStringList { QStringLiteral("verify") } + runArg + common, key);
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.out.contains(QStringLiteral("missing     ") + lostEmail.toLower()),
                 qPrintable(missing.describe()));
        const CliResult repair = runSluice(
            QStringList { QStringLiteral("verify"), QStringLiteral("--repair") } + runArg + common,
            key);
        QVERIFY2(repair.out.contains(QStringLiteral("queued again: 1")),
                 qPrintable(repair.describe()));
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), 30,
                                  30'000); // the serve delivered it
        const CliResult restored
            = runSluice(QStringList { QStringLiteral("verify") } + runArg + common, key);
        QVERIFY2(restored.code == 0, qPrintable(restored.describe()));

        // A duplicate planted by hand is reported.
        nlohmann::json twin
            = { { "email", lostEmail.toStdString() }, { "campaign", leads[0]["campaign"] } };
        QCOMPARE(sandbox.store().createLead(twin).status, 200);
        const CliResult doubled
            = runSluice(QStringList { QStringLiteral("verify") } + runArg + common, key);
        QCOMPARE(doubled.code, 1);
        QVERIFY2(doubled.out.contains(QStringLiteral("duplicated  ") + lostEmail.toLower()),
                 qPrintable(doubled.describe()));

        const CliResult preview
            = runSluice(QStringList { QStringLiteral("cleanup"), QStringLiteral("--dry-run") }
                            + runArg + common,
                        key);
        QVERIFY2(preview.code == 0, qPrintable(preview.describe()));
        QCOMPARE(sandbox.store().leadCount(), 31);
        const CliResult gone
            = runSluice(QStringList { QStringLiteral("cleanup") } + runArg + common, key);
        QVERIFY2(gone.code == 0, qPrintable(gone.describe()));
        QVERIFY(gone.out.contains(QStringLiteral("0 remaining")));
        QCOMPARE(sandbox.store().leadCount(), 0);

        // The ledger keeps the results across a Redis restart (AOF on).
        redis.stop();
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const CliResult show
            = runSluice({ QStringLiteral("runs"), QStringLiteral("show"), id,
                          QStringLiteral("--json"), QStringLiteral("--redis"), redis.url() });
        QVERIFY2(show.code == 0, qPrintable(show.describe()));
        const QJsonObject record = QJsonDocument::fromJson(show.out.toUtf8()).object();
        QCOMPARE(record.value(QStringLiteral("cleanup"))
                     .toObject()
                     .value(QStringLiteral("remaining"))
                     .toInt(),
                 0);
        QVERIFY(serve.terminate());
    }

    void cleanupOfAnOutsideTargetRunKeepsItNotObservable()
    {
        // A receiver that is not Sluice: it answers 202, and its tasks are in no Redis the
        // run can read, so the run cannot see the delivery and does not claim it.
        ForeignReceiver foreign;
        QVERIFY(foreign.listen());
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        const QStringList common = againstSandbox(redis, sandbox);
        const CliResult run
            = runSluice(QStringList { QStringLiteral("loadtest"), QStringLiteral("--live"),
                                      QStringLiteral("--leads"), QStringLiteral("3"),
                                      QStringLiteral("--target"), foreign.url().toString() }
                            + common,
                        sandboxKey());
        QCOMPARE(run.code, 1);
        QVERIFY2(run.out.contains(QStringLiteral("FAIL every lead delivered: not observable")),
                 qPrintable(run.describe()));
        const QString id = runIdIn(run.out);
        QVERIFY(!id.isEmpty());

        // Judged again after the clean-up, from the ledger's record: still not observable.
        const CliResult cleanup = runSluice(
            QStringList { QStringLiteral("cleanup"), QStringLiteral("--run"), id } + common,
            sandboxKey());
        QVERIFY2(cleanup.code == 0, qPrintable(cleanup.describe()));
        const CliResult show
            = runSluice({ QStringLiteral("runs"), QStringLiteral("show"), id,
                          QStringLiteral("--json"), QStringLiteral("--redis"), redis.url() });
        QVERIFY2(show.code == 0, qPrintable(show.describe()));
        const QJsonObject record = QJsonDocument::fromJson(show.out.toUtf8()).object();
        QCOMPARE(record.value(QStringLiteral("delivery_observable")).toBool(true), false);
        QVERIFY(record.contains(QStringLiteral("cleanup")));
        QString delivered;
        for (const QJsonValue &check : record.value(QStringLiteral("checks")).toArray())
            if (check.toObject().value(QStringLiteral("name")).toString()
                == QLatin1String("every lead delivered"))
                delivered = check.toObject().value(QStringLiteral("detail")).toString();
        QVERIFY2(delivered.startsWith(QStringLiteral("not observable")), qPrintable(delivered));
    }

    void failFastStopsOnAListenerThatNeverAnswers()
    {
        QTcpServer silent;
        QVERIFY(silent.listen(QHostAddress::LocalHost, 0));
        QTemporaryDir dir;
        const CliResult r = runSluice(
            { QStringLiteral("loadtest"), QStringLiteral("--leads"), QStringLiteral("10"),
              QStringLiteral("--fail-fast"), QStringLiteral("--inline-leads"),
              QStringLiteral("--ack-timeout"), QStringLiteral("500ms"),
              QStringLiteral("--concurrency"), QStringLiteral("1"), QStringLiteral("--target"),
              QStringLiteral("http://127.0.0.1:%1/instantly/add_lead").arg(silent.serverPort()),
              QStringLiteral("--data-dir"), dir.filePath(QStringLiteral("data")) });
        QCOMPARE(r.code, 1);
        QVERIFY2(
            r.out.contains(QStringLiteral("fail-fast: request 1 of 10: no answer within 500 ms")),
            qPrintable(r.describe()));

        // Lead-less webhooks (the default) to a foreign target: this run cannot put the leads
        // in that target's Close, and says so instead of firing webhooks nobody can resolve.
        const CliResult leadless = runSluice(
            { QStringLiteral("loadtest"), QStringLiteral("--leads"), QStringLiteral("10"),
              QStringLiteral("--target"),
              QStringLiteral("http://127.0.0.1:%1/instantly/add_lead").arg(silent.serverPort()),
              QStringLiteral("--data-dir"), dir.filePath(QStringLiteral("data")) });
        QCOMPARE(leadless.code, 2);
        QVERIFY2(leadless.err.contains(QStringLiteral("--inline-leads")),
                 qPrintable(leadless.describe()));
    }

    void badUsageSaysWhat()
    {
        const CliResult none = runSluice({ QStringLiteral("loadtest") });
        QCOMPARE(none.code, 2);
        QVERIFY(none.err.contains(QStringLiteral("--leads N")));
        const CliResult bad = runSluice(
            { QStringLiteral("loadtest"), QStringLiteral("--leads"), QStringLiteral("many") });
        QCOMPARE(bad.code, 2);
        QVERIFY(bad.err.contains(QStringLiteral("'many' is not a whole number")));
        const CliResult live = runSluice({ QStringLiteral("loadtest"), QStringLiteral("--leads"),
                                           QStringLiteral("5"), QStringLiteral("--live") },
                                         { { QStringLiteral("INSTANTLY_API_KEY"), QString() } });
        QCOMPARE(live.code, 2);
        QVERIFY(live.err.contains(QStringLiteral("--live needs INSTANTLY_API_KEY")));
    }
};

SLUICE_TEST_GUILESS_MAIN(TestLoadTestCli)
#include "tst_loadtestcli.moc"
