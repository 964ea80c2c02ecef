// The operator's side of "no silent loss" against a real redis-server: dead letters counted
// per reason (and the memo that keeps it cheap staying right as letters come and go), retried
// by reason or by id with the task counters fixed, discarded only with who and why and with a
// trace (the discarded stream and the lead's journal), and the fleet's pause read back whole.
#include "common/suite.h"
#include "control/operatorcontrol.h"
#include "journal/leadjournal.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"

#include <QTest>

#include <optional>

using namespace sluice;
using sluice::test::RedisServer;

namespace {

template<typename T> struct ControlAnswer
{
    std::optional<Result<T, RedisError>> result;
    std::function<void(Result<T, RedisError>)> callback()
    {
        return [this](Result<T, RedisError> r) { result.emplace(std::move(r)); };
    }
};

/// Why a result failed, or nothing (QVERIFY2 evaluates its message even when it passes).
template<typename T> QString problem(const Result<T, RedisError> &r)
{
    return r.ok() ? QString() : r.error().describe();
}

QByteArray fieldOf(const RedisReply &fields, const QByteArray &name)
{
    for (size_t i = 0; i + 1 < fields.elements().size(); i += 2)
        if (fields.at(i).bytes() == name)
            return fields.at(i + 1).bytes();
    return {};
}

} // namespace

