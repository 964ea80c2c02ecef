// The lead journal end to end: a load test through the real intake, dispatcher and embedded
// sandbox (a real redis-server), then verify (a lead lost behind Sluice's back, repaired) and
// clean-up, and each lead's timeline read back by email and by task id. Plus the pure parts:
// identities, timelines split by campaign, and the one-line summaries.
#include "common/suite.h"
#include "common/testrun.h"
#include "journal/leadjournal.h"
#include "local/localengine.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "runs/cleaner.h"
#include "runs/loadtest.h"
#include "runs/verifier.h"
#include "sandbox/sandboxserver.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <optional>

using namespace sluice;
using sluice::test::runDefinition;
using sluice::test::runToEnd;
using std::chrono::milliseconds;

namespace {

template<typename T> struct Answer
{
    std::optional<Result<T, RedisError>> result;
    std::function<void(Result<T, RedisError>)> callback()
    {
        return [this](Result<T, RedisError> r) { result.emplace(std::move(r)); };
    }
};

QStringList kinds(const LeadTimeline &t)
{
    QStringList out;
    for (const JournalEvent &e : t.events)
        out << e.kind;
    return out;
}

JournalEvent makeEvent(const char *kind, qint64 at, const char *task, const char *campaign)
{
    JournalEvent e;
    e.kind = QString::fromLatin1(kind);
    e.atMs = at;
    e.task = QString::fromLatin1(task);
    e.campaign = QString::fromLatin1(campaign);
    return e;
}

} // namespace

