// `sluice serve` / `sluice worker` options: flags over environment over defaults, and a clear
// message naming the flag or variable for every bad value.
#include "common/suite.h"
#include "config/serveoptions.h"
#include "redis/redisdurability.h"

#include <QTest>

using namespace sluice;

class TestServeOptions : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaults()
    {
        const auto o = parseServeOptions({}, QProcessEnvironment());
        QVERIFY(o.ok());
        QCOMPARE(o->listenText(), QStringLiteral("127.0.0.1:8080"));
        QCOMPARE(o->instantlyUrl.toString(), QStringLiteral("https://api.instantly.ai"));
        QCOMPARE(o->limiter.caps.size(), size_t(2));
        QCOMPARE(o->limiter.caps[0].toString(), QStringLiteral("600/min"));
        QCOMPARE(o->limiter.caps[1].toString(), QStringLiteral("10/s"));
        QCOMPARE(o->dispatcher.mode, DeliveryMode::Bulk);
        QVERIFY(o->redisUrl.isEmpty());
    }

    void capsPresets()
    {
        // Instantly's documented workspace limits, or this team's plan; explicit caps win.
        const auto documented = parseServeOptions({ QStringLiteral("--caps=documented") }, {});
        QVERIFY(documented.ok());
        QCOMPARE(documented->limiter.caps[0].toString(), QStringLiteral("6000/min"));
        QCOMPARE(documented->limiter.caps[1].toString(), QStringLiteral("100/s"));
        QProcessEnvironment env;
        env.insert(QStringLiteral("SLUICE_CAPS"), QStringLiteral("documented"));
        const auto mixed = parseServeOptions({ QStringLiteral("--burst-rate=50/s") }, env);
        QVERIFY(mixed.ok());
        QCOMPARE(mixed->limiter.caps[0].toString(), QStringLiteral("6000/min"));
        QCOMPARE(mixed->limiter.caps[1].toString(), QStringLiteral("50/s"));
        const auto plan = parseServeOptions({ QStringLiteral("--caps=plan") }, {});
        QCOMPARE(plan->limiter.caps[0].toString(), QStringLiteral("600/min"));
        QCOMPARE(plan->limiter.caps[1].toString(), QStringLiteral("10/s"));
    }

    void lookupSettings()
    {
        const auto o = parseServeOptions(
            { QStringLiteral("--lookup-batch=200"), QStringLiteral("--lookup-hold=500ms") }, {});
        QVERIFY(o.ok());
        QCOMPARE(o->dispatcher.lookupBatch, 200);
        QCOMPARE(o->dispatcher.lookupHold, std::chrono::milliseconds { 500 });
        QCOMPARE(parseServeOptions({}, {}).value().dispatcher.lookupBatch, 100);
    }

    void journalCanBeTurnedOff()
    {
        QVERIFY(parseServeOptions({}, {}).value().dispatcher.journal);
        QVERIFY(
            !parseServeOptions({ QStringLiteral("--journal=off") }, {}).value().dispatcher.journal);
        QProcessEnvironment env;
        env.insert(QStringLiteral("SLUICE_JOURNAL"), QStringLiteral("OFF"));
        QVERIFY(!parseServeOptions({}, env).value().dispatcher.journal);
        QVERIFY(parseServeOptions({ QStringLiteral("--journal"), QStringLiteral("on") }, env)
                    .value()
                    .dispatcher.journal);
    }

    void flagsWinOverEnvironment()
    {
        QProcessEnvironment env;
        env.insert(QStringLiteral("SLUICE_LISTEN"), QStringLiteral("127.0.0.1:9000"));
        env.insert(QStringLiteral("REDIS_URL"), QStringLiteral("redis://10.0.0.5:6379/2"));
        env.insert(QStringLiteral("SLUICE_RATE"), QStringLiteral("6000/min"));
        env.insert(QStringLiteral("SLUICE_MODE"), QStringLiteral("single"));
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sk_x"));
        const auto o
            = parseServeOptions({ QStringLiteral("--listen"), QStringLiteral("127.0.0.1:9100"),
                                  QStringLiteral("--burst-rate=100/s"), QStringLiteral("--bulk") },
                                env);
        QVERIFY2(o.ok(), qPrintable(o.ok() ? QString() : o.error()));
        QCOMPARE(o->listenPort, quint16(9100));
        QCOMPARE(o->redisUrl, QStringLiteral("redis://10.0.0.5:6379/2"));
        QCOMPARE(o->limiter.caps[0].toString(), QStringLiteral("6000/min"));
        QCOMPARE(o->limiter.caps[1].toString(), QStringLiteral("100/s"));
        QCOMPARE(o->dispatcher.mode, DeliveryMode::Bulk);
        QCOMPARE(o->instantlyApiKey, QStringLiteral("sk_x"));
        const auto claim
            = parseServeOptions({ QStringLiteral("--claim-idle"), QStringLiteral("2s") }, env);
        QVERIFY(claim.ok());
        QCOMPARE(claim->dispatcher.claimIdleTimeout.count(), 2000);
        const auto tuned = parseServeOptions(
            { QStringLiteral("--request-timeout=2s"), QStringLiteral("--retry-base"),
              QStringLiteral("50ms"), QStringLiteral("--retry-cap=1m"),
              QStringLiteral("--max-attempts=3"), QStringLiteral("--coalesce=0ms"),
              QStringLiteral("--batch-max=250"), QStringLiteral("--breaker-open=2s"),
              QStringLiteral("--breaker-failure-rate=25"), QStringLiteral("--close-rate=4/s") },
            env);
        QVERIFY2(tuned.ok(), qPrintable(tuned.ok() ? QString() : tuned.error()));
        QCOMPARE(tuned->requestTimeout.count(), 2000);
        QCOMPARE(tuned->dispatcher.retryBase.count(), 50);
        QCOMPARE(tuned->dispatcher.retryCap.count(), 60'000);
        QCOMPARE(tuned->dispatcher.maxAttempts, 3);
        QCOMPARE(tuned->dispatcher.coalescingWindow.count(), 0);
        QCOMPARE(tuned->dispatcher.maxBatch, 250);
        QCOMPARE(tuned->breaker.openWaitBase.count(), 2000);
        QCOMPARE(tuned->breaker.failureRateThresholdPercent, 25.0);
        QCOMPARE(tuned->closeCaps.size(), size_t(1));
        QCOMPARE(tuned->closeCaps[0].limit, 4);
    }

    void errors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("envName");
        QTest::addColumn<QString>("envValue");
        QTest::addColumn<bool>("workerOnly");
        QTest::addColumn<QString>("messagePart");
        const QString none;
        QTest::newRow("unknown flag") << QStringList { QStringLiteral("--fast") } << none << none
                                      << false << QStringLiteral("unknown option '--fast'");
        QTest::newRow("positional") << QStringList { QStringLiteral("now") } << none << none
                                    << false << QStringLiteral("unexpected argument");
        QTest::newRow("missing value") << QStringList { QStringLiteral("--rate") } << none << none
                                       << false << QStringLiteral("needs a value");
        QTest::newRow("bad rate") << QStringList { QStringLiteral("--rate"),
                                                   QStringLiteral("lots") }
                                  << none << none << false
                                  << QStringLiteral("--rate: 'lots' is not a rate");
        QTest::newRow("bad rate from env")
            << QStringList {} << QStringLiteral("SLUICE_BURST_RATE")
            << QStringLiteral("10/fortnight") << false << QStringLiteral("SLUICE_BURST_RATE:");
        QTest::newRow("bad listen")
            << QStringList { QStringLiteral("--listen"), QStringLiteral("localhost") } << none
            << none << false << QStringLiteral("not host:port");
        QTest::newRow("remote without consent")
            << QStringList { QStringLiteral("--listen"), QStringLiteral("0.0.0.0:8080") } << none
            << none << false << QStringLiteral("--allow-remote");
        QTest::newRow("bad url") << QStringList { QStringLiteral("--instantly-url"),
                                                  QStringLiteral("ftp://x") }
                                 << none << none << false << QStringLiteral("not an http(s) URL");
        QTest::newRow("safety 0") << QStringList { QStringLiteral("--safety-factor"),
                                                   QStringLiteral("0") }
                                  << none << none << false << QStringLiteral("above 0");
        QTest::newRow("workers 0") << QStringList { QStringLiteral("--workers=0") } << none << none
                                   << false << QStringLiteral("1 to 64");
        QTest::newRow("both modes")
            << QStringList { QStringLiteral("--bulk"), QStringLiteral("--single") } << none << none
            << false << QStringLiteral("not both");
        QTest::newRow("bad mode env")
            << QStringList {} << QStringLiteral("SLUICE_MODE") << QStringLiteral("turbo") << false
            << QStringLiteral("bulk or single");
        QTest::newRow("bad namespace")
            << QStringList { QStringLiteral("--namespace"), QStringLiteral("a b") } << none << none
            << false << QStringLiteral("letters");
        QTest::newRow("switch with value") << QStringList { QStringLiteral("--bulk=yes") } << none
                                           << none << false << QStringLiteral("takes no value");
        QTest::newRow("listen for a worker")
            << QStringList { QStringLiteral("--listen"), QStringLiteral("127.0.0.1:1") } << none
            << none << true << QStringLiteral("unknown option '--listen'");
        QTest::newRow("bad claim idle")
            << QStringList { QStringLiteral("--claim-idle"), QStringLiteral("5 minutes") } << none
            << none << false << QStringLiteral("'5 minutes' is not a duration from 1500ms to 1d");
        QTest::newRow("claim idle too short")
            << QStringList { QStringLiteral("--claim-idle=300ms") } << none << none << false
            << QStringLiteral("'300ms' is not a duration from 1500ms");
        QTest::newRow("retry cap below base")
            << QStringList { QStringLiteral("--retry-base=10s"), QStringLiteral("--retry-cap=5s") }
            << none << none << false
            << QStringLiteral("--retry-cap (5000 ms) is below --retry-base");
        QTest::newRow("batch too big") << QStringList { QStringLiteral("--batch-max=1001") } << none
                                       << none << false << QStringLiteral("from 1 to 1000");
        QTest::newRow("bad close rate")
            << QStringList { QStringLiteral("--close-rate"), QStringLiteral("lots") } << none
            << none << false << QStringLiteral("--close-rate:");
        QTest::newRow("breaker rate from env")
            << QStringList {} << QStringLiteral("SLUICE_BREAKER_FAILURE_RATE")
            << QStringLiteral("0") << false
            << QStringLiteral("SLUICE_BREAKER_FAILURE_RATE: must be");
        QTest::newRow("bad log format")
            << QStringList { QStringLiteral("--log-format"), QStringLiteral("xml") } << none << none
            << false << QStringLiteral("text or json");
        QTest::newRow("bad caps preset")
            << QStringList { QStringLiteral("--caps=gold") } << none << none << false
            << QStringLiteral("--caps: must be plan or documented");
        QTest::newRow("lookup batch too big")
            << QStringList { QStringLiteral("--lookup-batch=201") } << none << none << false
            << QStringLiteral("from 1 to 200");
        QTest::newRow("bad journal")
            << QStringList {} << QStringLiteral("SLUICE_JOURNAL") << QStringLiteral("maybe")
            << false << QStringLiteral("SLUICE_JOURNAL: must be on or off");
    }
    void errors()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, envName);
        QFETCH(QString, envValue);
        QFETCH(bool, workerOnly);
        QFETCH(QString, messagePart);
        QProcessEnvironment env;
        if (!envName.isEmpty())
            env.insert(envName, envValue);
        const auto o = parseServeOptions(args, env, workerOnly);
        QVERIFY(!o.ok());
        QVERIFY2(o.error().contains(messagePart), qPrintable(o.error()));
    }

    void upstreamConcurrencyIsBounded()
    {
        QCOMPARE(
            parseServeOptions({}, QProcessEnvironment()).value().dispatcher.maxRequestsInFlight, 4);
        QCOMPARE(
            parseServeOptions({ QStringLiteral("--upstream-concurrency"), QStringLiteral("6") },
                              QProcessEnvironment())
                .value()
                .dispatcher.maxRequestsInFlight,
            6);
        for (const char *bad : { "0", "7", "four" }) {
            const auto r = parseServeOptions(
                { QStringLiteral("--upstream-concurrency"), QString::fromLatin1(bad) },
                QProcessEnvironment());
            QVERIFY2(!r.ok() && r.error().contains(QStringLiteral("1 to 6")), bad);
        }
    }

    void redisDurabilityIsJudged_data()
    {
        QTest::addColumn<QByteArray>("appendonly");
        QTest::addColumn<QByteArray>("appendfsync");
        QTest::addColumn<QByteArray>("save");
        QTest::addColumn<QString>("problemPart"); // empty: no problem
        QTest::newRow("AOF everysec")
            << QByteArray("yes") << QByteArray("everysec") << QByteArray("3600 1") << QString();
        QTest::newRow("AOF always")
            << QByteArray("yes") << QByteArray("always") << QByteArray() << QString();
        QTest::newRow("AOF, fsync left to the OS")
            << QByteArray("yes") << QByteArray("no") << QByteArray("3600 1")
            << QStringLiteral("appendfsync is 'no'");
        QTest::newRow("RDB only") << QByteArray("no") << QByteArray("everysec")
                                  << QByteArray("3600 1 300 100") << QStringLiteral("only RDB");
        QTest::newRow("nothing") << QByteArray("no") << QByteArray("everysec") << QByteArray("")
                                 << QStringLiteral("persistence is off");
    }
    void redisDurabilityIsJudged()
    {
        QFETCH(QByteArray, appendonly);
        QFETCH(QByteArray, appendfsync);
        QFETCH(QByteArray, save);
        QFETCH(QString, problemPart);
        const auto problem = redisDurabilityProblem(appendonly, appendfsync, save);
        if (problemPart.isEmpty()) {
            QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
        } else {
            QVERIFY(problem);
            QVERIFY2(problem->contains(problemPart), qPrintable(*problem));
            QVERIFY(problem->contains(QStringLiteral("everysec"))); // what to set
        }
    }

    void helpListsEveryVariable()
    {
        const QString help = serveHelpText(false);
        for (const char *name : { "SLUICE_LISTEN", "INSTANTLY_URL", "REDIS_URL", "SLUICE_RATE",
                                  "CLOSE_WEBHOOK_SECRET" })
            QVERIFY2(help.contains(QLatin1String(name)), name);
        QVERIFY(!serveHelpText(true).contains(QStringLiteral("--listen")));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestServeOptions)
#include "tst_serveoptions.moc"
