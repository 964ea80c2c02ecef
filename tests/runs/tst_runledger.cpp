// The run ledger against a real redis-server (AOF on, fsync always): records round-trip,
// listings are newest first and limited, retention drops the oldest runs with their records,
// unknown and unreadable runs are named, and the ledger is still there after Redis is killed
// and restarted.
#include "common/suite.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "runs/runledger.h"
#include "runs/samplerun.h"
#include "store/rediskeys.h"

#include <QEventLoop>
#include <QTest>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <memory>
#include <random>

using namespace sluice;
using sluice::test::kCreated;
using sluice::test::RedisServer;
using sluice::test::sampleRun;

namespace {

/// Runs one ledger call and waits for its result in a local event loop (a Redis error if
/// none came within 10 s). The callback shares its state, so a late one is harmless.
template<typename T, typename Call> Result<T, LedgerError> await(Call call)
{
    struct Wait
    {
        std::optional<Result<T, LedgerError>> result;
        QEventLoop *loop = nullptr;
    };
    auto wait = std::make_shared<Wait>();
    QEventLoop loop;
    wait->loop = &loop;
    call([wait](Result<T, LedgerError> r) {
        wait->result.emplace(std::move(r));
        if (wait->loop)
            wait->loop->quit();
    });
    if (!wait->result) {
        QTimer::singleShot(10'000, &loop, &QEventLoop::quit);
        loop.exec();
    }
    wait->loop = nullptr;
    if (!wait->result) {
        LedgerError error;
        error.message = QStringLiteral("the test gave up waiting");
        return error;
    }
    return std::move(*wait->result);
}

QString describe(const std::optional<LedgerError> &error)
{
    return error ? error->describe() : QStringLiteral("ok");
}

template<typename T> QString describe(const Result<T, LedgerError> &r)
{
    return r.ok() ? QStringLiteral("ok") : r.error().describe();
}

QStringList idsOf(const std::vector<RunRecord> &runs)
{
    QStringList ids;
    for (const RunRecord &r : runs)
        ids.append(r.definition.id);
    return ids;
}

QString runId(int i)
{
    return QStringLiteral("run-%1").arg(i, 3, 10, QLatin1Char('0'));
}

} // namespace

class TestRunLedger : public QObject
{
    Q_OBJECT

private:
    Result<RunSaveOutcome, LedgerError> save(RunLedger &ledger, const RunRecord &r)
    {
        return await<RunSaveOutcome>([&](auto done) { ledger.save(r, std::move(done)); });
    }
    Result<RunRecord, LedgerError> load(RunLedger &ledger, const QString &id)
    {
        return await<RunRecord>([&](auto done) { ledger.load(id, std::move(done)); });
    }
    Result<RunList, LedgerError> list(RunLedger &ledger, int limit)
    {
        return await<RunList>([&](auto done) { ledger.list(limit, std::move(done)); });
    }
    std::optional<LedgerError> remove(RunLedger &ledger, const QString &id)
    {
        auto r = await<bool>([&](auto done) {
            ledger.remove(id, [done = std::move(done)](std::optional<LedgerError> error) {
                if (error)
                    done(*error);
                else
                    done(true);
            });
        });
        if (r.ok())
            return std::nullopt;
        return r.error();
    }
    RedisResult redis(const QList<QByteArray> &argv) { return test::execute(*m_client, argv); }

private Q_SLOTS:
    void initTestCase()
    {
        RedisServer::Options options;
        // Persistence as in production's private Redis, but fsync on every write so a
        // SIGKILL right after a reply cannot lose it.
        options.extraArgs = { QStringLiteral("--appendonly"), QStringLiteral("yes"),
                              QStringLiteral("--appendfsync"), QStringLiteral("always") };
        m_server = std::make_unique<RedisServer>(options);
        QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
    }

    void init()
    {
        ++m_round;
        m_keys = RedisKeys(QStringLiteral("ledger%1").arg(m_round));
        RedisOptions options;
        options.url = m_server->url();
        m_client = std::make_unique<RedisClient>(options);
        m_client->connectToServer();
    }

    void cleanup()
    {
        if (m_server->isRunning() && m_client->state() == RedisClient::State::Connected) {
            // Leave nothing behind for the next test.
            const auto keys = redis({ "KEYS", m_keys.prefix + '*' });
            if (keys.ok() && !keys.value().elements().empty()) {
                QList<QByteArray> del { "DEL" };
                for (const RedisReply &key : keys.value().elements())
                    del.append(key.bytes());
                redis(del);
            }
        }
        m_client.reset();
    }

