// How runs read to people and tools: the full report of one run, the `sluice runs` table,
// CSV (RFC 4180 quoting) and JSON exports, and two runs compared side by side.
#include "common/suite.h"
#include "runs/runreport.h"
#include "runs/samplerun.h"

#include <QRegularExpression>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;
using sluice::test::kCreated;
using sluice::test::passingRun;
using sluice::test::sampleRun;

namespace {

/// A strict RFC 4180 reader: records of fields; fails (returns nullopt) on a bare quote
/// inside an unquoted field, text after a closing quote, or a line not ending in CRLF.
std::optional<QList<QStringList>> parseCsv(const QString &text)
{
    QList<QStringList> records;
    QStringList record;
    QString field;
    qsizetype i = 0;
    while (i < text.size()) {
        if (text[i] == QLatin1Char('"')) {
            ++i;
            for (;;) {
                if (i >= text.size())
                    return std::nullopt; // unterminated
                if (text[i] == QLatin1Char('"')) {
                    if (i + 1 < text.size() && text[i + 1] == QLatin1Char('"')) {
                        field += QLatin1Char('"');
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                field += text[i++];
            }
        } else {
            while (i < text.size() && text[i] != QLatin1Char(',') && text[i] != QLatin1Char('\r')
                   && text[i] != QLatin1Char('\n')) {
                if (text[i] == QLatin1Char('"'))
                    return std::nullopt;
                field += text[i++];
            }
        }
        if (i < text.size() && text[i] == QLatin1Char(',')) {
            record.append(field);
            field.clear();
            ++i;
            continue;
        }
        if (text.mid(i, 2) != QLatin1String("\r\n"))
            return std::nullopt;
        record.append(field);
        field.clear();
        records.append(record);
        record.clear();
        i += 2;
    }
    return records;
}

/// The line of `text` that starts with `label` (after indentation), or an empty string.
QString lineStartingWith(const QString &text, const QString &label)
{
    for (const QString &line : text.split(QLatin1Char('\n')))
        if (line.trimmed().startsWith(label))
            return line;
    return QString();
}

/// The cells of a table line: runs of two or more spaces separate them.
QStringList cells(const QString &line)
{
    static const QRegularExpression gap(QStringLiteral("\\s{2,}"));
    return line.trimmed().split(gap);
}

} // namespace

class TestRunReport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void reportShowsEveryPartOfTheRecord()
    {
        const QString text = formatRunReport(sampleRun(QStringLiteral("run-a"), kCreated));
        QVERIFY2(text.startsWith(QStringLiteral("Run run-a: FAIL\n")), qPrintable(text));
        const QStringList expected {
            QStringLiteral("200 (200 leads)"),
            QStringLiteral("TimeoutTest1764408972 (created by the run)"),
            QStringLiteral("the local listener"),
            QStringLiteral("bulk mode, 50 concurrent webhooks, signed, fail-fast off, "
                           "lead-less, looked up in Close"),
            QStringLiteral("acks under 30.0 s, p99 ack at most 1000 ms"),
            QStringLiteral("2025-11-29 09:36:12"),
            QStringLiteral("+120 ms"),
            QStringLiteral("+4.3 s"),
            QStringLiteral("+25.1 s"),
            QStringLiteral("+31.0 s"),
            QStringLiteral("200 sent, 200 acknowledged, 0 failed"),
            QStringLiteral("p50 12.3  p95 40.1  p99 88.0  max 120.5  (200 samples)"),
            QStringLiteral("46.5"),
            QStringLiteral("4 of 10 allowed"),
            QStringLiteral("5 of 600 allowed"),
            QStringLiteral("Verify (2025-11-29 09:36:52 UTC): NOT CLEAN"),
            QStringLiteral("2: lance+1764408972+17@whiteboardgeeks.com, "
                           "lance+1764408972+99@whiteboardgeeks.com"),
            QStringLiteral("Cleanup (2025-11-29 09:37:12 UTC)"),
            QStringLiteral("Verdict: FAIL (failing: all delivered)"),
        };
        for (const QString &part : expected)
            QVERIFY2(text.contains(part),
                     qPrintable(part + QStringLiteral(" missing in:\n") + text));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("delivered "))),
                 (QStringList { QStringLiteral("delivered"), QStringLiteral("198") }));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("skipped"))).value(1),
                 QStringLiteral("2"));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("dead-lettered"))).value(1),
                 QStringLiteral("0"));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("retries"))).value(1),
                 QStringLiteral("1"));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("requests"))).value(1),
                 QStringLiteral("5"));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("429s"))).value(1),
                 QStringLiteral("0"));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("breaker trips"))).value(1),
                 QStringLiteral("0"));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("remaining"))).value(1),
                 QStringLiteral("0"));
        // Each check on its own line, with its result and detail.
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("FAIL"))),
                 (QStringList { QStringLiteral("FAIL"), QStringLiteral("all delivered"),
                                QStringLiteral("2 of 200 missing") }));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("PASS  acks"))),
                 (QStringList { QStringLiteral("PASS"), QStringLiteral("acks under 30 s"),
                                QStringLiteral("max 120.5 ms") }));
        QCOMPARE(text.count(QStringLiteral("PASS  ")), 3);
    }

    void reportSaysWhatIsMissingOrWrong()
    {
        RunRecord r = sampleRun(QStringLiteral("run-b"), kCreated);
        r.state = RunRecord::State::Firing;
        r.finishedMs = 0;
        r.verify.reset();
        r.cleanup.reset();
        r.checks.clear();
        r.worst1s = 12;
        r.definition.target = QUrl(QStringLiteral("https://hooks.example.com/instantly/add_lead"));
        const QString text = formatRunReport(r);
        QVERIFY2(text.startsWith(QStringLiteral("Run run-b: UNFINISHED\n")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("12 of 10 allowed  OVER THE CAP")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("Verify: not run")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("Cleanup: not run")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("Checks: none recorded")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("Verdict: UNFINISHED (state firing)")),
                 qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral("https://hooks.example.com/instantly/add_lead")),
                 qPrintable(text));
        QCOMPARE(cells(lineStartingWith(text, QStringLiteral("finished"))).value(1),
                 QStringLiteral("-"));

        r.state = RunRecord::State::Aborted;
        r.stopReason = QStringLiteral("fail-fast: webhook 17 answered 503");
        const QString aborted = formatRunReport(r);
        QVERIFY2(aborted.contains(QStringLiteral("Verdict: ABORTED\n")), qPrintable(aborted));
        QVERIFY2(aborted.contains(QStringLiteral("Stopped: fail-fast: webhook 17 answered 503")),
                 qPrintable(aborted));
    }

    void verdictWords_data()
    {
        QTest::addColumn<int>("state");
        QTest::addColumn<bool>("passed");
        QTest::addColumn<QString>("verdict");
        QTest::newRow("passed") << int(RunRecord::State::Finished) << true
                                << QStringLiteral("PASS");
        QTest::newRow("failed") << int(RunRecord::State::Finished) << false
                                << QStringLiteral("FAIL");
        QTest::newRow("aborted") << int(RunRecord::State::Aborted) << false
                                 << QStringLiteral("ABORTED");
        // `passed` is only what the checks said so far: no verdict before the end.
        QTest::newRow("delivering")
            << int(RunRecord::State::Delivering) << true << QStringLiteral("UNFINISHED");
    }
    void verdictWords()
    {
        QFETCH(int, state);
        QFETCH(bool, passed);
        QFETCH(QString, verdict);
        RunRecord r;
        r.state = RunRecord::State(state);
        r.passed = passed;
        QCOMPARE(runVerdict(r), verdict);
    }

    void tableHasAnAlignedLinePerRun()
    {
        RunRecord unfinished = sampleRun(QStringLiteral("run-20251129-100000-cccc"), kCreated + 2);
        unfinished.state = RunRecord::State::Delivering;
        unfinished.finishedMs = 0;
        unfinished.ack = {};
        unfinished.definition.stage = QStringLiteral("smoke");
        unfinished.definition.leads = 2000;
        const std::vector<RunRecord> runs {
            unfinished, passingRun(QStringLiteral("run-20251129-093612-bbbb"), kCreated + 1),
            sampleRun(QStringLiteral("run-20251129-093612-aaaa"), kCreated)
        };
        const QString table = formatRunTable(runs);
        const QStringList lines = table.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 4);
        QCOMPARE(cells(lines[0]),
                 (QStringList { QStringLiteral("ID"), QStringLiteral("STAGE"),
                                QStringLiteral("LEADS"), QStringLiteral("CREATED (UTC)"),
                                QStringLiteral("DURATION"), QStringLiteral("P99 ACK"),
                                QStringLiteral("DELIVERED"), QStringLiteral("VERDICT") }));
        QCOMPARE(cells(lines[1]),
                 (QStringList { QStringLiteral("run-20251129-100000-cccc"), QStringLiteral("smoke"),
                                QStringLiteral("2000"), QStringLiteral("2025-11-29 09:36:12"),
                                QStringLiteral("-"), QStringLiteral("-"),
                                QStringLiteral("198/2000"), QStringLiteral("UNFINISHED") }));
        QCOMPARE(cells(lines[2]),
                 (QStringList { QStringLiteral("run-20251129-093612-bbbb"), QStringLiteral("200"),
                                QStringLiteral("200"), QStringLiteral("2025-11-29 09:36:12"),
                                QStringLiteral("31.0 s"), QStringLiteral("88.0 ms"),
                                QStringLiteral("200/200"), QStringLiteral("PASS") }));
        QCOMPARE(cells(lines[3]).last(), QStringLiteral("FAIL"));
        // Columns line up: the verdict starts at the same place on every line.
        const qsizetype column = lines[0].indexOf(QStringLiteral("VERDICT"));
        QCOMPARE(lines[1].indexOf(QStringLiteral("UNFINISHED")), column);
        QCOMPARE(lines[2].indexOf(QStringLiteral("PASS")), column);
        QCOMPARE(lines[3].indexOf(QStringLiteral("FAIL")), column);
        for (const QString &line : lines)
            QVERIFY2(!line.endsWith(QLatin1Char(' ')), qPrintable(line));
    }

    void csvFieldsAreQuotedOnlyWhenNeeded_data()
    {
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("field");
        QTest::newRow("plain") << QStringLiteral("TimeoutTest1") << QStringLiteral("TimeoutTest1");
        QTest::newRow("empty") << QString() << QString();
        QTest::newRow("comma") << QStringLiteral("a,b") << QStringLiteral("\"a,b\"");
        QTest::newRow("quote") << QStringLiteral("say \"hi\"")
                               << QStringLiteral("\"say \"\"hi\"\"\"");
        QTest::newRow("newline") << QStringLiteral("one\ntwo") << QStringLiteral("\"one\ntwo\"");
        QTest::newRow("carriage return") << QStringLiteral("one\r") << QStringLiteral("\"one\r\"");
        QTest::newRow("spaces stay") << QStringLiteral(" padded ") << QStringLiteral(" padded ");
    }
    void csvFieldsAreQuotedOnlyWhenNeeded()
    {
        QFETCH(QString, value);
        QFETCH(QString, field);
        QCOMPARE(csvField(value), field);
    }

    void csvExportIsFlatAndRoundTrips()
    {
        RunRecord tricky = sampleRun(QStringLiteral("run-tricky"), kCreated + 1);
        tricky.definition.campaign = QStringLiteral("Q4, \"big\" push\nline two");
        tricky.stopReason = QStringLiteral("fail-fast: 503, \"busy\"");
        RunRecord bare = passingRun(QStringLiteral("run-bare"), kCreated);
        bare.verify.reset();
        bare.cleanup.reset();

        const QByteArray csv = runsToCsv({ tricky, bare });
        QVERIFY(csv.endsWith("\r\n"));
        const auto records = parseCsv(QString::fromUtf8(csv));
        QVERIFY2(records.has_value(), csv.constData());
        QCOMPARE(records->size(), 3);
        const QStringList header = records->at(0);
        for (const QStringList &row : *records)
            QCOMPARE(row.size(), header.size());
        const auto field = [&](int row, const char *column) {
            const qsizetype index = header.indexOf(QLatin1String(column));
            return index < 0 ? QStringLiteral("<no column %1>").arg(QLatin1String(column))
                             : records->at(row).at(index);
        };
        QCOMPARE(field(1, "id"), QStringLiteral("run-tricky"));
        QCOMPARE(field(1, "campaign"), tricky.definition.campaign);
        QCOMPARE(field(1, "stop_reason"), tricky.stopReason);
        QCOMPARE(field(1, "verdict"), QStringLiteral("FAIL"));
        QCOMPARE(field(1, "failed_checks"), QStringLiteral("all delivered"));
        QCOMPARE(field(1, "created_utc"), QStringLiteral("2025-11-29T09:36:12.001Z"));
        QCOMPARE(field(1, "duration_ms"), QStringLiteral("31000"));
        QCOMPARE(field(1, "ack_p50_ms"), QStringLiteral("12.345"));
        QCOMPARE(field(1, "ack_p99_ms"), QStringLiteral("88.000"));
        QCOMPARE(field(1, "delivered"), QStringLiteral("198"));
        QCOMPARE(field(1, "worst_1s"), QStringLiteral("4"));
        QCOMPARE(field(1, "cap_60s"), QStringLiteral("600"));
        QCOMPARE(field(1, "verify_missing"), QStringLiteral("2"));
        QCOMPARE(field(1, "cleanup_remaining"), QStringLiteral("0"));
        QCOMPARE(field(2, "verdict"), QStringLiteral("PASS"));
        QCOMPARE(field(2, "failed_checks"), QString());
        // Never measured is empty, not 0.
        QCOMPARE(field(2, "verify_missing"), QString());
        QCOMPARE(field(2, "cleanup_remaining"), QString());

        const auto empty = parseCsv(QString::fromUtf8(runsToCsv({})));
        QVERIFY(empty.has_value());
        QCOMPARE(empty->size(), 1);
        QCOMPARE(empty->at(0), header);
    }

    void jsonExportIsAnArrayOfRecords()
    {
        const std::vector<RunRecord> runs { sampleRun(QStringLiteral("run-a"), kCreated),
                                            passingRun(QStringLiteral("run-b"), kCreated + 1) };
        const auto array = nlohmann::json::parse(runsToJson(runs).toStdString());
        QVERIFY(array.is_array());
        QCOMPARE(array.size(), size_t(2));
        QVERIFY(array[0] == toJson(runs[0]));
        QVERIFY(array[1] == toJson(runs[1]));
        QVERIFY(runRecordFromJson(array[1]).has_value());
        QCOMPARE(runsToJson({}).trimmed(), QByteArray("[]"));
    }

    void comparisonShowsBothRunsAndTheChange()
    {
        const RunRecord a = sampleRun(QStringLiteral("run-a"), kCreated);
        RunRecord b = passingRun(QStringLiteral("run-b"), kCreated + 3'600'000);
        b.ack.p99 = 120'000;
        b.upstream429 = 2;
        b.checks.push_back({ QStringLiteral("429s at most 0"), false, QStringLiteral("2") });
        const QString text = formatRunComparison(a, b);
        QVERIFY2(text.startsWith(QStringLiteral("A: run-a\nB: run-b\n")), qPrintable(text));

        const auto row = [&](const QString &metric) {
            return cells(lineStartingWith(text, metric + QStringLiteral("  ")));
        };
        QCOMPARE(row(QStringLiteral("METRIC")),
                 (QStringList { QStringLiteral("METRIC"), QStringLiteral("RUN A"),
                                QStringLiteral("RUN B"), QStringLiteral("CHANGE") }));
        QCOMPARE(row(QStringLiteral("verdict")),
                 (QStringList { QStringLiteral("verdict"), QStringLiteral("FAIL"),
                                QStringLiteral("PASS"), QStringLiteral("now PASS") }));
        QCOMPARE(row(QStringLiteral("ack p99 (ms)")),
                 (QStringList { QStringLiteral("ack p99 (ms)"), QStringLiteral("88.0"),
                                QStringLiteral("120.0"), QStringLiteral("+32.0 (+36.4%)") }));
        QCOMPARE(row(QStringLiteral("delivered")),
                 (QStringList { QStringLiteral("delivered"), QStringLiteral("198"),
                                QStringLiteral("200"), QStringLiteral("+2 (+1.0%)") }));
        QCOMPARE(row(QStringLiteral("skipped")),
                 (QStringList { QStringLiteral("skipped"), QStringLiteral("2"), QStringLiteral("0"),
                                QStringLiteral("-2 (-100.0%)") }));
        // From zero there is no percentage.
        QCOMPARE(row(QStringLiteral("429s")),
                 (QStringList { QStringLiteral("429s"), QStringLiteral("0"), QStringLiteral("2"),
                                QStringLiteral("+2") }));
        QCOMPARE(row(QStringLiteral("leads")),
                 (QStringList { QStringLiteral("leads"), QStringLiteral("200"),
                                QStringLiteral("200"), QStringLiteral("same") }));
        QCOMPARE(row(QStringLiteral("id")),
                 (QStringList { QStringLiteral("id"), QStringLiteral("run-a"),
                                QStringLiteral("run-b"), QStringLiteral("differs") }));
        QCOMPARE(row(QStringLiteral("check: all delivered")),
                 (QStringList { QStringLiteral("check: all delivered"), QStringLiteral("FAIL"),
                                QStringLiteral("PASS"), QStringLiteral("now PASS") }));
        QCOMPARE(row(QStringLiteral("mode")),
                 (QStringList { QStringLiteral("mode"), QStringLiteral("bulk"),
                                QStringLiteral("bulk"), QStringLiteral("same") }));
        QCOMPARE(row(QStringLiteral("check: acks under 30 s")),
                 (QStringList { QStringLiteral("check: acks under 30 s"), QStringLiteral("PASS"),
                                QStringLiteral("PASS"), QStringLiteral("same") }));
        // A check only B made: A has no value, so there is no change to name.
        QCOMPARE(row(QStringLiteral("check: 429s at most 0")),
                 (QStringList { QStringLiteral("check: 429s at most 0"), QStringLiteral("-"),
                                QStringLiteral("FAIL") }));
        QCOMPARE(row(QStringLiteral("verify: missing")),
                 (QStringList { QStringLiteral("verify: missing"), QStringLiteral("2"),
                                QStringLiteral("0"), QStringLiteral("-2 (-100.0%)") }));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestRunReport)
#include "tst_runreport.moc"
