// The intake's parts without servers: the metrics registry's text format, the spool's
// durability rules (reopen, torn lines, offsets), spool lines round-tripping a batch, and the
// options' problems.
#include "close/closewebhook.h"
#include "common/suite.h"
#include "intake/intakebatch.h"
#include "intake/intakeoptions.h"
#include "intake/spool.h"
#include "intake/webhookexchange.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"
#include "telemetry/metrics.h"

#include <QFile>
#include <QTemporaryDir>
#include <QTest>

using namespace sluice;

class TestIntakeUnits : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void metricsRenderTheTextFormat()
    {
        Metrics metrics;
        MetricCounter &accepted = metrics.counter("x_accepted_total", "Accepted.");
        accepted.increment();
        accepted.increment(2);
        metrics.counter("x_rejected_total", "Rejected by reason.", { { "reason", "bad" } })
            .increment();
        metrics.counter("x_rejected_total", "Rejected by reason.", { { "reason", "a\"b\\c" } });
        // The same name and labels is the same series.
        QCOMPARE(&metrics.counter("x_accepted_total", "Accepted."), &accepted);
        metrics.gauge("x_depth", "Depth.").set(4.5);
        metrics.addGaugeCallback("x_up", "Up.", [] { return 1.0; });
        MetricHistogram &h = metrics.histogram("x_seconds", "Latency.", { 0.01, 0.1, 1 });
        h.observe(0.005);
        h.observe(0.01); // on a bound: counted in that bucket (le)
        h.observe(0.5);
        h.observe(7);

        const QByteArray text = metrics.render();
        const QByteArray expected = "# HELP x_accepted_total Accepted.\n"
                                    "# TYPE x_accepted_total counter\n"
                                    "x_accepted_total 3\n"
                                    "# HELP x_rejected_total Rejected by reason.\n"
                                    "# TYPE x_rejected_total counter\n"
                                    "x_rejected_total{reason=\"bad\"} 1\n"
                                    "x_rejected_total{reason=\"a\\\"b\\\\c\"} 0\n"
                                    "# HELP x_depth Depth.\n"
                                    "# TYPE x_depth gauge\n"
                                    "x_depth 4.5\n"
                                    "# HELP x_up Up.\n"
                                    "# TYPE x_up gauge\n"
                                    "x_up 1\n"
                                    "# HELP x_seconds Latency.\n"
                                    "# TYPE x_seconds histogram\n"
                                    "x_seconds_bucket{le=\"0.01\"} 2\n"
                                    "x_seconds_bucket{le=\"0.1\"} 2\n"
                                    "x_seconds_bucket{le=\"1\"} 3\n"
                                    "x_seconds_bucket{le=\"+Inf\"} 4\n"
                                    "x_seconds_sum 7.515\n"
                                    "x_seconds_count 4\n";
        QCOMPARE(text, expected);
    }

    void spoolKeepsLinesAcrossReopen()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("sub/spool.jsonl"));
        {
            Spool spool(path);
            QVERIFY2(spool.open(), qPrintable(spool.errorString()));
            QVERIFY(spool.isEmpty());
            QVERIFY(spool.append("one"));
            QVERIFY(spool.append("two"));
            QVERIFY(spool.append("three"));
            QCOMPARE(spool.depth(), 3);
            QVERIFY(spool.popFront());
            QCOMPARE(spool.front(), QByteArray("two"));
        }
        {
            // The popped line stays popped; the rest comes back in order.
            Spool spool(path);
            QVERIFY(spool.open());
            QCOMPARE(spool.depth(), 2);
            QCOMPARE(spool.front(), QByteArray("two"));
            QVERIFY(spool.popFront());
            QVERIFY(spool.popFront());
            QVERIFY(spool.isEmpty());
            QCOMPARE(QFileInfo(path).size(), 0); // emptied once drained
            QVERIFY(spool.append("four"));
        }
        Spool spool(path);
        QVERIFY(spool.open());
        QCOMPARE(spool.depth(), 1);
        QCOMPARE(spool.front(), QByteArray("four"));
    }

    void spoolCutsATornLineAndAStaleOffset()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("spool.jsonl"));
        QFile raw(path);
        QVERIFY(raw.open(QIODevice::WriteOnly));
        raw.write("whole\nhalf a li"); // a crash in the middle of append()
        raw.close();
        QFile offset(path + QStringLiteral(".offset"));
        QVERIFY(offset.open(QIODevice::WriteOnly));
        offset.write("999\n"); // beyond the end: the file was emptied, the offset not yet reset
        offset.close();
        {
            Spool spool(path);
            QVERIFY(spool.open());
            QCOMPARE(spool.depth(), 1);
            QCOMPARE(spool.front(), QByteArray("whole"));
            QVERIFY(spool.append("next"));
        }
        QVERIFY(raw.open(QIODevice::ReadOnly));
        QCOMPARE(raw.readAll(), QByteArray("whole\nnext\n"));
    }

    void spoolThatCannotBeCreated()
    {
        QTemporaryDir dir;
        QFile file(dir.filePath(QStringLiteral("file")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.close();
        Spool spool(dir.filePath(QStringLiteral("file/spool.jsonl")));
        QVERIFY(!spool.open());
        QVERIFY(!spool.errorString().isEmpty());
        QVERIFY(!spool.append("x"));
        QVERIFY(spool.isEmpty());
    }

    void batchRoundTripsThroughASpoolLine_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("entries");
        QTest::newRow("direct batch")
            << QByteArray("{\"campaign\":\"Spring \\\"26\\\"\",\"leads\":[{\"email\":\"a@b.co\","
                          "\"first_name\":\"\u00c4\",\"custom_variables\":{\"n\":3}},"
                          "{\"email\":\"c@d.co\"}]}")
            << 2;
        QTest::newRow("Close lookup")
            << QByteArray("{\"subscription_id\":\"s\",\"event\":{\"id\":\"ev_1\","
                          "\"object_type\":\"task.lead\",\"action\":\"created\","
                          "\"lead_id\":\"lead_1\",\"data\":{\"text\":\"Instantly: X\","
                          "\"lead_id\":\"lead_1\"}}}")
            << 1;
        QTest::newRow("Close lookup naming its task")
            << QByteArray("{\"subscription_id\":\"s\",\"event\":{\"id\":\"ev_2\","
                          "\"object_type\":\"task.lead\",\"action\":\"created\","
                          "\"object_id\":\"task_2\",\"lead_id\":\"lead_1\",\"data\":"
                          "{\"text\":\"Instantly: X\",\"lead_id\":\"lead_1\"}}}")
            << 1;
    }
    void batchRoundTripsThroughASpoolLine()
    {
        QFETCH(QByteArray, body);
        QFETCH(int, entries);
        const auto parsed = parseIntakeBody(body);
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error().message()));
        const IntakeBatch batch = IntakeBatch::fromRequest(parsed.value(), newTaskId(),
                                                           QStringLiteral("direct:k"), 1234);
        QCOMPARE(batch.entries.size(), entries);
        const QByteArray line = batch.toJsonLine();
        QVERIFY(!line.contains('\n'));
        const auto back = IntakeBatch::fromJsonLine(line);
        QVERIFY(back.has_value());
        QCOMPARE(back->taskId, batch.taskId);
        QCOMPARE(back->campaign, batch.campaign);
        QCOMPARE(back->source, batch.source);
        QCOMPARE(back->dedupeId, batch.dedupeId);
        // The Close task marker survives the spool, so a replay writes it too.
        QCOMPARE(back->closeTaskId, parsed.value().closeTaskId);
        const RedisKeys keys(QStringLiteral("units"));
        QCOMPARE(back->scriptKeys(keys).contains(keys.closeTask(QStringLiteral("task_2"))),
                 parsed.value().closeTaskId == QLatin1String("task_2"));
        QCOMPARE(back->createdMs, 1234);
        QCOMPARE(back->entries, batch.entries);
        // A spooled line names each lead for the journal as the parsed request did.
        QCOMPARE(batch.identities.size(), entries);
        QVERIFY(!batch.identities.first().isEmpty());
        QCOMPARE(back->identities, batch.identities);
        const auto lead = QueuedLead::fromFields(back->entries.first());
        QVERIFY(lead.ok());
        QCOMPARE(lead->taskId, batch.taskId);

        QVERIFY(!IntakeBatch::fromJsonLine("{\"task\":\"x\"}").has_value());
        QVERIFY(!IntakeBatch::fromJsonLine("not json").has_value());
    }

    void theWebhookLogIsBoundedInBytes()
    {
        // 1000 exchanges of 256 KiB bodies would be 256 MiB: past its budget the log keeps
        // only the head of each new body, and says how much came.
        const qint64 budget = 8 * 1024 * 1024;
        WebhookLog log(1000, budget);
        for (int i = 0; i < 3000; ++i) {
            WebhookExchange e;
            e.seq = quint64(i);
            e.body = QByteArray(WebhookExchange::kMaxBody, 'x');
            e.bodySize = 1'000'000;
            e.response = "{\"task_id\":\"t\"}";
            log.push(std::move(e));
            QVERIFY2(log.bytes() <= budget + 1000 * (WebhookLog::kTrimmedBody + 64),
                     qPrintable(QString::number(log.bytes())));
        }
        QCOMPARE(log.size(), size_t(1000));
        QCOMPARE(log.back().seq, quint64(2999));
        QCOMPARE(log.back().body.size(), WebhookLog::kTrimmedBody);
        QCOMPARE(log.back().bodySize, 1'000'000);
        // The accounting follows what is kept: the sum over the entries.
        qint64 sum = 0;
        for (size_t i = 0; i < log.size(); ++i)
            sum += WebhookLog::bytesOf(log.at(i));
        QCOMPARE(log.bytes(), sum);
        // Small bodies are never trimmed.
        WebhookExchange small;
        small.body = "{}";
        QCOMPARE(log.push(small).body, QByteArray("{}"));
    }

    void taskIdsAreUrlSafeAndDistinct()
    {
        const QString a = newTaskId();
        QCOMPARE(a.size(), 32);
        QVERIFY(QRegularExpression(QStringLiteral("^[0-9a-f]{32}$")).match(a).hasMatch());
        QVERIFY(a != newTaskId());
    }

    void optionsProblems_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<bool>("allowRemote");
        QTest::addColumn<QByteArray>("secret");
        QTest::addColumn<qint64>("maxBody");
        QTest::addColumn<QString>("problemPart"); // empty: no problem
        QTest::newRow("defaults") << QStringLiteral("127.0.0.1") << false << QByteArray()
                                  << qint64(1 << 20) << QString();
        QTest::newRow("IPv6 loopback")
            << QStringLiteral("::1") << false << QByteArray("00ff") << qint64(1 << 20) << QString();
        QTest::newRow("remote without the flag")
            << QStringLiteral("0.0.0.0") << false << QByteArray() << qint64(1 << 20)
            << QStringLiteral("--allow-remote");
        QTest::newRow("remote with the flag")
            << QStringLiteral("0.0.0.0") << true << QByteArray() << qint64(1 << 20) << QString();
        QTest::newRow("secret not hex")
            << QStringLiteral("127.0.0.1") << false << QByteArray("sekrit-zz") << qint64(1 << 20)
            << QStringLiteral("not hex");
        QTest::newRow("no body allowed") << QStringLiteral("127.0.0.1") << false << QByteArray()
                                         << qint64(0) << QStringLiteral("body limit");
    }
    void optionsProblems()
    {
        QFETCH(QString, address);
        QFETCH(bool, allowRemote);
        QFETCH(QByteArray, secret);
        QFETCH(qint64, maxBody);
        QFETCH(QString, problemPart);
        IntakeOptions options;
        QCOMPARE(options.address, QHostAddress(QHostAddress::LocalHost));
        QCOMPARE(options.port, 8080);
        options.address = QHostAddress(address);
        options.allowRemote = allowRemote;
        options.webhookSecret = secret;
        options.maxBodyBytes = maxBody;
        const auto problem = options.problem();
        if (problemPart.isEmpty()) {
            QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
            return;
        }
        QVERIFY(problem.has_value());
        QVERIFY2(problem->contains(problemPart), qPrintable(*problem));
        if (!secret.isEmpty())
            QVERIFY(!problem->contains(QString::fromLatin1(secret)));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestIntakeUnits)
#include "tst_intakeunits.moc"