    void savedRecordLoadsBackWhole()
    {
        RunLedger ledger(m_client.get(), m_keys);
        const RunRecord run = sampleRun(QStringLiteral("run-20251129-093612-ab12"), kCreated);
        const auto saved = save(ledger, run);
        QVERIFY2(saved.ok(), qPrintable(describe(saved)));
        QVERIFY(saved.value().trimmed.isEmpty());

        const auto loaded = load(ledger, run.definition.id);
        QVERIFY2(loaded.ok(), qPrintable(describe(loaded)));
        QVERIFY(toJson(loaded.value()) == toJson(run));

        // Where it is, as RedisKeys says: the record as JSON and its place in the index.
        const auto stored = redis({ "GET", m_keys.run(run.definition.id) });
        QVERIFY(stored.ok() && stored.value().isString());
        QVERIFY(nlohmann::json::parse(stored.value().bytes().toStdString()) == toJson(run));
        QCOMPARE(redis({ "ZSCORE", m_keys.runs(), run.definition.id.toUtf8() }).value().bytes(),
                 QByteArray::number(kCreated));

        // Saving again replaces it (a run is saved as it progresses) without a second entry.
        RunRecord later = run;
        later.state = RunRecord::State::Aborted;
        later.stopReason = QStringLiteral("operator stopped it");
        QVERIFY(save(ledger, later).ok());
        const auto again = load(ledger, run.definition.id);
        QVERIFY2(again.ok(), qPrintable(describe(again)));
        QCOMPARE(again.value().state, RunRecord::State::Aborted);
        QCOMPARE(again.value().stopReason, later.stopReason);
        QCOMPARE(redis({ "ZCARD", m_keys.runs() }).value().integer(), qint64(1));
    }

    void listIsNewestFirstAndLimited()
    {
        RunLedger ledger(m_client.get(), m_keys);
        // Saved out of order: the listing follows creation time, not saving order.
        for (int i : { 3, 1, 5, 2, 4 })
            QVERIFY(save(ledger, sampleRun(runId(i), kCreated + qint64(i) * 1000)).ok());

        const auto three = list(ledger, 3);
        QVERIFY2(three.ok(), qPrintable(describe(three)));
        QCOMPARE(idsOf(three.value().runs), (QStringList { runId(5), runId(4), runId(3) }));
        QCOMPARE(three.value().total, 5);
        QVERIFY(three.value().unreadable.isEmpty());

        const auto all = list(ledger, 0);
        QVERIFY2(all.ok(), qPrintable(describe(all)));
        QCOMPARE(idsOf(all.value().runs),
                 (QStringList { runId(5), runId(4), runId(3), runId(2), runId(1) }));
        QVERIFY(toJson(all.value().runs[4]) == toJson(sampleRun(runId(1), kCreated + 1000)));

        const auto more = list(ledger, 50);
        QVERIFY(more.ok());
        QCOMPARE(more.value().runs.size(), size_t(5));
    }

    void longListingsArriveWholeAndInOrder()
    {
        // More records than one MGET fetches, saved concurrently in a random order.
        RunLedger ledger(m_client.get(), m_keys);
        const int n = 250;
        std::vector<int> order(n);
        for (int i = 0; i < n; ++i)
            order[size_t(i)] = i;
        std::shuffle(order.begin(), order.end(), std::mt19937(42));
        auto saved = std::make_shared<int>(0);
        auto failures = std::make_shared<QStringList>();
        for (int i : order)
            ledger.save(sampleRun(runId(i), kCreated + i), [saved, failures](auto r) {
                ++*saved;
                if (!r.ok())
                    failures->append(r.error().describe());
            });
        QTRY_COMPARE(*saved, n);
        QVERIFY2(failures->isEmpty(), qPrintable(failures->join(QLatin1Char('\n'))));

        const auto all = list(ledger, 0);
        QVERIFY2(all.ok(), qPrintable(describe(all)));
        QCOMPARE(int(all.value().runs.size()), n);
        for (int i = 0; i < n; ++i)
            QCOMPARE(all.value().runs[size_t(i)].definition.id, runId(n - 1 - i));
    }

