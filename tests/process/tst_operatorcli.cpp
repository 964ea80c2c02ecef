// The operator's commands as an operator runs them: the real `sluice` binary against a real
// redis-server. `sluice pause/resume`, `sluice dead list/discard` and `sluice retry --dead`
// do what they say to the shared Redis, and refuse bad input with a clear message and a
// non-zero exit status (2 for usage, 1 when nothing was done). `sluice serve` without
// CLOSE_API_KEY says what that will do.
#include "common/suite.h"
#include "queue/leadreason.h"
#include "redis/redisserver.h"
#include "servefixture.h"
#include "store/queuedlead.h"

#include <QTest>

using namespace sluice;
using namespace sluice::test;

namespace {

struct Run
{
    int exitCode = -1;
    QString out;
    QString err;
    QString describe() const
    {
        return QStringLiteral("exit %1\nstdout: %2\nstderr: %3").arg(exitCode).arg(out, err);
    }
};

} // namespace

class TestOperatorCli : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_ns = QStringLiteral("cli%1").arg(m_round);
        m_keys = RedisKeys(m_ns);
        RedisOptions options;
        options.url = m_server.url();
        m_redis = std::make_unique<RedisClient>(options);
        m_redis->connectToServer();
    }

    void cleanup() { m_redis.reset(); }

    void pauseAndResume()
    {
        Run r = sluice({ QStringLiteral("pause") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("--why")), qPrintable(r.describe()));
        r = sluice({ QStringLiteral("pause"), QStringLiteral("--why"), QStringLiteral("  ") });
        QCOMPARE(r.exitCode, 2);
        r = sluice({ QStringLiteral("pause"), QStringLiteral("--why"), QStringLiteral("x"),
                     QStringLiteral("extra") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("unexpected argument 'extra'")),
                 qPrintable(r.describe()));
        QCOMPARE(command({ "EXISTS", m_keys.control() }).integer(), 0);

        r = sluice({ QStringLiteral("pause"), QStringLiteral("--why"),
                     QStringLiteral("Instantly maintenance window") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QCOMPARE(command({ "HGET", m_keys.control(), "paused" }).bytes(),
                 QByteArray("Instantly maintenance window"));
        QCOMPARE(command({ "HGET", m_keys.control(), "paused_cause" }).bytes(),
                 QByteArray("operator"));
        QVERIFY(command({ "HGET", m_keys.control(), "paused_ms" }).bytes().toLongLong()
                > 1'700'000'000'000);

        r = sluice({ QStringLiteral("resume") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QVERIFY2(r.out.contains(QLatin1String("Instantly maintenance window")),
                 qPrintable(r.describe()));
        QCOMPARE(command({ "HEXISTS", m_keys.control(), "paused" }).integer(), 0);
        r = sluice({ QStringLiteral("resume") });
        QCOMPARE(r.exitCode, 0);
        QVERIFY2(r.out.contains(QLatin1String("not paused")), qPrintable(r.describe()));
    }

    void deadListShowsReasonsWithTheirActions()
    {
        addDead("ann@acme.io", LeadReason::Blocklisted);
        addDead("bob@acme.io", LeadReason::Blocklisted);
        addDead("cy@acme.io", LeadReason::GaveUp);

        Run r = sluice({ QStringLiteral("dead"), QStringLiteral("list") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        for (const QString &part :
             { QStringLiteral("3 dead letter(s)"), QStringLiteral("blocklisted"),
               leadReasonTitle(LeadReason::Blocklisted), leadReasonAction(LeadReason::Blocklisted),
               QStringLiteral("gave_up"), QStringLiteral("ann@acme.io"),
               QStringLiteral("cy@acme.io"), QStringLiteral("Spring") })
            QVERIFY2(r.out.contains(part), qPrintable(part + QLatin1Char('\n') + r.describe()));

        r = sluice({ QStringLiteral("dead"), QStringLiteral("list"), QStringLiteral("--reason"),
                     QStringLiteral("gave_up"), QStringLiteral("--json") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        const auto j = nlohmann::json::parse(r.out.toStdString(), nullptr, false);
        QVERIFY2(j.is_object(), qPrintable(r.describe()));
        QCOMPARE(j["reasons"].size(), size_t(1));
        QVERIFY(j["reasons"][0]["code"] == "gave_up");
        QVERIFY(j["reasons"][0]["count"] == 1);
        QVERIFY(j["reasons"][0]["action"] == leadReasonAction(LeadReason::GaveUp).toStdString());
        QCOMPARE(j["entries"].size(), size_t(1));
        QVERIFY(j["entries"][0]["email"] == "cy@acme.io");

        // Bad input: says what is wrong, exit status 2.
        r = sluice({ QStringLiteral("dead"), QStringLiteral("list"), QStringLiteral("--reason"),
                     QStringLiteral("nope") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("unknown reason 'nope'"))
                     && r.err.contains(QLatin1String("blocklisted")),
                 qPrintable(r.describe()));
        r = sluice({ QStringLiteral("dead"), QStringLiteral("list"), QStringLiteral("--limit"),
                     QStringLiteral("0") });
        QCOMPARE(r.exitCode, 2);
        r = sluice({ QStringLiteral("dead") });
        QCOMPARE(r.exitCode, 2);
        r = sluice({ QStringLiteral("dead"), QStringLiteral("bury") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("unknown command 'bury'")), qPrintable(r.describe()));
        QCOMPARE(
            sluice({ QStringLiteral("dead"), QStringLiteral("list"), QStringLiteral("--help") })
                .exitCode,
            0);
    }

    void deadDiscardNeedsWhyAndYesAndKeepsATrace()
    {
        const QByteArray ann = addDead("ann@acme.io", LeadReason::Blocklisted);
        addDead("bob@acme.io", LeadReason::Blocklisted);
        const QByteArray cy = addDead("cy@acme.io", LeadReason::GaveUp);
        const QStringList discard { QStringLiteral("dead"), QStringLiteral("discard") };

        Run r = sluice(discard
                       + QStringList { QStringLiteral("--reason"), QStringLiteral("blocklisted") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("--why")), qPrintable(r.describe()));
        r = sluice(discard + QStringList { QStringLiteral("--why"), QStringLiteral("x") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("--reason CODE or --id ENTRY")),
                 qPrintable(r.describe()));
        r = sluice(discard
                   + QStringList { QStringLiteral("--reason"), QStringLiteral("blocklisted"),
                                   QStringLiteral("--id"), QString::fromLatin1(cy),
                                   QStringLiteral("--why"), QStringLiteral("x") });
        QCOMPARE(r.exitCode, 2);
        r = sluice(discard
                   + QStringList { QStringLiteral("--id"), QStringLiteral("ann@acme.io"),
                                   QStringLiteral("--why"), QStringLiteral("x") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("not a dead letter's entry id")),
                 qPrintable(r.describe()));
        // Nobody to name: refused, not recorded as an empty name.
        r = sluice(
            discard
                + QStringList { QStringLiteral("--id"), QString::fromLatin1(cy),
                                QStringLiteral("--why"), QStringLiteral("x"),
                                QStringLiteral("--yes") },
            { { QStringLiteral("USER"), QString() }, { QStringLiteral("LOGNAME"), QString() } });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("--who")), qPrintable(r.describe()));
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 3);

        // Without --yes: says what would go, does nothing, exit status 1.
        const QStringList byReason {
            QStringLiteral("--reason"), QStringLiteral("blocklisted"),
            QStringLiteral("--why"),    QStringLiteral("asked not to be contacted"),
            QStringLiteral("--who"),    QStringLiteral("ann.operator")
        };
        r = sluice(discard + byReason);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.out.contains(QLatin1String("would discard 2")), qPrintable(r.describe()));
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 3);

        r = sluice(discard + byReason + QStringList { QStringLiteral("--yes") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QVERIFY2(r.out.contains(QLatin1String("discarded 2")), qPrintable(r.describe()));
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 1);
        const RedisReply trace = command({ "XRANGE", m_keys.discardedDeadLetters(), "-", "+" });
        QCOMPARE(trace.elements().size(), size_t(2));
        QCOMPARE(field(trace.at(0).at(1), "discarded_by"), QByteArray("ann.operator"));
        QCOMPARE(field(trace.at(0).at(1), "discarded_why"),
                 QByteArray("asked not to be contacted"));
        // Newest first: bob's letter went first, ann's second.
        QCOMPARE(field(trace.at(1).at(1), "dead_entry"), ann);
        QVERIFY(command({ "LINDEX", m_keys.journal(QStringLiteral("ann@acme.io")), "0" })
                    .bytes()
                    .contains(R"("kind","discarded")"));

        // By id, with the login name as who.
        r = sluice(discard
                       + QStringList { QStringLiteral("--id"), QString::fromLatin1(cy),
                                       QStringLiteral("--why"), QStringLiteral("duplicate"),
                                       QStringLiteral("--yes") },
                   { { QStringLiteral("USER"), QStringLiteral("bea") } });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 0);
        const RedisReply last
            = command({ "XREVRANGE", m_keys.discardedDeadLetters(), "+", "-", "COUNT", "1" });
        QCOMPARE(field(last.at(0).at(1), "discarded_by"), QByteArray("bea"));
    }

    void retryDeadByReason()
    {
        addDead("ann@acme.io", LeadReason::Blocklisted);
        const QByteArray cy = addDead("cy@acme.io", LeadReason::GaveUp);
        addDead("dee@acme.io", LeadReason::GaveUp);

        Run r = sluice({ QStringLiteral("retry") });
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains(QLatin1String("--dead")), qPrintable(r.describe()));
        r = sluice({ QStringLiteral("retry"), QStringLiteral("--dead"), QStringLiteral("--reason"),
                     QStringLiteral("bogus") });
        QCOMPARE(r.exitCode, 2);

        r = sluice({ QStringLiteral("retry"), QStringLiteral("--dead"), QStringLiteral("--id"),
                     QString::fromLatin1(cy) });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QVERIFY2(r.out.contains(QLatin1String("moved 1")), qPrintable(r.describe()));
        r = sluice({ QStringLiteral("retry"), QStringLiteral("--dead"), QStringLiteral("--reason"),
                     QStringLiteral("gave_up") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QVERIFY2(r.out.contains(QLatin1String("moved 1")), qPrintable(r.describe()));
        QCOMPARE(command({ "XLEN", m_keys.leads() }).integer(), 2);
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 1);
        r = sluice({ QStringLiteral("retry"), QStringLiteral("--dead") });
        QVERIFY2(r.exitCode == 0, qPrintable(r.describe()));
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 0);
    }

    void serveWithoutCloseKeyWarns()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        ServeSetup setup(sandbox.baseUrl(), m_server.url(),
                         { QStringLiteral("--namespace"), m_ns });
        setup.env = { { QStringLiteral("CLOSE_API_KEY"), QString() } };
        ServeProcess serve(setup);
        QVERIFY2(serve.start(), qPrintable(serve.error()));
        QTRY_VERIFY2(serve.log().contains(QLatin1String("CLOSE_API_KEY is not set")),
                     qPrintable(serve.log()));
        QVERIFY(serve.log().contains(QLatin1String("pause dispatching")));
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary(3000)));
    }

