// The backfill's pure rules: which listed Close tasks are ours (the webhook path's reading of
// the text), which are refused and why, the --since forms, and the Close date-times the task
// listing answers with. No I/O.
#include "close/closetask.h"
#include "common/suite.h"
#include "intake/backfill.h"

#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;

namespace {

CloseTask backfillTask(const char *id, const char *lead, const char *text,
                       const char *type = "lead")
{
    return { QString::fromLatin1(id), QString::fromLatin1(type), QString::fromLatin1(lead),
             QString::fromUtf8(text), QDateTime(QDate(2026, 12, 7), QTime(6, 0), Qt::UTC) };
}

} // namespace

class TestBackfillPlan : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void sortsListedTasks()
    {
        const std::vector<CloseTask> tasks {
            backfillTask("task_1", "lead_1", "Instantly: Spring"),
            backfillTask("task_2", "lead_2", "  INSTANTLY:  Autumn Push  "),
            backfillTask("task_3", "lead_3", "Call back"),
            backfillTask("task_4", "lead_4", "Instantly:"),
            backfillTask("task_5", "not-a-lead", "Instantly: Spring"),
            backfillTask("task_6", "lead_6", "Instantly: Spring", "missed_call"),
        };
        const QDateTime since(QDate(2026, 12, 7), QTime(0, 0), Qt::UTC);
        const BackfillPlan plan = sortBackfillTasks(tasks, since);
        QCOMPARE(plan.since, since);
        QCOMPARE(plan.listed, 5); // the missed call is no lead task
        QCOMPARE(plan.notOurs, 1);
        QCOMPARE(int(plan.toQueue.size()), 2);
        QCOMPARE(plan.toQueue[0].closeTaskId, QStringLiteral("task_1"));
        QCOMPARE(plan.toQueue[0].campaign, QStringLiteral("Spring"));
        QCOMPARE(plan.toQueue[1].campaign, QStringLiteral("Autumn Push"));
        QCOMPARE(plan.toQueue[1].closeLeadId, QStringLiteral("lead_2"));
        QCOMPARE(plan.refused.size(), 2);
        QVERIFY2(plan.refused[0].startsWith(QLatin1String("task_4: task text")),
                 qPrintable(plan.refused[0]));
        QVERIFY2(plan.refused[1].contains(QLatin1String("not a Close lead id")),
                 qPrintable(plan.refused[1]));
        QVERIFY(plan.alreadySeen.empty());
    }

    void sinceForms_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QDateTime>("expected"); // invalid: refused
        const QDateTime now(QDate(2026, 12, 7), QTime(12, 0), Qt::UTC);
        auto row = [](const char *name, const char *text, const QDateTime &at) {
            QTest::newRow(name) << QString::fromLatin1(text) << at;
        };
        row("hours", "6h", now.addSecs(-6 * 3600));
        row("days", "2d", now.addDays(-2));
        row("minutes", "90m", now.addSecs(-90 * 60));
        row("zulu", "2026-12-07T06:00:00Z", QDateTime(QDate(2026, 12, 7), QTime(6, 0), Qt::UTC));
        row("offset", "2026-12-07T08:00:00+02:00",
            QDateTime(QDate(2026, 12, 7), QTime(6, 0), Qt::UTC));
        row("no offset is UTC", "2026-12-07T06:00",
            QDateTime(QDate(2026, 12, 7), QTime(6, 0), Qt::UTC));
        row("a date", "2026-12-06", QDateTime(QDate(2026, 12, 6), QTime(0, 0), Qt::UTC));
        row("future", "2026-12-08T00:00:00Z", QDateTime());
        row("zero", "0h", QDateTime());
        row("words", "yesterday", QDateTime());
        row("empty", "", QDateTime());
        row("impossible", "2026-02-30T00:00:00Z", QDateTime());
    }
    void sinceForms()
    {
        QFETCH(QString, text);
        QFETCH(QDateTime, expected);
        const auto since
            = parseBackfillSince(text, QDateTime(QDate(2026, 12, 7), QTime(12, 0), Qt::UTC));
        QCOMPARE(since.ok(), expected.isValid());
        if (since.ok())
            QCOMPARE(since.value(), expected);
        else
            QVERIFY(!since.error().isEmpty());
    }

    void closeDateTimesRoundTrip()
    {
        const auto at = parseCloseDateTime(QStringLiteral("2026-12-07T06:00:00.123456+00:00"));
        QVERIFY(at);
        QCOMPARE(at->toMSecsSinceEpoch() % 1000, 123);
        QCOMPARE(closeDateTimeText(*at), QStringLiteral("2026-12-07T06:00:00.123000+00:00"));
        QCOMPARE(parseCloseDateTime(closeDateTimeText(*at)), at);
        QVERIFY(!parseCloseDateTime(QStringLiteral("2026-12-07T25:00:00Z")));
    }

    void readsATaskPage()
    {
        const auto page = parseCloseTaskPage(
            R"({"data": [{"id": "task_1", "_type": "lead", "lead_id": "lead_1",
                "text": "Instantly: A", "date_created": "2026-12-07T06:00:00.000000+00:00"}],
                "has_more": true})");
        QVERIFY(page.ok());
        QCOMPARE(page.value().hasMore, true);
        QCOMPARE(page.value().tasks.at(0).leadId, QStringLiteral("lead_1"));
        QVERIFY(!parseCloseTaskPage(R"({"data": []})").ok()); // no has_more
        QVERIFY(!parseCloseTaskPage(R"({"data": [{"id": "task_1"}], "has_more": false})").ok());
        QVERIFY(!parseCloseTaskPage("not json").ok());
    }
};

SLUICE_TEST_APPLESS_MAIN(TestBackfillPlan)
#include "tst_backfillplan.moc"
