// The private redis-server a Sluice with no Redis configured runs for itself: reachable on
// its unix socket, AOF on and noeviction, shared with a second process on the same data
// directory, and its data still there after a restart.
#include "common/suite.h"
#include "redis/capturedreply.h"
#include "redis/privateredis.h"
#include "redis/redisclient.h"

#include <QDir>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <memory>

using namespace sluice;
using std::chrono::milliseconds;

class TestPrivateRedis : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startsSharesAndPersists()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString dataDir = dir.filePath(QStringLiteral("data"));
        {
            PrivateRedis redis(dataDir);
            const auto problem = redis.start();
            QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
            QVERIFY(redis.owned());
            QCOMPARE(redis.url(),
                     QStringLiteral("unix://") + dataDir + QStringLiteral("/redis.sock"));

            RedisClient client(options(redis.url()));
            client.connectToServer();
            QCOMPARE(command(client, { "SET", "sluice:test", "kept" }).bytes(), QByteArray("OK"));
            QCOMPARE(command(client, { "CONFIG", "GET", "appendonly" }).at(1).bytes(),
                     QByteArray("yes"));
            QCOMPARE(command(client, { "CONFIG", "GET", "maxmemory-policy" }).at(1).bytes(),
                     QByteArray("noeviction"));
            QCOMPARE(command(client, { "CONFIG", "GET", "port" }).at(1).bytes(), QByteArray("0"));

            // A second process on the same directory uses the running server.
            PrivateRedis second(dataDir);
            QVERIFY(!second.start());
            QVERIFY(!second.owned());
            client.disconnectFromServer();
        }
        QVERIFY(
            !redisAnswersOnSocket(dataDir + QStringLiteral("/redis.sock"), milliseconds { 200 }));

        PrivateRedis again(dataDir);
        QVERIFY(!again.start());
        RedisClient client(options(again.url()));
        client.connectToServer();
        QCOMPARE(command(client, { "GET", "sluice:test" }).bytes(), QByteArray("kept"));
    }

    void theLastUserStopsIt()
    {
        // The process that started the server leaves first: the server stays for the other.
        QTemporaryDir dir(QDir::tempPath() + QStringLiteral("/sluice-pr-XXXXXX"));
        const QString dataDir = dir.filePath(QStringLiteral("d"));
        auto starter = std::make_unique<PrivateRedis>(dataDir);
        QVERIFY(!starter->start());
        QVERIFY(starter->owned());
        const qint64 pid = starter->serverPid();
        QVERIFY(pid > 0);
        PrivateRedis user(dataDir);
        QVERIFY(!user.start());
        QVERIFY(!user.owned());
        starter.reset();
        QVERIFY(redisAnswersOnSocket(user.socketPath(), milliseconds { 1000 }));
        QCOMPARE(user.serverPid(), pid);
        user.stop(); // the last one: the server goes
        QVERIFY(!redisAnswersOnSocket(user.socketPath(), milliseconds { 200 }));
        QVERIFY(::kill(pid_t(pid), 0) != 0);
    }

    void aSlowServerIsWaitedForNeverReplaced()
    {
        // A server that runs but does not answer (busy, or loading a large AOF; here stopped
        // with SIGSTOP) must not get a second server on the same append-only file.
        QTemporaryDir dir(QDir::tempPath() + QStringLiteral("/sluice-pr-XXXXXX"));
        const QString dataDir = dir.filePath(QStringLiteral("d"));
        PrivateRedis first(dataDir);
        QVERIFY(!first.start());
        const qint64 pid = first.serverPid();
        QVERIFY(::kill(pid_t(pid), SIGSTOP) == 0);
        PrivateRedis second(dataDir);
        const auto problem = second.start(milliseconds { 400 });
        ::kill(pid_t(pid), SIGCONT);
        QVERIFY(problem);
        QVERIFY2(problem->contains(QStringLiteral("never replaced")), qPrintable(*problem));
        QVERIFY(!second.owned());
        QCOMPARE(second.serverPid(), pid); // the same server, still running
        QVERIFY(redisAnswersOnSocket(first.socketPath(), milliseconds { 2000 }));
        // Once it answers, the second process shares it.
        QVERIFY(!second.start());
        QVERIFY(!second.owned());
        QCOMPARE(second.serverPid(), pid);
    }

    void clearErrors()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("file"));
        QFile f(file);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        PrivateRedis underAFile(file + QStringLiteral("/data"));
        const auto problem = underAFile.start();
        QVERIFY(problem);
        QVERIFY2(problem->contains(QStringLiteral("cannot create")), qPrintable(*problem));

        PrivateRedis tooLong(dir.filePath(QString(120, QLatin1Char('d'))));
        const auto longProblem = tooLong.start();
        QVERIFY(longProblem);
        QVERIFY2(longProblem->contains(QStringLiteral("too long")), qPrintable(*longProblem));
    }

private:
    static RedisOptions options(const QString &url)
    {
        RedisOptions o;
        o.url = url;
        return o;
    }

    static RedisReply command(RedisClient &client, const QList<QByteArray> &argv)
    {
        std::optional<RedisResult> result;
        client.command(argv, [&](RedisResult r) { result.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&] { return result.has_value(); }, 10'000) || !result->ok())
            qFatal("redis command failed");
        return result->value();
    }
};

SLUICE_TEST_GUILESS_MAIN(TestPrivateRedis)
#include "tst_privateredis.moc"