private:
    Run sluice(QStringList args, const QList<QPair<QString, QString>> &env = {})
    {
        args << QStringLiteral("--redis") << m_server.url() << QStringLiteral("--namespace")
             << m_ns;
        QProcess p;
        QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
        for (const auto &[name, value] : env)
            e.insert(name, value);
        p.setProcessEnvironment(e);
        p.start(QStringLiteral(SLUICE_BINARY), args);
        Run r;
        if (!p.waitForFinished(30'000)) {
            p.kill();
            p.waitForFinished();
            r.err = QStringLiteral("timed out");
            return r;
        }
        r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        r.out = QString::fromUtf8(p.readAllStandardOutput());
        r.err = QString::fromUtf8(p.readAllStandardError());
        return r;
    }

    QByteArray addDead(const char *email, LeadReason code)
    {
        QueuedLead lead;
        lead.taskId = QStringLiteral("t1");
        lead.campaignName = QStringLiteral("Spring");
        lead.source = QStringLiteral("direct");
        lead.receivedMs = 1;
        lead.attempt = 3;
        lead.lead.email = QString::fromLatin1(email);
        QList<QByteArray> argv { "XADD", m_keys.deadLetters(), "*" };
        argv << lead.toFields() << "reason"
             << "why it died"
             << "code" << leadReasonCode(code) << "dead_ms"
             << QByteArray::number(QDateTime::currentMSecsSinceEpoch());
        return command(argv).bytes();
    }

    static QByteArray field(const RedisReply &fields, const QByteArray &name)
    {
        for (size_t i = 0; i + 1 < fields.elements().size(); i += 2)
            if (fields.at(i).bytes() == name)
                return fields.at(i + 1).bytes();
        return {};
    }

    RedisReply command(const QList<QByteArray> &argv)
    {
        return test::executeOrWarn(*m_redis, argv);
    }

    RedisServer m_server;
    int m_round = 0;
    QString m_ns;
    RedisKeys m_keys;
    std::unique_ptr<RedisClient> m_redis;
};

SLUICE_TEST_GUILESS_MAIN(TestOperatorCli)
#include "tst_operatorcli.moc"