class TestLeadJournal : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void identitiesAreLowerCasedEmailsOrCloseLeads()
    {
        QCOMPARE(journalIdentity(QStringLiteral("  Ann.Lee@Example.COM ")),
                 QStringLiteral("ann.lee@example.com"));
        QCOMPARE(journalIdentity(QStringLiteral("lead_abc")), QStringLiteral("close:lead_abc"));
        QCOMPARE(journalIdentity(QStringLiteral("close:lead_abc")),
                 QStringLiteral("close:lead_abc"));
    }

    void eventsRoundTripThroughTheirFields()
    {
        JournalEvent e = makeEvent("attempt", 1700000000123, "t1", "Spring");
        e.attempt = 2;
        e.status = 503;
        e.latencyMs = 41;
        e.waitMs = 120;
        e.breaker = QStringLiteral("half_open");
        e.batch = 37;
        e.instance = QStringLiteral("host:1");
        const JournalEvent back = JournalEvent::fromFields(e.toFields());
        QCOMPARE(back.kind, e.kind);
        QCOMPARE(back.atMs, e.atMs);
        QCOMPARE(back.task, e.task);
        QCOMPARE(back.attempt, 2);
        QCOMPARE(back.status, 503);
        QCOMPARE(back.latencyMs, 41);
        QCOMPARE(back.waitMs, 120);
        QCOMPARE(back.breaker, e.breaker);
        QCOMPARE(back.batch, 37);
        QCOMPARE(back.instance, e.instance);
        QCOMPARE(back.summary(),
                 QStringLiteral("attempt 2: HTTP 503 in 41 ms, waited 120 ms for the limiter, "
                                "breaker half_open, bulk of 37"));
        // Stored together, shown apart: a "received" with its entry is received + queued (at
        // the entry's time), an outcome with its request is attempt + outcome.
        const QList<JournalEvent> received = JournalEvent::fromStored(
            R"(["kind","received","at","1700000000100","task","t1","entry","1700000000103-7"])");
        QCOMPARE(received.size(), 2);
        QCOMPARE(received[1].kind, QStringLiteral("queued"));
        QCOMPARE(received[1].atMs, 1700000000103);
        QCOMPARE(received[1].detail, QStringLiteral("stream entry 1700000000103-7"));
        const QList<JournalEvent> delivered = JournalEvent::fromStored(
            R"(["kind","delivered","at","5","attempt","1","status","200","batch","3"])");
        QCOMPARE(delivered.size(), 2);
        QCOMPARE(delivered[0].kind, QStringLiteral("attempt"));
        QCOMPARE(delivered[0].status, 200);
        QCOMPARE(delivered[1].kind, QStringLiteral("delivered"));
        QCOMPARE(delivered[1].status, 0);
        QVERIFY(JournalEvent::fromStored("not json").isEmpty());
    }

    void timelinesAreSplitByCampaignNewestFirst()
    {
        QList<JournalEvent> events { makeEvent("received", 10, "a", "Spring"),
                                     makeEvent("queued", 11, "a", "Spring"),
                                     makeEvent("received", 20, "b", "Autumn"),
                                     makeEvent("delivered", 25, "a", ""), // campaign from task a
                                     makeEvent("verified", 30, "", "Spring") };
        const QList<LeadTimeline> t = splitTimelines(QStringLiteral("x@y.io"), events);
        QCOMPARE(t.size(), 2);
        QCOMPARE(t[0].campaign, QStringLiteral("Spring")); // its latest event is the newest
        QCOMPARE(kinds(t[0]),
                 (QStringList { QStringLiteral("received"), QStringLiteral("queued"),
                                QStringLiteral("delivered"), QStringLiteral("verified") }));
        QCOMPARE(t[0].state(), QStringLiteral("verified"));
        QCOMPARE(t[0].tasks(), QStringList { QStringLiteral("a") });
        QCOMPARE(t[1].campaign, QStringLiteral("Autumn"));
        QCOMPARE(t[1].state(), QStringLiteral("received"));
    }

    void initTestCase()
    {
        QVERIFY2(m_redis.start(), qPrintable(m_redis.errorString()));
        LocalEngineOptions options
            = test::sandboxEngineOptions(m_redis.url(), QStringLiteral("journal"), m_dir.path());
        options.serve.limiter.caps
            = { { 20, milliseconds { 1000 } }, { 1200, milliseconds { 60'000 } } };
        m_engine = std::make_unique<LocalEngine>(options);
        const auto problem = m_engine->start();
        QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
    }
    void cleanupTestCase() { m_engine.reset(); }

    void aLeadsWholeLifeIsInItsTimeline()
    {
        const RunDefinition d = runDefinition(20, QStringLiteral("JournalTest"), 5);
        LoadTestRun run(d, m_engine->loadTestServices());
        QVERIFY(runToEnd(run));
        const RunRecord record = run.record();
        QVERIFY2(record.passed, qPrintable(record.stopReason));
        QCOMPARE(record.taskIds.size(), 20);
        const QString email = d.emails().at(3);

        // As Close sends it, the webhook names only the Close lead: received (and queued for
        // its lookup) -> looked up -> queued as a lead -> attempt -> delivered, in that order,
        // with the request's facts.
        LeadJournal journal = m_engine->journal();
        Answer<QList<LeadTimeline>> found;
        journal.search(email.toUpper(), 10, found.callback());
        QTRY_VERIFY(found.result);
        if (!found.result->ok())
            QFAIL(qPrintable(found.result->error().describe()));
        QCOMPARE(found.result->value().size(), 1);
        LeadTimeline t = found.result->value().first();
        QCOMPARE(t.identity, email);
        QCOMPARE(t.campaign, d.campaign);
        QCOMPARE(kinds(t),
                 (QStringList { QStringLiteral("received"), QStringLiteral("queued"),
                                QStringLiteral("looked_up"), QStringLiteral("queued"),
                                QStringLiteral("attempt"), QStringLiteral("delivered") }));
        QVERIFY2(t.events[0].detail.contains(QStringLiteral("Close webhook")),
                 qPrintable(t.events[0].detail));
        QVERIFY(t.events[0].detail.contains(QStringLiteral("signature valid")));
        QVERIFY(t.events[1].detail.startsWith(QStringLiteral("stream entry ")));
        QVERIFY2(t.events[2].detail.startsWith(QStringLiteral("contact of Close lead lead_")),
                 qPrintable(t.events[2].detail));
        QVERIFY(t.events[3].detail.startsWith(QStringLiteral("stream entry ")));
        QVERIFY(t.events[3].detail != t.events[1].detail); // the lead's own entry
        const JournalEvent &attempt = t.events[4];
        QCOMPARE(attempt.attempt, 1);
        QCOMPARE(attempt.status, 200);
        QVERIFY(attempt.latencyMs >= 0);
        QVERIFY(attempt.waitMs >= 0);
        QCOMPARE(attempt.breaker, QStringLiteral("closed"));
        QVERIFY2(attempt.batch >= 1 && attempt.batch <= 20, qPrintable(attempt.summary()));
        QVERIFY(!attempt.instance.isEmpty());
        for (qsizetype i = 1; i < t.events.size(); ++i)
            QVERIFY(t.events[i].atMs >= t.events[i - 1].atMs);
        const QString task = t.tasks().value(0);
        QVERIFY(record.taskIds.contains(task));
        QCOMPARE(t.state(), QStringLiteral("delivered"));

        // By task id: that one lead.
        Answer<QList<LeadTimeline>> byTask;
        journal.search(task, 10, byTask.callback());
        QTRY_VERIFY(byTask.result);
        QVERIFY(byTask.result->ok());
        QCOMPARE(byTask.result->value().size(), 1);
        QCOMPARE(byTask.result->value().first().identity, email);

        // Unknown: nothing, no error.
        Answer<QList<LeadTimeline>> none;
        journal.search(QStringLiteral("nobody@nowhere.io"), 10, none.callback());
        QTRY_VERIFY(none.result);
        QVERIFY(none.result->ok());
        QVERIFY(none.result->value().isEmpty());

        // Lost behind Sluice's back: verify says so in the journal, the repair re-delivers.
        const QString lost = d.emails().at(7);
        QString lostId;
        for (const auto &lead : m_engine->sandbox()->store().allLeads())
            if (QString::fromStdString(lead["email"].get<std::string>()).toLower() == lost)
                lostId = QString::fromStdString(lead["id"].get<std::string>());
        QVERIFY(!lostId.isEmpty());
        QCOMPARE(m_engine->sandbox()->store().deleteLead(lostId).status, 200);
        Verifier verifier(m_engine->instantly());
        verifier.setJournal(journal);
        QSignalSpy verified(&verifier, &Verifier::finished);
        QVERIFY(verifier.start(d, RepairTarget { m_engine->redis(), m_engine->keys() }));
        QTRY_COMPARE_WITH_TIMEOUT(verified.count(), 1, 30'000);
        QCOMPARE(verifier.report().missing, QStringList { lost });
        QCOMPARE(verifier.report().repaired, 1);
        const QString repairTask = verifier.repairTaskId();
        QTRY_COMPARE_WITH_TIMEOUT(timeline(lost).state(), QStringLiteral("delivered"), 30'000);
        t = timeline(lost);
        QCOMPARE(kinds(t),
                 (QStringList { QStringLiteral("received"), QStringLiteral("queued"),
                                QStringLiteral("looked_up"), QStringLiteral("queued"),
                                QStringLiteral("attempt"), QStringLiteral("delivered"),
                                QStringLiteral("missing"), QStringLiteral("requeued"),
                                QStringLiteral("attempt"), QStringLiteral("delivered") }));
        QVERIFY(t.events[6].detail.contains(d.id));
        QCOMPARE(t.events[7].task, repairTask);
        QCOMPARE(t.tasks().size(), 2);
        QCOMPARE(timeline(email).events.constLast().kind, QStringLiteral("verified"));

        // Clean-up: every lead it deleted says so.
        RunRecord cleaned = record;
        Cleaner cleaner(m_engine->instantly());
        cleaner.setJournal(journal);
        QSignalSpy cleanedUp(&cleaner, &Cleaner::finished);
        QVERIFY(cleaner.start(cleaned));
        QTRY_COMPARE_WITH_TIMEOUT(cleanedUp.count(), 1, 30'000);
        QVERIFY2(cleaner.report().error.isEmpty(), qPrintable(cleaner.report().error));
        QCOMPARE(cleaner.report().deleted, 20);
        for (const QString &e : d.emails()) {
            const LeadTimeline after = timeline(e);
            QCOMPARE(after.state(), QStringLiteral("deleted"));
            QVERIFY(after.events.constLast().detail.contains(d.id));
        }

        // The recent list leads with the newest; every run lead is in it.
        Answer<QList<RecentLead>> recent;
        journal.recent(50, recent.callback());
        QTRY_VERIFY(recent.result);
        QVERIFY(recent.result->ok());
        QSet<QString> listed;
        for (const RecentLead &r : recent.result->value()) {
            listed.insert(r.identity);
            QCOMPARE(r.latest.kind, QStringLiteral("deleted"));
        }
        const QStringList emails = d.emails();
        QCOMPARE(listed, QSet<QString>(emails.cbegin(), emails.cend()));
    }

    void offWritesNothingOnTheHotPath()
    {
        QTemporaryDir dir;
        LocalEngineOptions options
            = test::sandboxEngineOptions(m_redis.url(), QStringLiteral("nojournal"), dir.path());
        options.serve.dispatcher.journal = false;
        LocalEngine engine(options);
        const auto problem = engine.start();
        QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
        const RunDefinition d = runDefinition(10, QStringLiteral("NoJournal"), 5);
        LoadTestRun run(d, engine.loadTestServices());
        QVERIFY(runToEnd(run));
        QVERIFY2(run.record().passed, qPrintable(run.record().stopReason));
        // Delivered, verified, and not a journal key in the namespace.
        Verifier verifier(engine.instantly());
        verifier.setJournal(engine.journal());
        QSignalSpy verified(&verifier, &Verifier::finished);
        QVERIFY(verifier.start(d));
        QTRY_COMPARE_WITH_TIMEOUT(verified.count(), 1, 30'000);
        QCOMPARE(verifier.report().present, 10);
        std::optional<RedisResult> keys;
        engine.redis()->command({ "KEYS", engine.keys().prefix + "journal:*" },
                                [&](RedisResult r) { keys.emplace(std::move(r)); });
        QTRY_VERIFY(keys.has_value());
        QVERIFY(keys->ok());
        QCOMPARE(keys->value().elements().size(), size_t(0));
    }

private:
    LeadTimeline timeline(const QString &identity)
    {
        Answer<QList<LeadTimeline>> found;
        m_engine->journal().search(identity, 10, found.callback());
        if (!QTest::qWaitFor([&] { return found.result.has_value(); }, 10'000)
            || !found.result->ok() || found.result->value().isEmpty())
            return {};
        return found.result->value().first();
    }

    sluice::test::RedisServer m_redis;
    QTemporaryDir m_dir;
    std::unique_ptr<LocalEngine> m_engine;
};

SLUICE_TEST_GUILESS_MAIN(TestLeadJournal)
#include "tst_leadjournal.moc"