class TestOperatorControl : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_keys = RedisKeys(QStringLiteral("operator%1").arg(m_round));
        RedisOptions redis;
        redis.url = m_server.url();
        m_redis = std::make_unique<RedisClient>(redis);
        m_redis->connectToServer();
        m_control = std::make_unique<OperatorControl>(m_redis.get(), m_keys, nullptr);
    }

    void cleanup()
    {
        m_control.reset();
        m_redis.reset();
    }

    void countsAreGroupedByReasonInTheConsoleOrder()
    {
        QVERIFY(counts().empty());
        addDead("a@x.io", "t1", LeadReason::InvalidEmail, 1000);
        addDead("b@x.io", "t1", LeadReason::Blocklisted, 2000);
        addDead("c@x.io", "t1", LeadReason::InvalidEmail, 3000);
        addDead("d@x.io", "t1", std::nullopt, 500); // before codes existed: Unknown
        auto c = counts();
        QCOMPARE(c.size(), size_t(3));
        // allLeadReasons() order: Blocklisted before InvalidEmail, Unknown last.
        QCOMPARE(c[0].code, LeadReason::Blocklisted);
        QCOMPARE(c[0].count, 1);
        QCOMPARE(c[0].newestMs, 2000);
        QCOMPARE(c[1].code, LeadReason::InvalidEmail);
        QCOMPARE(c[1].count, 2);
        QCOMPARE(c[1].newestMs, 3000);
        QCOMPARE(c[2].code, LeadReason::Unknown);
        QCOMPARE(c[2].count, 1);

        // The memo follows the stream: appended, removed behind the scripts' back, emptied.
        addDead("e@x.io", "t1", LeadReason::GaveUp, 4000);
        c = counts();
        QCOMPARE(c.size(), size_t(4));
        QCOMPARE(c[2].code, LeadReason::GaveUp);
        const RedisReply first
            = command({ "XRANGE", m_keys.deadLetters(), "-", "+", "COUNT", "1" });
        QCOMPARE(command({ "XDEL", m_keys.deadLetters(), first.at(0).at(0).bytes() }).integer(), 1);
        c = counts();
        QCOMPARE(c[1].code, LeadReason::InvalidEmail);
        QCOMPARE(c[1].count, 1);
        // Removed one and added one: same length, another last id; still right.
        addDead("f@x.io", "t1", LeadReason::InvalidEmail, 5000);
        c = counts();
        QCOMPARE(c[1].count, 2);
        QCOMPARE(c[1].newestMs, 5000);
        QCOMPARE(command({ "DEL", m_keys.deadLetters() }).integer(), 1);
        QVERIFY(counts().empty());
        QCOMPARE(command({ "EXISTS", m_keys.deadLetterCounts() }).integer(), 0);
    }

    void retryByReasonMovesOnlyThatReasonAndFixesTheTask()
    {
        makeTask("t1", 3, 3);
        addDead("a@x.io", "t1", LeadReason::InvalidEmail, 1000);
        addDead("b@x.io", "t1", LeadReason::Blocklisted, 2000);
        addDead("c@x.io", "t1", LeadReason::InvalidEmail, 3000);

        ControlAnswer<int> moved;
        m_control->retryDeadLettersWithReason(LeadReason::InvalidEmail, 100, moved.callback());
        QTRY_VERIFY(moved.result.has_value());
        QVERIFY(moved.result->ok());
        QCOMPARE(moved.result->value(), 2);

        const auto c = counts();
        QCOMPARE(c.size(), size_t(1));
        QCOMPARE(c[0].code, LeadReason::Blocklisted);
        const RedisReply leads = command({ "XRANGE", m_keys.leads(), "-", "+" });
        QCOMPARE(leads.elements().size(), size_t(2));
        for (const RedisReply &e : leads.elements()) {
            QCOMPARE(fieldOf(e.at(1), "attempt"), QByteArray("0"));
            QCOMPARE(fieldOf(e.at(1), "code"), QByteArray()); // annotations stay behind
            QCOMPARE(fieldOf(e.at(1), "dead_ms"), QByteArray());
        }
        const RedisReply task = command({ "HGETALL", m_keys.task(QStringLiteral("t1")) });
        QCOMPARE(fieldOf(task, "dead"), QByteArray("1"));
        QCOMPARE(fieldOf(task, "processed"), QByteArray("1"));
        QCOMPARE(fieldOf(task, "state"), QByteArray("running"));

        // `max` is honoured, oldest first.
        addDead("d@x.io", "t1", LeadReason::Blocklisted, 4000);
        ControlAnswer<int> one;
        m_control->retryDeadLettersWithReason(LeadReason::Blocklisted, 1, one.callback());
        QTRY_VERIFY(one.result.has_value());
        QCOMPARE(one.result->value(), 1);
        QCOMPARE(lastLeadEmail(), QByteArray("b@x.io"));
        QCOMPARE(counts().at(0).count, 1);
    }

    void retryByIdsMovesThoseAndSkipsTheGoneAndTheMalformed()
    {
        makeTask("t1", 3, 3);
        const QByteArray a = addDead("a@x.io", "t1", LeadReason::GaveUp, 1000);
        addDead("b@x.io", "t1", LeadReason::GaveUp, 2000);
        const QByteArray c = addDead("c@x.io", "t1", LeadReason::Rejected, 3000);
        ControlAnswer<int> moved;
        m_control->retryDeadLetters(std::vector<QByteArray> { a, c, "1-999999", "not-an-id" },
                                    moved.callback());
        QTRY_VERIFY(moved.result.has_value());
        QVERIFY2(moved.result->ok(), qPrintable(problem(*moved.result)));
        QCOMPARE(moved.result->value(), 2);
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 1);
        QCOMPARE(command({ "XLEN", m_keys.leads() }).integer(), 2);
        QCOMPARE(fieldOf(command({ "HGETALL", m_keys.task(QStringLiteral("t1")) }), "dead"),
                 QByteArray("1"));
        // The journal says each came back.
        QCOMPARE(journalKinds("a@x.io"), QStringList { QStringLiteral("requeued") });

        ControlAnswer<int> none;
        m_control->retryDeadLetters(std::vector<QByteArray> {}, none.callback());
        QTRY_VERIFY(none.result.has_value());
        QCOMPARE(none.result->value(), 0);
    }

    void discardKeepsATraceAndNeedsWhoAndWhy()
    {
        makeTask("t1", 2, 2);
        const QByteArray a = addDead("a@x.io", "t1", LeadReason::Unsubscribed, 1000);
        const QByteArray b = addDead("b@x.io", "t1", LeadReason::Unsubscribed, 2000);

        bool called = false;
        const auto noCall = [&called](Result<int, RedisError>) { called = true; };
        QVERIFY(m_control->discardDeadLetters({ a }, QStringLiteral("  "), QStringLiteral("x"),
                                              noCall));
        QVERIFY(m_control->discardDeadLetters({ a }, QStringLiteral("ann"), QString(), noCall));
        QVERIFY(m_control->discardDeadLetters({ a }, QStringLiteral("ann"), QStringLiteral(" \t"),
                                              noCall));
        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 2);

        ControlAnswer<int> gone;
        QCOMPARE(m_control->discardDeadLetters({ a, "not-an-id" }, QStringLiteral("ann"),
                                               QStringLiteral("opted out by phone"),
                                               gone.callback()),
                 std::nullopt);
        QTRY_VERIFY(gone.result.has_value());
        QVERIFY2(gone.result->ok(), qPrintable(problem(*gone.result)));
        QCOMPARE(gone.result->value(), 1);
        QVERIFY(!called);

        QCOMPARE(command({ "XLEN", m_keys.deadLetters() }).integer(), 1);
        QCOMPARE(command({ "XRANGE", m_keys.deadLetters(), "-", "+" }).at(0).at(0).bytes(), b);
        const RedisReply trace = command({ "XRANGE", m_keys.discardedDeadLetters(), "-", "+" });
        QCOMPARE(trace.elements().size(), size_t(1));
        const RedisReply &kept = trace.at(0).at(1);
        QCOMPARE(fieldOf(kept, "dead_entry"), a);
        QCOMPARE(fieldOf(kept, "discarded_by"), QByteArray("ann"));
        QCOMPARE(fieldOf(kept, "discarded_why"), QByteArray("opted out by phone"));
        QVERIFY(fieldOf(kept, "discarded_ms").toLongLong() > 1'700'000'000'000);
        QCOMPARE(fieldOf(kept, "code"), QByteArray("unsubscribed"));
        QVERIFY(fieldOf(kept, "lead").contains("a@x.io"));

        const QList<JournalEvent> events = journal("a@x.io");
        QCOMPARE(events.size(), 1);
        QCOMPARE(events[0].kind, QStringLiteral("discarded"));
        QVERIFY(events[0].atMs > 1'700'000'000'000);
        QVERIFY2(events[0].detail.contains(QLatin1String("ann"))
                     && events[0].detail.contains(QLatin1String("opted out by phone")),
                 qPrintable(events[0].detail));
        QCOMPARE(events[0].task, QStringLiteral("t1"));
        const QByteArray stored
            = command({ "LINDEX", m_keys.journal(QStringLiteral("a@x.io")), "0" }).bytes();
        QVERIFY(stored.contains(R"("who","ann")"));
        QVERIFY(stored.contains(R"("why","opted out by phone")"));
        // The task still counts it as dead: it was not delivered.
        QCOMPARE(fieldOf(command({ "HGETALL", m_keys.task(QStringLiteral("t1")) }), "dead"),
                 QByteArray("2"));
        QCOMPARE(counts().at(0).count, 1);
    }

    void pauseStateReadsCauseSinceAndRemaining()
    {
        ControlAnswer<PauseState> running;
        m_control->pauseState(running.callback());
        QTRY_VERIFY(running.result.has_value());
        QVERIFY(running.result->ok());
        QVERIFY(!running.result->value().reason);
        QCOMPARE(running.result->value().remainingInPlan, -1);
        QCOMPARE(running.result->value().sinceMs, 0);

        QCOMPARE(command({ "HSET", m_keys.control(), "paused", "Instantly plan exhausted",
                           "paused_cause", "plan_exhausted", "paused_ms", "1700000000123",
                           "remaining_in_plan", "0" })
                     .integer(),
                 4);
        ControlAnswer<PauseState> paused;
        m_control->pauseState(paused.callback());
        QTRY_VERIFY(paused.result.has_value());
        const PauseState s = paused.result->value();
        QCOMPARE(s.reason, std::optional<QString>(QStringLiteral("Instantly plan exhausted")));
        QCOMPARE(s.cause, PauseCause::PlanExhausted);
        QCOMPARE(s.sinceMs, 1700000000123);
        QCOMPARE(s.remainingInPlan, 0);

        // An operator's pause through the API, then resumed: the plan's room stays known.
        QVERIFY(m_control->pause(QStringLiteral("  ")));
        QCOMPARE(m_control->pause(QStringLiteral("maintenance")), std::nullopt);
        ControlAnswer<PauseState> manual;
        m_control->pauseState(manual.callback());
        QTRY_VERIFY(manual.result.has_value());
        QCOMPARE(manual.result->value().cause, PauseCause::Operator);
        QCOMPARE(manual.result->value().reason.value_or(QString()), QStringLiteral("maintenance"));
        QVERIFY(manual.result->value().sinceMs > 1'700'000'000'000);
        m_control->resume();
        ControlAnswer<PauseState> resumed;
        m_control->pauseState(resumed.callback());
        QTRY_VERIFY(resumed.result.has_value());
        QVERIFY(!resumed.result->value().reason);
        QCOMPARE(resumed.result->value().remainingInPlan, 0);
    }

    void deadLettersWithReasonAreNewestFirst()
    {
        addDead("a@x.io", "t1", LeadReason::Rejected, 1000);
        addDead("b@x.io", "t1", LeadReason::GaveUp, 2000);
        addDead("c@x.io", "t1", LeadReason::Rejected, 3000);
        ControlAnswer<std::vector<DeadLetter>> list;
        m_control->deadLettersWithReason(LeadReason::Rejected, 10, list.callback());
        QTRY_VERIFY(list.result.has_value());
        QVERIFY(list.result->ok());
        const auto &letters = list.result->value();
        QCOMPARE(letters.size(), size_t(2));
        QCOMPARE(letters[0].lead.lead.email, QStringLiteral("c@x.io"));
        QCOMPARE(letters[0].code, LeadReason::Rejected);
        QCOMPARE(letters[0].deadMs, 3000);
        QCOMPARE(letters[1].lead.lead.email, QStringLiteral("a@x.io"));
    }