    void retentionDropsTheOldestRuns()
    {
        RunLedgerOptions options;
        options.keepRuns = 3;
        QVERIFY(!options.problem());
        RunLedger ledger(m_client.get(), m_keys, options);
        for (int i = 1; i <= 3; ++i) {
            const auto r = save(ledger, sampleRun(runId(i), kCreated + i));
            QVERIFY2(r.ok(), qPrintable(describe(r)));
            QVERIFY(r.value().trimmed.isEmpty());
        }
        const auto fourth = save(ledger, sampleRun(runId(4), kCreated + 4));
        QVERIFY2(fourth.ok(), qPrintable(describe(fourth)));
        QCOMPARE(fourth.value().trimmed, QStringList { runId(1) });

        // Updating a kept run does not push another one out.
        const auto update = save(ledger, sampleRun(runId(2), kCreated + 2));
        QVERIFY(update.ok());
        QVERIFY(update.value().trimmed.isEmpty());

        const auto kept = list(ledger, 0);
        QVERIFY2(kept.ok(), qPrintable(describe(kept)));
        QCOMPARE(idsOf(kept.value().runs), (QStringList { runId(4), runId(3), runId(2) }));
        QCOMPARE(kept.value().total, 3);
        // The trimmed run's record went with its index entry.
        QCOMPARE(redis({ "EXISTS", m_keys.run(runId(1)) }).value().integer(), qint64(0));
        QCOMPARE(load(ledger, runId(1)).error().kind, LedgerError::Kind::NotFound);

        // A smaller limit later trims several at once, oldest first.
        options.keepRuns = 1;
        RunLedger stricter(m_client.get(), m_keys, options);
        const auto fifth = save(stricter, sampleRun(runId(5), kCreated + 5));
        QVERIFY2(fifth.ok(), qPrintable(describe(fifth)));
        QCOMPARE(fifth.value().trimmed, (QStringList { runId(2), runId(3), runId(4) }));
        QCOMPARE(redis({ "KEYS", m_keys.run(QStringLiteral("*")) }).value().elements().size(),
                 size_t(1));

        options.keepRuns = 0;
        QVERIFY(options.problem().has_value());
        QCOMPARE(RunLedgerOptions {}.keepRuns, 500);
    }

    void unknownRunsAreNamed()
    {
        RunLedger ledger(m_client.get(), m_keys);
        const auto missing = load(ledger, QStringLiteral("run-nope"));
        QVERIFY(!missing.ok());
        QCOMPARE(missing.error().kind, LedgerError::Kind::NotFound);
        QCOMPARE(missing.error().describe(),
                 QStringLiteral("no run 'run-nope'; `sluice runs` lists them"));

        const auto removed = remove(ledger, QStringLiteral("run-nope"));
        QVERIFY(removed.has_value());
        QCOMPARE(removed->kind, LedgerError::Kind::NotFound);
        QVERIFY2(removed->describe().contains(QStringLiteral("run-nope")),
                 qPrintable(describe(removed)));

        const auto empty = list(ledger, 10);
        QVERIFY2(empty.ok(), qPrintable(describe(empty)));
        QVERIFY(empty.value().runs.empty());
        QCOMPARE(empty.value().total, 0);
    }

    void removeTakesRecordAndIndexEntry()
    {
        RunLedger ledger(m_client.get(), m_keys);
        QVERIFY(save(ledger, sampleRun(runId(1), kCreated + 1)).ok());
        QVERIFY(save(ledger, sampleRun(runId(2), kCreated + 2)).ok());
        const auto removed = remove(ledger, runId(1));
        QVERIFY2(!removed, qPrintable(describe(removed)));
        QCOMPARE(load(ledger, runId(1)).error().kind, LedgerError::Kind::NotFound);
        QVERIFY(redis({ "ZSCORE", m_keys.runs(), runId(1).toUtf8() }).value().isNil());
        const auto rest = list(ledger, 0);
        QVERIFY(rest.ok());
        QCOMPARE(idsOf(rest.value().runs), QStringList { runId(2) });
    }

    void recordsWithoutIdOrTimeAreRefused()
    {
        RunLedger ledger(m_client.get(), m_keys);
        const auto noId = save(ledger, sampleRun(QString(), kCreated));
        QVERIFY(!noId.ok());
        QCOMPARE(noId.error().kind, LedgerError::Kind::Invalid);
        const auto noTime = save(ledger, sampleRun(runId(1), 0));
        QVERIFY(!noTime.ok());
        QCOMPARE(noTime.error().kind, LedgerError::Kind::Invalid);
        QVERIFY2(noTime.error().describe().contains(runId(1)), qPrintable(describe(noTime)));
        QCOMPARE(redis({ "EXISTS", m_keys.runs(), m_keys.run(runId(1)) }).value().integer(),
                 qint64(0));
    }

