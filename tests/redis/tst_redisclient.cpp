// The Redis client against a private redis-server on a free loopback port: every reply type,
// server errors, pipelining, binary safety, a 10 MB value, SELECT, scripts with NOSCRIPT
// recovery, the queue-or-fail-fast policy, command timeouts, re-entrant callbacks, and
// protocol errors and connect timeouts (against a fake server).
#include "capturedreply.h"
#include "common/metatypes.h"
#include "common/suite.h"
#include "core/clock.h"
#include "redis/fleetclock.h"
#include "redis/redisclient.h"
#include "redisserver.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <cstdlib>
#include <memory>
#include <set>
#include <vector>

using namespace sluice;
using sluice::test::CapturedReply;
using sluice::test::execute;
using sluice::test::RedisServer;
using std::chrono::milliseconds;
using Kind = RedisError::Kind;
using State = RedisClient::State;

namespace {

RedisReply str(const char *s)
{
    return RedisReply::string(QByteArray(s));
}

RedisReply arr(std::vector<RedisReply> elements)
{
    return RedisReply::array(std::move(elements));
}

/// A loopback port nobody listens on (bound and released at once).
quint16 unusedPort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

/// Not Redis: accepts connections and answers each one's first bytes with `response`
/// (nothing at all when it is empty).
class FakeServer : public QObject
{
public:
    explicit FakeServer(QByteArray response)
        : m_response(std::move(response))
    {
        m_server.listen(QHostAddress::LocalHost, 0);
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                ++m_connections;
                connect(socket, &QTcpSocket::readyRead, socket, [this, socket] {
                    socket->readAll();
                    if (!m_response.isEmpty() && !socket->property("answered").toBool()) {
                        socket->setProperty("answered", true);
                        socket->write(m_response);
                    }
                });
            }
        });
    }
    quint16 port() const { return m_server.serverPort(); }
    int connections() const { return m_connections; }

private:
    QTcpServer m_server;
    QByteArray m_response;
    int m_connections = 0;
};

} // namespace

class TestRedisClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
        m_admin = connectedClient(options());
        QVERIFY(m_admin);
    }
    void cleanupTestCase()
    {
        m_admin.reset();
        m_server.kill();
    }

    void init()
    {
        m_prefix = QByteArray("tst_redisclient:") + QTest::currentTestFunction() + ':'
            + QByteArray::number(++m_testNumber) + ':';
        m_client = connectedClient(options());
        QVERIFY(m_client);
    }
    void cleanup()
    {
        m_client.reset();
        // Delete this test's keys (in every database a test used).
        for (const int db : { 0, 3 }) {
            QVERIFY(execute(*m_admin, { "SELECT", QByteArray::number(db) }).ok());
            const RedisResult keys = execute(*m_admin, { "KEYS", m_prefix + '*' });
            QVERIFY(keys.ok());
            for (const RedisReply &key : keys->elements())
                QVERIFY(execute(*m_admin, { "DEL", key.bytes() }).ok());
        }
        QVERIFY(execute(*m_admin, { "SELECT", "0" }).ok());
    }

    void fleetClockOffsetFromOneRoundTrip()
    {
        // Redis said 1000.250 s while we sent at 999,000 ms and heard back at 999,100 ms: the
        // midpoint 999,050 ms, so Redis is 1,200 ms ahead.
        QCOMPARE(fleetClockOffset(999'000, 999'100, 1000, 250'000), std::optional<qint64>(1200));
        QCOMPARE(fleetClockOffset(5000, 5000, 5, 0), std::optional<qint64>(0));
        QVERIFY(!fleetClockOffset(10, 5, 1000, 0)); // answered before asked
        QVERIFY(!fleetClockOffset(0, 1, 0, 0)); // not a TIME reply
        QVERIFY(!fleetClockOffset(0, 1, 1000, 1'000'000));
    }

    void fleetClockFollowsRedisNotTheLocalClock()
    {
        // A machine whose clock runs an hour ahead: the fleet's time is still Redis's.
        const qint64 skew = 3'600'000;
        FleetClock clock(m_client.get(), std::chrono::seconds { 60 },
                         [skew] { return wallClockMs() + skew; });
        QSignalSpy measured(&clock, &FleetClock::measured);
        QTRY_VERIFY(!measured.isEmpty());
        QVERIFY(clock.offsetMs().has_value());
        QVERIFY2(std::llabs(*clock.offsetMs() + skew) < 250,
                 qPrintable(QString::number(*clock.offsetMs())));
        QCOMPARE(fleetClockOffsetMs(), *clock.offsetMs());
        const RedisResult time = execute(*m_admin, { "TIME" });
        QVERIFY(time.ok());
        const qint64 redisMs
            = time->at(0).bytes().toLongLong() * 1000 + time->at(1).bytes().toLongLong() / 1000;
        // fleetClockMs() is the real wall clock plus the offset measured against the skewed one.
        QVERIFY(std::llabs((fleetClockMs() + skew) - redisMs) < 250);
        setFleetClockOffsetMs(0); // process-wide: leave it as found
    }

    void replyTypes_data()
    {
        QTest::addColumn<QList<QByteArrayList>>("setup");
        QTest::addColumn<QByteArrayList>("command");
        QTest::addColumn<RedisReply>("expected");
        QTest::newRow("status") << QList<QByteArrayList> {} << QByteArrayList { "SET", "$k", "v" }
                                << RedisReply::status("OK");
        QTest::newRow("bulk string") << QList<QByteArrayList> { { "SET", "$k", "hello" } }
                                     << QByteArrayList { "GET", "$k" } << str("hello");
        QTest::newRow("empty string is not nil")
            << QList<QByteArrayList> { { "SET", "$k", "" } } << QByteArrayList { "GET", "$k" }
            << RedisReply::string({});
        QTest::newRow("nil") << QList<QByteArrayList> {} << QByteArrayList { "GET", "$missing" }
                             << RedisReply::nil();
        QTest::newRow("integer") << QList<QByteArrayList> {}
                                 << QByteArrayList { "INCRBY", "$n", "42" }
                                 << RedisReply::integer(42);
        QTest::newRow("negative integer")
            << QList<QByteArrayList> {} << QByteArrayList { "INCRBY", "$n", "-7" }
            << RedisReply::integer(-7);
        QTest::newRow("64-bit integer")
            << QList<QByteArrayList> { { "SET", "$n", "9223372036854775806" } }
            << QByteArrayList { "INCR", "$n" } << RedisReply::integer(9223372036854775807LL);
        QTest::newRow("status TYPE")
            << QList<QByteArrayList> { { "RPUSH", "$l", "a" } } << QByteArrayList { "TYPE", "$l" }
            << RedisReply::status("list");
        QTest::newRow("array") << QList<QByteArrayList> { { "RPUSH", "$l", "a", "b", "c" } }
                               << QByteArrayList { "LRANGE", "$l", "0", "-1" }
                               << arr({ str("a"), str("b"), str("c") });
        QTest::newRow("empty array")
            << QList<QByteArrayList> {} << QByteArrayList { "LRANGE", "$missing", "0", "-1" }
            << arr({});
        QTest::newRow("nil inside array")
            << QList<QByteArrayList> { { "SET", "$k", "v" } }
            << QByteArrayList { "MGET", "$k", "$missing" } << arr({ str("v"), RedisReply::nil() });
        QTest::newRow("nested arrays")
            << QList<QByteArrayList> {}
            << QByteArrayList { "EVAL", "return {1, {2, {'x', {}}}, 'y'}", "0" }
            << arr({ RedisReply::integer(1),
                     arr({ RedisReply::integer(2), arr({ str("x"), arr({}) }) }), str("y") });
        QTest::newRow("status and error inside array")
            << QList<QByteArrayList> {}
            << QByteArrayList { "EVAL",
                                "return {redis.status_reply('FINE'), redis.error_reply('ERR "
                                "inner')}",
                                "0" }
            << arr({ RedisReply::status("FINE"), RedisReply::error("ERR inner") });
        QTest::newRow("error inside EXEC")
            << QList<QByteArrayList> { { "MULTI" }, { "SET", "$k", "s" }, { "INCR", "$k" } }
            << QByteArrayList { "EXEC" }
            << arr({ RedisReply::status("OK"),
                     RedisReply::error("ERR value is not an integer or out of range") });
        QTest::newRow("stream entries")
            << QList<QByteArrayList> { { "XADD", "$s", "1-1", "f", "v" } }
            << QByteArrayList { "XRANGE", "$s", "-", "+" }
            << arr({ arr({ str("1-1"), arr({ str("f"), str("v") }) }) });
    }
    void replyTypes()
    {
        QFETCH(QList<QByteArrayList>, setup);
        QFETCH(QByteArrayList, command);
        QFETCH(RedisReply, expected);
        for (const QByteArrayList &step : setup) {
            const RedisResult r = execute(*m_client, keys(step));
            QVERIFY2(r.ok(), qPrintable(r.ok() ? QString() : r.error().describe()));
        }
        CapturedReply got;
        m_client->command(keys(command), got.callback());
        QTRY_VERIFY(got.done());
        QVERIFY2(got.ok(), qPrintable(got.describe()));
        QVERIFY2(got.reply() == expected,
                 qPrintable(got.describe() + QStringLiteral(" != ") + expected.describe()));
        QCOMPARE(got.calls(), 1);
    }

    void serverErrors_data()
    {
        QTest::addColumn<QList<QByteArrayList>>("setup");
        QTest::addColumn<QByteArrayList>("command");
        QTest::addColumn<QByteArray>("code");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("wrong type")
            << QList<QByteArrayList> { { "SET", "$k", "v" } }
            << QByteArrayList { "LPUSH", "$k", "x" } << QByteArray("WRONGTYPE")
            << QStringLiteral("WRONGTYPE Operation against a key holding the wrong kind");
        QTest::newRow("unknown command") << QList<QByteArrayList> {} << QByteArrayList { "FOOBAR" }
                                         << QByteArray("ERR") << QStringLiteral("unknown command");
        QTest::newRow("wrong arity")
            << QList<QByteArrayList> {} << QByteArrayList { "GET" } << QByteArray("ERR")
            << QStringLiteral("wrong number of arguments");
        QTest::newRow("not an integer")
            << QList<QByteArrayList> { { "SET", "$k", "x" } } << QByteArrayList { "INCR", "$k" }
            << QByteArray("ERR") << QStringLiteral("not an integer");
        QTest::newRow("script's own error")
            << QList<QByteArrayList> {}
            << QByteArrayList { "EVAL", "return redis.error_reply('MYCODE custom')", "0" }
            << QByteArray("MYCODE") << QStringLiteral("MYCODE custom");
    }
    void serverErrors()
    {
        QFETCH(QList<QByteArrayList>, setup);
        QFETCH(QByteArrayList, command);
        QFETCH(QByteArray, code);
        QFETCH(QString, messagePart);
        for (const QByteArrayList &step : setup)
            QVERIFY(execute(*m_client, keys(step)).ok());
        QSignalSpy errors(m_client.get(), &RedisClient::errorOccurred);
        CapturedReply got;
        m_client->command(keys(command), got.callback());
        QTRY_VERIFY(got.done());
        QCOMPARE(got.errorKind(), Kind::Server);
        QCOMPARE(got.error().code, code);
        QVERIFY2(got.error().message.contains(messagePart), qPrintable(got.describe()));
        // A server error is an answer: the connection carries on.
        const RedisResult ping = execute(*m_client, { "PING" });
        QVERIFY(ping.ok());
        QCOMPARE(ping.value(), RedisReply::status("PONG"));
        QCOMPARE(m_client->state(), State::Connected);
        QCOMPARE(errors.count(), 0);
    }

    void emptyCommandIsUsageError()
    {
        CapturedReply got;
        m_client->command({}, got.callback());
        QCOMPARE(got.calls(), 0);
        QTRY_VERIFY(got.done());
        QCOMPARE(got.errorKind(), Kind::Usage);
    }

    void pipelineKeepsOrder()
    {
        constexpr int n = 1000;
        std::vector<int> order;
        QStringList wrong;
        for (int i = 0; i < n; ++i) {
            const bool incr = i % 2 == 0;
            const QByteArrayList argv = incr
                ? QByteArrayList { "INCR", m_prefix + "counter" }
                : QByteArrayList { "ECHO", "message " + QByteArray::number(i) };
            const RedisReply expected = incr
                ? RedisReply::integer(i / 2 + 1)
                : RedisReply::string("message " + QByteArray::number(i));
            m_client->command(argv, [&order, &wrong, i, expected](const RedisResult &r) {
                order.push_back(i);
                if (!r.ok() || r.value() != expected)
                    wrong.append(QString::number(i));
            });
        }
        QCOMPARE(m_client->pendingCount(), n); // all written before any reply was read
        QTRY_COMPARE(int(order.size()), n);
        for (int i = 0; i < n; ++i)
            QCOMPARE(order[size_t(i)], i);
        QVERIFY2(wrong.isEmpty(), qPrintable(wrong.join(QLatin1Char(' '))));
        QCOMPARE(m_client->pendingCount(), 0);
    }

    void binarySafety_data()
    {
        QTest::addColumn<QByteArray>("value");
        QByteArray all;
        for (int c = 0; c < 256; ++c)
            all.append(char(c));
        QTest::newRow("embedded NULs") << QByteArray("\0a\0b\0", 5);
        QTest::newRow("RESP look-alike") << QByteArray("\r\n$3\r\nfoo\r\n*1\r\n-ERR x\r\n");
        QTest::newRow("every byte value") << all;
        QTest::newRow("utf-8") << QStringLiteral("Zoë ✓ 日本").toUtf8();
        QTest::newRow("empty") << QByteArray();
    }
    void binarySafety()
    {
        QFETCH(QByteArray, value);
        const QByteArray key = m_prefix + "bin:" + value; // the key is binary too
        QCOMPARE(execute(*m_client, { "SET", key, value }).value(), RedisReply::status("OK"));
        QCOMPARE(execute(*m_client, { "GET", key }).value(), RedisReply::string(value));
        QCOMPARE(execute(*m_client, { "STRLEN", key }).value(), RedisReply::integer(value.size()));
        QCOMPARE(execute(*m_client, { "ECHO", value }).value(), RedisReply::string(value));
        const QByteArray list = m_prefix + "list";
        QVERIFY(execute(*m_client, { "RPUSH", list, value, value }).ok());
        QCOMPARE(execute(*m_client, { "LRANGE", list, "0", "-1" }).value(),
                 arr({ RedisReply::string(value), RedisReply::string(value) }));
        QCOMPARE(execute(*m_client, { "EXISTS", key }).value(), RedisReply::integer(1));
        QCOMPARE(execute(*m_client, { "TYPE", key }).value(), RedisReply::status("string"));
    }

    void largeValue()
    {
        QByteArray big(qsizetype(10) * 1024 * 1024, Qt::Uninitialized);
        QRandomGenerator random(42);
        random.fillRange(reinterpret_cast<quint32 *>(big.data()), big.size() / 4);
        big[100] = '\0';
        big.replace(200, 4, "\r\n\r\n");
        const QByteArray key = m_prefix + "big";
        QElapsedTimer timer;
        timer.start();
        QCOMPARE(execute(*m_client, { "SET", key, big }).value(), RedisReply::status("OK"));
        const RedisResult got = execute(*m_client, { "GET", key });
        QVERIFY(got.ok());
        QCOMPARE(got->bytes().size(), big.size());
        QVERIFY(got->bytes() == big);
        qInfo("10 MB SET + GET took %lld ms", timer.elapsed());
    }

    void selectsDatabaseBeforeQueuedCommands()
    {
        // Issued while Connecting: queued, and sent only after SELECT 3 succeeded.
        RedisClient db3(options(3));
        db3.connectToServer();
        QCOMPARE(db3.state(), State::Connecting);
        CapturedReply set;
        db3.command({ "SET", m_prefix + "k", "in db 3" }, set.callback());
        QTRY_VERIFY(set.done());
        QVERIFY2(set.ok(), qPrintable(set.describe()));
        const RedisResult info = execute(db3, { "CLIENT", "INFO" });
        QVERIFY(info.ok());
        QVERIFY2(info->bytes().contains(" db=3 "), info->bytes().constData());
        QCOMPARE(execute(*m_client, { "GET", m_prefix + "k" }).value(), RedisReply::nil());
        QCOMPARE(execute(db3, { "GET", m_prefix + "k" }).value(), str("in db 3"));
        QCOMPARE(execute(*m_client, { "EXISTS", m_prefix + "k" }).value(), RedisReply::integer(0));
    }

    void selectOfMissingDatabaseFails()
    {
        RedisOptions o = options(99); // the server has 16 databases
        o.reconnectBaseDelay = milliseconds { 60'000 };
        o.reconnectMaxDelay = milliseconds { 60'000 };
        RedisClient client(o);
        QSignalSpy errors(&client, &RedisClient::errorOccurred);
        client.connectToServer();
        CapturedReply queued;
        client.command({ "PING" }, queued.callback());
        QTRY_VERIFY(queued.done());
        QCOMPARE(queued.errorKind(), Kind::NotConnected);
        QVERIFY2(queued.error().message.contains(QStringLiteral("SELECT 99")),
                 qPrintable(queued.describe()));
        QVERIFY2(queued.error().message.contains(QStringLiteral("out of range")),
                 qPrintable(queued.describe()));
        QCOMPARE(client.state(), State::Reconnecting);
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.at(0).at(0).value<RedisError>().kind, Kind::Server);
    }

    void scriptsSurviveScriptFlush()
    {
        const QByteArray source = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
        const QByteArray sha = m_client->loadScript(QStringLiteral("incrby"), source);
        QCOMPARE(sha, QCryptographicHash::hash(source, QCryptographicHash::Sha1).toHex());
        QVERIFY(execute(*m_client, { "SCRIPT", "FLUSH" }).ok());
        const QByteArray counter = m_prefix + "counter";

        // Unknown to the server: NOSCRIPT, then SCRIPT LOAD and the call again.
        CapturedReply first;
        m_client->evalScript(QStringLiteral("incrby"), { counter }, { "5" }, first.callback());
        QTRY_VERIFY(first.done());
        QVERIFY2(first.ok(), qPrintable(first.describe()));
        QCOMPARE(first.reply(), RedisReply::integer(5));
        QCOMPARE(first.calls(), 1);
        QCOMPARE(execute(*m_client, { "SCRIPT", "EXISTS", sha }).value(),
                 arr({ RedisReply::integer(1) }));
        // The server agrees on the SHA.
        QCOMPARE(execute(*m_client, { "SCRIPT", "LOAD", source }).value(), str(sha.constData()));

        CapturedReply second;
        m_client->evalScript(QStringLiteral("incrby"), { counter }, { "5" }, second.callback());
        QTRY_VERIFY(second.done());
        QCOMPARE(second.reply(), RedisReply::integer(10));

        // Flushed again, with 20 calls pipelined behind the flush: every one recovers.
        QVERIFY(execute(*m_client, { "SCRIPT", "FLUSH" }).ok());
        std::vector<CapturedReply> calls(20);
        for (CapturedReply &c : calls)
            m_client->evalScript(QStringLiteral("incrby"), { counter }, { "1" }, c.callback());
        QTRY_VERIFY(std::all_of(calls.begin(), calls.end(), [](auto &c) { return c.done(); }));
        std::set<qint64> values;
        for (const CapturedReply &c : calls) {
            QVERIFY2(c.ok(), qPrintable(c.describe()));
            QCOMPARE(c.calls(), 1);
            values.insert(c.reply().integer());
        }
        QCOMPARE(int(values.size()), 20);
        QCOMPARE(*values.begin(), 11);
        QCOMPARE(*values.rbegin(), 30);
        QCOMPARE(m_client->state(), State::Connected);
    }

    /// A burst of calls right after connecting (and after a script is registered while
    /// connected) meets no NOSCRIPT: the client loads its scripts first.
    void scriptsAreLoadedBeforeTheFirstCall()
    {
        QVERIFY(execute(*m_client, { "SCRIPT", "FLUSH" }).ok());
        auto noScripts = [this] {
            const QByteArray info = execute(*m_client, { "INFO", "errorstats" }).value().bytes();
            static const QRegularExpression re(QStringLiteral("errorstat_NOSCRIPT:count=(\\d+)"));
            return re.match(QString::fromLatin1(info)).captured(1).toInt();
        };
        // One NOSCRIPT on purpose, so the count is known to be read.
        QVERIFY(!execute(*m_client, { "EVALSHA", QByteArray(40, 'a'), "0" }).ok());
        const int before = noScripts();
        QVERIFY(before >= 1);
        RedisOptions options = m_client->options();
        RedisClient fresh(options);
        fresh.loadScript(QStringLiteral("echo1"), "return ARGV[1]");
        fresh.connectToServer();
        std::vector<CapturedReply> calls(30);
        for (CapturedReply &c : calls)
            fresh.evalScript(QStringLiteral("echo1"), {}, { "x" }, c.callback());
        QTRY_VERIFY(std::all_of(calls.begin(), calls.end(), [](auto &c) { return c.done(); }));
        for (const CapturedReply &c : calls)
            QVERIFY2(c.ok(), qPrintable(c.describe()));
        QCOMPARE(noScripts(), before);

        // Registered while connected: loaded at once, ahead of the calls that follow.
        fresh.loadScript(QStringLiteral("echo2"), "return ARGV[1] .. '!'");
        CapturedReply late;
        fresh.evalScript(QStringLiteral("echo2"), {}, { "y" }, late.callback());
        QTRY_VERIFY(late.done());
        QVERIFY2(late.ok(), qPrintable(late.describe()));
        QCOMPARE(late.reply().bytes(), QByteArray("y!"));
        QCOMPARE(noScripts(), before);
    }

    void scriptErrors_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QByteArray>("source"); // empty: not registered
        QTest::addColumn<Kind>("kind");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("unknown name") << QStringLiteral("nope") << QByteArray() << Kind::NoScript
                                      << QStringLiteral("no script named 'nope'");
        QTest::newRow("does not compile")
            << QStringLiteral("broken") << QByteArray("return +") << Kind::Server
            << QStringLiteral("Error compiling script");
        QTest::newRow("fails when run")
            << QStringLiteral("bad call") << QByteArray("return redis.call('NOSUCHCOMMAND')")
            << Kind::Server << QStringLiteral("Unknown Redis command");
    }
    void scriptErrors()
    {
        QFETCH(QString, name);
        QFETCH(QByteArray, source);
        QFETCH(Kind, kind);
        QFETCH(QString, messagePart);
        if (!source.isEmpty())
            m_client->loadScript(name, source);
        CapturedReply got;
        m_client->evalScript(name, {}, {}, got.callback());
        QCOMPARE(got.calls(), 0);
        QTRY_VERIFY(got.done());
        QCOMPARE(got.errorKind(), kind);
        QVERIFY2(got.error().message.contains(messagePart), qPrintable(got.describe()));
        QCOMPARE(got.calls(), 1);
        QVERIFY(execute(*m_client, { "PING" }).ok());
    }

    void failsFastWhenDisconnected()
    {
        RedisClient client(options());
        CapturedReply got;
        client.command({ "PING" }, got.callback());
        QCOMPARE(got.calls(), 0); // never from inside command()
        QTRY_VERIFY(got.done());
        QCOMPARE(got.errorKind(), Kind::NotConnected);
        QVERIFY2(got.error().message.contains(QStringLiteral("not connected to redis://")),
                 qPrintable(got.describe()));
        QCOMPARE(client.state(), State::Disconnected);
    }

    void invalidOptionsStayDisconnected()
    {
        RedisOptions o = options();
        o.url = QStringLiteral("redis://:hunter2@host:99999");
        RedisClient client(o);
        QSignalSpy errors(&client, &RedisClient::errorOccurred);
        client.connectToServer();
        QCOMPARE(client.state(), State::Disconnected);
        QCOMPARE(errors.count(), 1);
        const auto error = errors.at(0).at(0).value<RedisError>();
        QCOMPARE(error.kind, Kind::Usage);
        QVERIFY2(error.message.contains(QStringLiteral("port '99999'")), qPrintable(error.message));
        QVERIFY(!client.displayUrl().contains(QStringLiteral("hunter2")));
        CapturedReply got;
        client.command({ "PING" }, got.callback());
        QTRY_VERIFY(got.done());
        QCOMPARE(got.errorKind(), Kind::NotConnected);
        QVERIFY(!got.error().message.contains(QStringLiteral("hunter2")));
    }

    void queuesWhileConnecting()
    {
        RedisClient client(options());
        QSignalSpy states(&client, &RedisClient::stateChanged);
        client.connectToServer();
        QCOMPARE(client.state(), State::Connecting);
        std::vector<int> order;
        CapturedReply get;
        client.command({ "SET", m_prefix + "k", "1" },
                       [&](const RedisResult &) { order.push_back(0); });
        client.command({ "INCR", m_prefix + "k" },
                       [&](const RedisResult &) { order.push_back(1); });
        client.command({ "GET", m_prefix + "k" }, get.callback());
        QCOMPARE(client.pendingCount(), 3);
        QTRY_VERIFY(get.done());
        QCOMPARE(get.reply(), str("2"));
        QCOMPARE(order, (std::vector<int> { 0, 1 }));
        QCOMPARE(states.count(), 2);
        QCOMPARE(states.at(0).at(0).value<State>(), State::Connecting);
        QCOMPARE(states.at(1).at(0).value<State>(), State::Connected);
    }

    void queueIsBounded()
    {
        RedisOptions o = options();
        o.maxQueuedCommands = 2;
        RedisClient client(o);
        client.connectToServer();
        CapturedReply a, b, c;
        client.command({ "PING" }, a.callback());
        client.command({ "PING" }, b.callback());
        client.command({ "PING" }, c.callback());
        QTRY_VERIFY(a.done() && b.done() && c.done());
        QVERIFY(a.ok());
        QVERIFY(b.ok());
        QCOMPARE(c.errorKind(), Kind::NotConnected);
        QVERIFY2(c.error().message.contains(QStringLiteral("2 commands are already waiting")),
                 qPrintable(c.describe()));
    }

    void failsFastWhileReconnecting()
    {
        RedisOptions o = options();
        const quint16 port = unusedPort();
        o.url = QStringLiteral("redis://127.0.0.1:%1/0").arg(port);
        o.reconnectBaseDelay = milliseconds { 60'000 }; // stay Reconnecting for this test
        o.reconnectMaxDelay = milliseconds { 60'000 };
        RedisClient client(o);
        QSignalSpy errors(&client, &RedisClient::errorOccurred);
        client.connectToServer();
        CapturedReply queued;
        client.command({ "PING" }, queued.callback());
        QTRY_VERIFY(queued.done());
        QCOMPARE(queued.errorKind(), Kind::NotConnected);
        QVERIFY2(queued.error().message.contains(QStringLiteral("not sent: cannot connect to "
                                                                "redis://127.0.0.1:%1/0")
                                                     .arg(port)),
                 qPrintable(queued.describe()));
        QCOMPARE(client.state(), State::Reconnecting);
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.at(0).at(0).value<RedisError>().kind, Kind::NotConnected);
        QVERIFY(client.lastError().has_value());

        CapturedReply later;
        client.command({ "PING" }, later.callback());
        QTRY_VERIFY(later.done());
        QCOMPARE(later.errorKind(), Kind::NotConnected);
        QVERIFY2(later.error().message.contains(QStringLiteral("reconnecting")),
                 qPrintable(later.describe()));
        QCOMPARE(errors.count(), 1); // failed fast: no new attempt was made for it
    }

    void commandTimeoutResetsConnection()
    {
        RedisOptions o = options();
        o.commandTimeout = milliseconds { 200 };
        auto client = connectedClient(o);
        QVERIFY(client);
        QSignalSpy errors(client.get(), &RedisClient::errorOccurred);
        QElapsedTimer timer;
        timer.start();
        CapturedReply slow, behind;
        client->command({ "DEBUG", "SLEEP", "1" }, slow.callback());
        client->command({ "PING" }, behind.callback());
        QTRY_VERIFY(slow.done());
        const qint64 waited = timer.elapsed();
        QCOMPARE(slow.errorKind(), Kind::Timeout);
        QVERIFY2(waited >= 200 && waited < 1000, qPrintable(QString::number(waited)));
        QVERIFY2(slow.error().message.contains(QStringLiteral("within 200 ms")),
                 qPrintable(slow.describe()));
        QTRY_VERIFY(behind.done());
        QCOMPARE(behind.errorKind(), Kind::ConnectionLost);
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.at(0).at(0).value<RedisError>().kind, Kind::Timeout);

        // A fresh connection; the server is still asleep, so give this command more time.
        QTRY_COMPARE(client->state(), State::Connected);
        CapturedReply after;
        client->command({ "PING" }, after.callback(), milliseconds { 5000 });
        QTRY_VERIFY(after.done());
        QVERIFY2(after.ok(), qPrintable(after.describe()));
        QCOMPARE(slow.calls(), 1);
        QCOMPARE(behind.calls(), 1);
    }

    void commandMayExtendItsTimeout()
    {
        RedisOptions o = options();
        o.commandTimeout = milliseconds { 200 };
        auto client = connectedClient(o);
        QVERIFY(client);
        QSignalSpy errors(client.get(), &RedisClient::errorOccurred);
        // The PING arms the timeout timer for 200 ms; when it fires, only the long-timeout
        // command is in flight, so the timer is armed again for that one. (Pipelined behind
        // the sleep, the PING would time out: Redis flushes both replies after the sleep.)
        QVERIFY(execute(*client, { "PING" }).ok());
        CapturedReply slow;
        client->command({ "DEBUG", "SLEEP", "0.4" }, slow.callback(), milliseconds { 5000 });
        QTRY_VERIFY(slow.done());
        QVERIFY2(slow.ok(), qPrintable(slow.describe()));
        QCOMPARE(client->state(), State::Connected);
        QCOMPARE(errors.count(), 0);
    }

    void protocolErrorsResetConnection_data()
    {
        QTest::addColumn<QByteArray>("response");
        QTest::addColumn<bool>("firstOk");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("unknown type byte")
            << QByteArray("?what\r\n") << false << QStringLiteral("malformed reply");
        QTest::newRow("bad bulk length")
            << QByteArray("$x\r\n") << false << QStringLiteral("malformed reply");
        QTest::newRow("reply nobody asked for")
            << QByteArray("+OK\r\n+EXTRA\r\n") << true << QStringLiteral("nobody asked for");
    }
    void protocolErrorsResetConnection()
    {
        QFETCH(QByteArray, response);
        QFETCH(bool, firstOk);
        QFETCH(QString, messagePart);
        FakeServer fake(response);
        RedisOptions o = options();
        o.url = QStringLiteral("redis://127.0.0.1:%1/0").arg(fake.port());
        auto client = connectedClient(o);
        QVERIFY(client);
        QSignalSpy errors(client.get(), &RedisClient::errorOccurred);
        CapturedReply got;
        client->command({ "PING" }, got.callback());
        QTRY_VERIFY(got.done());
        QTRY_COMPARE(errors.count(), 1);
        const auto error = errors.at(0).at(0).value<RedisError>();
        QCOMPARE(error.kind, Kind::Protocol);
        QVERIFY2(error.message.contains(messagePart), qPrintable(error.message));
        if (firstOk) {
            QCOMPARE(got.reply(), RedisReply::status("OK"));
        } else {
            QCOMPARE(got.errorKind(), Kind::ConnectionLost);
            QVERIFY2(got.error().message.contains(messagePart), qPrintable(got.describe()));
        }
        QCOMPARE(got.calls(), 1);
        QTRY_COMPARE(fake.connections(), 2); // reset, then connected again
    }

    void handshakeTimeout()
    {
        FakeServer silent({}); // accepts, never answers AUTH
        RedisOptions o = options();
        o.url = QStringLiteral("redis://:hunter2@127.0.0.1:%1/0").arg(silent.port());
        o.connectTimeout = milliseconds { 200 };
        o.reconnectBaseDelay = milliseconds { 60'000 };
        o.reconnectMaxDelay = milliseconds { 60'000 };
        RedisClient client(o);
        QSignalSpy errors(&client, &RedisClient::errorOccurred);
        client.connectToServer();
        CapturedReply queued;
        client.command({ "PING" }, queued.callback());
        QTRY_VERIFY(queued.done());
        QCOMPARE(queued.errorKind(), Kind::NotConnected);
        QVERIFY2(queued.error().message.contains(QStringLiteral("did not answer AUTH/SELECT "
                                                                "within 200 ms")),
                 qPrintable(queued.describe()));
        QVERIFY(!queued.error().message.contains(QStringLiteral("hunter2")));
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.at(0).at(0).value<RedisError>().kind, Kind::Timeout);
        QCOMPARE(client.state(), State::Reconnecting);
    }

    void queuedCommandsExpire()
    {
        FakeServer silent({}); // accepts, never answers AUTH: the client stays Connecting
        RedisOptions o = options();
        o.url = QStringLiteral("redis://:pw@127.0.0.1:%1/0").arg(silent.port());
        o.commandTimeout = milliseconds { 200 };
        o.connectTimeout = milliseconds { 60'000 };
        RedisClient client(o);
        client.connectToServer();
        QElapsedTimer timer;
        timer.start();
        qint64 firstAfter = -1, secondAfter = -1;
        CapturedReply first, second;
        const RedisCallback firstDone = first.callback(), secondDone = second.callback();
        client.command({ "PING" }, [&](const RedisResult &r) {
            firstAfter = timer.elapsed();
            firstDone(r);
        });
        client.command(
            { "PING" },
            [&](const RedisResult &r) {
                secondAfter = timer.elapsed();
                secondDone(r);
            },
            milliseconds { 400 });
        QTRY_VERIFY(first.done() && second.done());
        QCOMPARE(first.errorKind(), Kind::NotConnected);
        QVERIFY2(first.error().message.contains(QStringLiteral("still connecting")),
                 qPrintable(first.describe()));
        QCOMPARE(second.errorKind(), Kind::NotConnected);
        QVERIFY2(firstAfter >= 200, qPrintable(QString::number(firstAfter)));
        QVERIFY2(secondAfter >= 400, qPrintable(QString::number(secondAfter)));
        QCOMPARE(client.state(), State::Connecting); // unsent commands do not reset anything
        QCOMPARE(client.pendingCount(), 1); // the AUTH of the handshake
    }

    void deeplyNestedReplyIsProtocolError()
    {
        // hiredis 0.14 parses at most 7 levels of arrays.
        QSignalSpy errors(m_client.get(), &RedisClient::errorOccurred);
        CapturedReply deep;
        m_client->command({ "EVAL", "return {{{{{{{{{1}}}}}}}}}", "0" }, deep.callback());
        QTRY_VERIFY(deep.done());
        QCOMPARE(deep.errorKind(), Kind::ConnectionLost);
        QCOMPARE(errors.count(), 1);
        QCOMPARE(errors.at(0).at(0).value<RedisError>().kind, Kind::Protocol);
        QTRY_COMPARE(m_client->state(), State::Connected);
        QVERIFY(execute(*m_client, { "PING" }).ok());
    }

    void callbacksMayIssueCommands()
    {
        // Each command is issued by the previous one's callback; a local event loop runs
        // them back to back (QTRY_* would add a pause per round trip).
        int done = 0;
        QEventLoop loop;
        std::function<void(const RedisResult &)> next;
        next = [&](const RedisResult &r) {
            if (!r.ok() || ++done == 200) {
                loop.quit();
                return;
            }
            m_client->command({ "INCR", m_prefix + "chain" }, next);
        };
        m_client->command({ "INCR", m_prefix + "chain" }, next);
        QTimer::singleShot(10'000, &loop, &QEventLoop::quit);
        loop.exec();
        QCOMPARE(done, 200);
        QCOMPARE(execute(*m_client, { "GET", m_prefix + "chain" }).value(), str("200"));
    }

    void callbackMayDestroyClient()
    {
        auto *client = connectedClient(options()).release();
        QVERIFY(client);
        bool first = false;
        CapturedReply second, third;
        client->command({ "PING" }, [&](const RedisResult &) {
            first = true;
            delete client;
        });
        client->command({ "PING" }, second.callback());
        client->command({ "PING" }, third.callback());
        QTRY_VERIFY(first);
        QVERIFY(execute(*m_client, { "PING" }).ok()); // the server has answered them all
        QCOMPARE(second.calls(), 0); // discarded with the client
        QCOMPARE(third.calls(), 0);
    }

    void callbackMayDisconnect()
    {
        CapturedReply second, afterwards;
        m_client->command({ "PING" }, [&](const RedisResult &) {
            m_client->disconnectFromServer();
            m_client->command({ "PING" }, afterwards.callback());
        });
        m_client->command({ "PING" }, second.callback());
        QTRY_VERIFY(second.done() && afterwards.done());
        QCOMPARE(second.errorKind(), Kind::ConnectionLost);
        QCOMPARE(afterwards.errorKind(), Kind::NotConnected);
        QCOMPARE(second.calls(), 1);
        QCOMPARE(m_client->state(), State::Disconnected);
    }

    void disconnectFailsPendingAndReconnects()
    {
        CapturedReply sleeping;
        m_client->command({ "DEBUG", "SLEEP", "0.1" }, sleeping.callback());
        m_client->disconnectFromServer();
        QCOMPARE(sleeping.calls(), 0); // from the event loop, not inside disconnectFromServer()
        QCOMPARE(m_client->state(), State::Disconnected);
        QTRY_VERIFY(sleeping.done());
        QCOMPARE(sleeping.errorKind(), Kind::ConnectionLost);
        QVERIFY2(sleeping.error().message.contains(QStringLiteral("by request")),
                 qPrintable(sleeping.describe()));
        m_client->connectToServer();
        QTRY_COMPARE(m_client->state(), State::Connected);
        QVERIFY(execute(*m_client, { "PING" }).ok());
        QCOMPARE(sleeping.calls(), 1);
    }

private:
    RedisOptions options(int db = 0) const
    {
        RedisOptions o;
        o.url = m_server.url(db);
        o.commandTimeout = milliseconds { 20'000 }; // a 10 MB value under the sanitizers
        o.reconnectBaseDelay = milliseconds { 20 };
        o.reconnectMaxDelay = milliseconds { 200 };
        return o;
    }

    std::unique_ptr<RedisClient> connectedClient(const RedisOptions &o)
    {
        auto client = std::make_unique<RedisClient>(o);
        client->connectToServer();
        if (!QTest::qWaitFor([&] { return client->state() == State::Connected; }, 10'000))
            return nullptr;
        return client;
    }

    /// "$name" arguments become this test's keys.
    QByteArrayList keys(QByteArrayList argv) const
    {
        for (QByteArray &arg : argv)
            if (arg.startsWith('$'))
                arg = m_prefix + arg.mid(1);
        return argv;
    }

    RedisServer m_server;
    std::unique_ptr<RedisClient> m_admin; ///< deletes each test's keys
    std::unique_ptr<RedisClient> m_client;
    QByteArray m_prefix;
    int m_testNumber = 0;
};

SLUICE_TEST_GUILESS_MAIN(TestRedisClient)
#include "tst_redisclient.moc"