private:
    QByteArray addDead(const char *email, const char *task, std::optional<LeadReason> code,
                       qint64 deadMs)
    {
        QueuedLead lead;
        lead.taskId = QString::fromLatin1(task);
        lead.campaignName = QStringLiteral("Spring");
        lead.source = QStringLiteral("direct");
        lead.receivedMs = 1;
        lead.attempt = 3;
        lead.lead.email = QString::fromLatin1(email);
        QList<QByteArray> argv { "XADD", m_keys.deadLetters(), "*" };
        argv << lead.toFields() << "reason"
             << "why it died";
        if (code)
            argv << "code" << leadReasonCode(*code);
        argv << "dead_ms" << QByteArray::number(deadMs);
        return command(argv).bytes();
    }

    void makeTask(const char *task, int processed, int dead)
    {
        command({ "HSET", m_keys.task(QString::fromLatin1(task)), "total",
                  QByteArray::number(processed), "processed", QByteArray::number(processed), "dead",
                  QByteArray::number(dead), "state", "failed", "finished_ms", "1" });
    }

    std::vector<DeadLetterCount> counts()
    {
        ControlAnswer<std::vector<DeadLetterCount>> a;
        m_control->deadLetterCounts(a.callback());
        if (!QTest::qWaitFor([&] { return a.result.has_value(); }, 10'000)) {
            qWarning("no counts");
            return {};
        }
        if (!a.result->ok()) {
            qWarning("%s", qPrintable(a.result->error().describe()));
            return {};
        }
        return a.result->value();
    }

    QByteArray lastLeadEmail()
    {
        const RedisReply last = command({ "XREVRANGE", m_keys.leads(), "+", "-", "COUNT", "1" });
        const auto lead = QueuedLead::fromFields([&] {
            QList<QByteArray> f;
            for (const RedisReply &r : last.at(0).at(1).elements())
                f << r.bytes();
            return f;
        }());
        return lead.ok() ? lead.value().lead.email.toUtf8() : QByteArray();
    }

    QList<JournalEvent> journal(const char *identity)
    {
        QList<JournalEvent> out;
        const RedisReply stored
            = command({ "LRANGE", m_keys.journal(QString::fromLatin1(identity)), "0", "-1" });
        for (const RedisReply &e : stored.elements())
            out << JournalEvent::fromStored(e.bytes());
        return out;
    }

    QStringList journalKinds(const char *identity)
    {
        QStringList out;
        for (const JournalEvent &e : journal(identity))
            out << e.kind;
        return out;
    }

    RedisReply command(const QList<QByteArray> &argv)
    {
        return test::executeOrWarn(*m_redis, argv);
    }

    RedisServer m_server;
    int m_round = 0;
    RedisKeys m_keys;
    std::unique_ptr<RedisClient> m_redis;
    std::unique_ptr<OperatorControl> m_control;
};

SLUICE_TEST_GUILESS_MAIN(TestOperatorControl)
#include "tst_operatorcontrol.moc"