    void unreadableRecordsAreReportedNotHidden()
    {
        RunLedger ledger(m_client.get(), m_keys);
        QVERIFY(save(ledger, sampleRun(runId(1), kCreated + 1)).ok());
        // What an older or newer Sluice might have left, and plain garbage.
        QVERIFY(redis({ "SET", m_keys.run(runId(2)), R"({"version":99,"definition":{"id":"x"}})" })
                    .ok());
        QVERIFY(
            redis({ "ZADD", m_keys.runs(), QByteArray::number(kCreated + 2), runId(2).toUtf8() })
                .ok());
        QVERIFY(redis({ "SET", m_keys.run(runId(3)), "not json {" }).ok());
        QVERIFY(
            redis({ "ZADD", m_keys.runs(), QByteArray::number(kCreated + 3), runId(3).toUtf8() })
                .ok());

        const auto all = list(ledger, 0);
        QVERIFY2(all.ok(), qPrintable(describe(all)));
        QCOMPARE(idsOf(all.value().runs), QStringList { runId(1) });
        QCOMPARE(all.value().unreadable, (QStringList { runId(3), runId(2) }));
        QCOMPARE(all.value().total, 3);

        const auto bad = load(ledger, runId(3));
        QVERIFY(!bad.ok());
        QCOMPARE(bad.error().kind, LedgerError::Kind::Unreadable);
        QVERIFY2(bad.error().describe().contains(QStringLiteral("not JSON")),
                 qPrintable(describe(bad)));
        const auto foreign = load(ledger, runId(2));
        QCOMPARE(foreign.error().kind, LedgerError::Kind::Unreadable);
    }

    void redisFailuresAreErrorsNotEmptyAnswers()
    {
        RedisServer gone; // started once for a port, then killed: nothing listens there
        QVERIFY2(gone.start(), qPrintable(gone.errorString()));
        gone.kill();
        RedisOptions options;
        options.url = gone.url();
        RedisClient client(options);
        client.connectToServer();
        RunLedger ledger(&client, m_keys);

        const auto listed = list(ledger, 10);
        QVERIFY(!listed.ok());
        QCOMPARE(listed.error().kind, LedgerError::Kind::Redis);
        QVERIFY(listed.error().redis.has_value());
        const auto saved = save(ledger, sampleRun(runId(1), kCreated));
        QCOMPARE(saved.error().kind, LedgerError::Kind::Redis);
        QVERIFY2(saved.error().describe().contains(runId(1)), qPrintable(describe(saved)));
        const auto loaded = load(ledger, runId(1));
        QCOMPARE(loaded.error().kind, LedgerError::Kind::Redis);
        client.disconnectFromServer();
    }

    void survivesARedisCrashAndRestart()
    {
        RunLedger ledger(m_client.get(), m_keys);
        const RunRecord first = sampleRun(runId(1), kCreated + 1);
        const RunRecord second = sampleRun(runId(2), kCreated + 2);
        QVERIFY(save(ledger, first).ok());
        QVERIFY(save(ledger, second).ok());

        m_server->kill(); // SIGKILL: only what the AOF holds comes back
        QVERIFY2(m_server->start(), qPrintable(m_server->errorString()));
        QTRY_COMPARE_WITH_TIMEOUT(m_client->state(), RedisClient::State::Connected, 10'000);

        const auto all = list(ledger, 0);
        QVERIFY2(all.ok(), qPrintable(describe(all)));
        QCOMPARE(idsOf(all.value().runs), (QStringList { runId(2), runId(1) }));
        QVERIFY(toJson(all.value().runs[1]) == toJson(first));
        const auto loaded = load(ledger, runId(2));
        QVERIFY2(loaded.ok(), qPrintable(describe(loaded)));
        QVERIFY(toJson(loaded.value()) == toJson(second));

        // The restarted server forgot the scripts; saving and removing load them again.
        const auto third = save(ledger, sampleRun(runId(3), kCreated + 3));
        QVERIFY2(third.ok(), qPrintable(describe(third)));
        const auto removed = remove(ledger, runId(1));
        QVERIFY2(!removed, qPrintable(describe(removed)));
    }

private:
    std::unique_ptr<RedisServer> m_server;
    std::unique_ptr<RedisClient> m_client;
    RedisKeys m_keys;
    int m_round = 0;
};

SLUICE_TEST_GUILESS_MAIN(TestRunLedger)
#include "tst_runledger.moc"
