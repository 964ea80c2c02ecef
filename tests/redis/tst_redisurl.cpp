// Pure logic of the Redis client: URL parsing and masking, options validation, the reconnect
// back-off, reply values and the classification of server errors. No server, no I/O.
#include "common/metatypes.h"
#include "common/suite.h"
#include "redis/rediserror.h"
#include "redis/redisoptions.h"
#include "redis/redisreply.h"
#include "redis/redisurl.h"

#include <QTemporaryDir>
#include <QTest>

using namespace sluice;
using std::chrono::milliseconds;

namespace {
const QString kMask = QStringLiteral("\u2022\u2022\u2022\u2022");
}

class TestRedisUrl : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parsesGoodUrls_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<RedisUrl::Transport>("transport");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::addColumn<QString>("socketPath");
        QTest::addColumn<QString>("user");
        QTest::addColumn<QString>("password");
        QTest::addColumn<int>("db");
        QTest::addColumn<QString>("display");
        using T = RedisUrl::Transport;
        const QString none;
        QTest::newRow("plain") << QStringLiteral("redis://127.0.0.1:6379/0") << T::Tcp
                               << QStringLiteral("127.0.0.1") << 6379 << none << none << none << 0
                               << QStringLiteral("redis://127.0.0.1:6379/0");
        QTest::newRow("defaults") << QStringLiteral("redis://localhost") << T::Tcp
                                  << QStringLiteral("localhost") << 6379 << none << none << none
                                  << 0 << QStringLiteral("redis://localhost:6379/0");
        QTest::newRow("trailing slash")
            << QStringLiteral("redis://cache-1.internal:7000/") << T::Tcp
            << QStringLiteral("cache-1.internal") << 7000 << none << none << none << 0
            << QStringLiteral("redis://cache-1.internal:7000/0");
        QTest::newRow("password and db")
            << QStringLiteral("redis://:s3cret@redis.internal:6380/2") << T::Tcp
            << QStringLiteral("redis.internal") << 6380 << none << none << QStringLiteral("s3cret")
            << 2 << QStringLiteral("redis://:") + kMask + QStringLiteral("@redis.internal:6380/2");
        QTest::newRow("user and percent-encoded password")
            << QStringLiteral("redis://app:p%40ss%2Fw%3Ard@host:1/15") << T::Tcp
            << QStringLiteral("host") << 1 << none << QStringLiteral("app")
            << QStringLiteral("p@ss/w:rd") << 15
            << QStringLiteral("redis://app:") + kMask + QStringLiteral("@host:1/15");
        QTest::newRow("raw specials in password")
            << QStringLiteral("redis://:p@ss/w#rd?x@host:7001/3") << T::Tcp
            << QStringLiteral("host") << 7001 << none << none << QStringLiteral("p@ss/w#rd?x") << 3
            << QStringLiteral("redis://:") + kMask + QStringLiteral("@host:7001/3");
        QTest::newRow("tls with user (Heroku, cloud)")
            << QStringLiteral("rediss://default:tok3n@db.example.com:25061") << T::Tls
            << QStringLiteral("db.example.com") << 25061 << none << QStringLiteral("default")
            << QStringLiteral("tok3n") << 0
            << QStringLiteral("rediss://default:") + kMask
                + QStringLiteral("@db.example.com:25061/0");
        QTest::newRow("scheme case, spaces")
            << QStringLiteral("  REDISS://Host_1:1/0 ") << T::Tls << QStringLiteral("Host_1") << 1
            << none << none << none << 0 << QStringLiteral("rediss://Host_1:1/0");
        QTest::newRow("ipv6") << QStringLiteral("redis://[::1]:6379/1") << T::Tcp
                              << QStringLiteral("::1") << 6379 << none << none << none << 1
                              << QStringLiteral("redis://[::1]:6379/1");
        QTest::newRow("ipv6 default port")
            << QStringLiteral("redis://[fe80::1]") << T::Tcp << QStringLiteral("fe80::1") << 6379
            << none << none << none << 0 << QStringLiteral("redis://[fe80::1]:6379/0");
        QTest::newRow("db as parameter")
            << QStringLiteral("redis://h:9/?db=4") << T::Tcp << QStringLiteral("h") << 9 << none
            << none << none << 4 << QStringLiteral("redis://h:9/4");
        QTest::newRow("unix") << QStringLiteral("unix:///tmp/redis.sock") << T::Unix
                              << QStringLiteral("127.0.0.1") << 6379
                              << QStringLiteral("/tmp/redis.sock") << none << none << 0
                              << QStringLiteral("unix:///tmp/redis.sock");
        QTest::newRow("unix with db")
            << QStringLiteral("unix:///run/redis/redis-server.sock?db=3") << T::Unix
            << QStringLiteral("127.0.0.1") << 6379 << QStringLiteral("/run/redis/redis-server.sock")
            << none << none << 3 << QStringLiteral("unix:///run/redis/redis-server.sock?db=3");
        QTest::newRow("unix with password")
            << QStringLiteral("unix://:pw@/run/r.sock") << T::Unix << QStringLiteral("127.0.0.1")
            << 6379 << QStringLiteral("/run/r.sock") << none << QStringLiteral("pw") << 0
            << QStringLiteral("unix://:") + kMask + QStringLiteral("@/run/r.sock");
    }
    void parsesGoodUrls()
    {
        QFETCH(QString, text);
        QFETCH(RedisUrl::Transport, transport);
        QFETCH(QString, host);
        QFETCH(int, port);
        QFETCH(QString, socketPath);
        QFETCH(QString, user);
        QFETCH(QString, password);
        QFETCH(int, db);
        QFETCH(QString, display);
        const auto parsed = RedisUrl::parse(text);
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error()));
        QCOMPARE(parsed->transport, transport);
        QCOMPARE(parsed->host, host);
        QCOMPARE(int(parsed->port), port);
        QCOMPARE(parsed->socketPath, socketPath);
        QCOMPARE(parsed->user, user);
        QCOMPARE(parsed->password, password);
        QCOMPARE(parsed->db, db);
        QCOMPARE(parsed->toDisplayString(), display);
        QCOMPARE(maskRedisUrl(text), display);
        if (!password.isEmpty())
            QVERIFY(!parsed->toDisplayString().contains(password));
    }

    void rejectsBadUrls_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("messagePart");
        const auto row = [](const char *name, const char *text, const char *part) {
            QTest::newRow(name) << QString::fromUtf8(text) << QString::fromUtf8(part);
        };
        row("empty", "   ", "empty");
        row("no scheme", "localhost:6379", "no scheme");
        row("other scheme", "http://:hunter2@host", "unsupported scheme 'http'");
        row("no host", "redis://:hunter2@", "no host");
        row("no host before port", "redis://:hunter2@:6379/0", "no host");
        row("port zero", "redis://:hunter2@host:0", "port '0' is not a number from 1 to 65535");
        row("port too big", "redis://:hunter2@host:65536", "port '65536'");
        row("port not a number", "redis://:hunter2@host:abc/1", "port 'abc'");
        row("empty port", "redis://host:/1", "port after ':' is empty");
        row("db not a number", "redis://:hunter2@host/abc", "database 'abc'");
        row("negative db", "redis://:hunter2@host/-1", "database '-1'");
        row("extra path", "redis://:hunter2@host/1/2", "database '1/2'");
        row("user without password", "redis://hunter2@host", "without a password");
        row("empty password", "redis://hunter2:@host", "password after ':' is empty");
        row("bare ipv6", "redis://::1:6379", "in brackets");
        row("unclosed ipv6", "redis://:hunter2@[::1", "closing ']'");
        row("bracketed non-ipv6", "redis://[hunter]:1", "not an IPv6 address");
        row("bad host", "redis://:hunter2@ho st:1", "'ho st' is not a valid host name");
        row("unknown parameter", "redis://:hunter2@host/1?timeout=3",
            "unknown parameter 'timeout'");
        row("two databases", "redis://host/1?db=2", "two different databases");
        row("bad db parameter", "unix:///tmp/r.sock?db=x", "database 'x'");
        row("relative socket", "unix://:hunter2@relative/path", "not absolute");
        row("no socket path", "unix://", "no socket path");
        row("fragment", "redis://:hunter2@host:1/0#x", "fragment");
    }
    void rejectsBadUrls()
    {
        QFETCH(QString, text);
        QFETCH(QString, messagePart);
        const auto parsed = RedisUrl::parse(text);
        QVERIFY(!parsed.ok());
        QVERIFY2(parsed.error().contains(messagePart), qPrintable(parsed.error()));
        QVERIFY2(parsed.error().startsWith(QStringLiteral("invalid Redis URL: ")),
                 qPrintable(parsed.error()));
        QVERIFY2(!parsed.error().contains(QStringLiteral("hunter2")), qPrintable(parsed.error()));
        RedisOptions options;
        options.url = text;
        QCOMPARE(options.problem(), std::optional<QString>(parsed.error()));
        QVERIFY(!maskRedisUrl(text).contains(QStringLiteral("hunter2")));
    }

    void masksUnparsableUrls_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("masked");
        QTest::newRow("bad port") << QStringLiteral("redis://:hunter2@host:99999")
                                  << QStringLiteral("redis://") + kMask
                + QStringLiteral("@host:99999");
        QTest::newRow("no scheme")
            << QStringLiteral("user:hunter2@host") << kMask + QStringLiteral("@host");
        QTest::newRow("nothing secret")
            << QStringLiteral("redis://host:99999") << QStringLiteral("redis://host:99999");
    }
    void masksUnparsableUrls()
    {
        QFETCH(QString, text);
        QFETCH(QString, masked);
        QCOMPARE(maskRedisUrl(text), masked);
    }

    void optionsProblems_data()
    {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QString>("messagePart"); // empty: no problem
        QTest::newRow("defaults") << QString() << QString();
        QTest::newRow("missing CA file")
            << QStringLiteral("missingCa") << QStringLiteral("cannot be read");
        QTest::newRow("CA file without certificate")
            << QStringLiteral("garbageCa") << QStringLiteral("holds no PEM certificate");
        QTest::newRow("zero connect timeout")
            << QStringLiteral("connectTimeout") << QStringLiteral("connect timeout");
        QTest::newRow("zero command timeout")
            << QStringLiteral("commandTimeout") << QStringLiteral("command timeout");
        QTest::newRow("zero base delay")
            << QStringLiteral("baseDelay") << QStringLiteral("base delay");
        QTest::newRow("cap below base") << QStringLiteral("cap") << QStringLiteral("maximum");
        QTest::newRow("negative queue") << QStringLiteral("queue") << QStringLiteral("queue");
    }
    void optionsProblems()
    {
        QFETCH(QString, what);
        QFETCH(QString, messagePart);
        QTemporaryDir dir;
        RedisOptions options;
        if (what == QLatin1String("missingCa"))
            options.caFile = dir.filePath(QStringLiteral("nope.pem"));
        if (what == QLatin1String("garbageCa")) {
            options.caFile = dir.filePath(QStringLiteral("garbage.pem"));
            QFile file(options.caFile);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write("not a certificate\n");
        }
        if (what == QLatin1String("connectTimeout"))
            options.connectTimeout = milliseconds { 0 };
        if (what == QLatin1String("commandTimeout"))
            options.commandTimeout = milliseconds { -1 };
        if (what == QLatin1String("baseDelay"))
            options.reconnectBaseDelay = milliseconds { 0 };
        if (what == QLatin1String("cap"))
            options.reconnectMaxDelay = milliseconds { 50 };
        if (what == QLatin1String("queue"))
            options.maxQueuedCommands = -1;
        const auto problem = options.problem();
        if (messagePart.isEmpty()) {
            QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
            return;
        }
        QVERIFY(problem);
        QVERIFY2(problem->contains(messagePart), qPrintable(*problem));
    }

    void backoff_data()
    {
        QTest::addColumn<int>("attempt");
        QTest::addColumn<int>("baseMs");
        QTest::addColumn<int>("capMs");
        QTest::addColumn<double>("jitter");
        QTest::addColumn<int>("expectedMs");
        QTest::newRow("first, no jitter") << 1 << 100 << 5000 << 0.0 << 50;
        QTest::newRow("first, full jitter") << 1 << 100 << 5000 << 1.0 << 100;
        QTest::newRow("second, half jitter") << 2 << 100 << 5000 << 0.5 << 150;
        QTest::newRow("third") << 3 << 100 << 5000 << 0.0 << 200;
        QTest::newRow("sixth") << 6 << 100 << 5000 << 1.0 << 3200;
        QTest::newRow("seventh hits the cap") << 7 << 100 << 5000 << 0.0 << 2500;
        QTest::newRow("capped, full jitter") << 20 << 100 << 5000 << 1.0 << 5000;
        QTest::newRow("huge attempt, no overflow") << 100000 << 100 << 5000 << 0.5 << 3750;
        QTest::newRow("attempt 0 counts as 1") << 0 << 100 << 5000 << 0.0 << 50;
        QTest::newRow("jitter clamped") << 1 << 100 << 5000 << 7.0 << 100;
        QTest::newRow("base equals cap") << 4 << 300 << 300 << 0.0 << 150;
    }
    void backoff()
    {
        QFETCH(int, attempt);
        QFETCH(int, baseMs);
        QFETCH(int, capMs);
        QFETCH(double, jitter);
        QFETCH(int, expectedMs);
        QCOMPARE(
            backoffDelay(attempt, milliseconds { baseMs }, milliseconds { capMs }, jitter).count(),
            expectedMs);
    }

    void backoffNeverShrinks()
    {
        for (const double jitter : { 0.0, 0.3, 0.999 }) {
            milliseconds previous { 0 };
            for (int attempt = 1; attempt < 40; ++attempt) {
                const milliseconds d
                    = backoffDelay(attempt, milliseconds { 100 }, milliseconds { 30'000 }, jitter);
                QVERIFY(d >= previous);
                QVERIFY(d <= milliseconds { 30'000 });
                previous = d;
            }
        }
    }

    void serverErrorKinds_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<RedisError::Kind>("kind");
        QTest::addColumn<QByteArray>("code");
        using K = RedisError::Kind;
        QTest::newRow("NOSCRIPT") << QByteArray("NOSCRIPT No matching script. Please use EVAL.")
                                  << K::NoScript << QByteArray("NOSCRIPT");
        QTest::newRow("WRONGPASS")
            << QByteArray("WRONGPASS invalid username-password pair or user is disabled.")
            << K::Auth << QByteArray("WRONGPASS");
        QTest::newRow("NOAUTH") << QByteArray("NOAUTH Authentication required.") << K::Auth
                                << QByteArray("NOAUTH");
        QTest::newRow("old invalid password")
            << QByteArray("ERR invalid password") << K::Auth << QByteArray("ERR");
        QTest::newRow("WRONGTYPE")
            << QByteArray("WRONGTYPE Operation against a key holding the wrong kind of value")
            << K::Server << QByteArray("WRONGTYPE");
        QTest::newRow("ERR") << QByteArray("ERR unknown command 'FOO'") << K::Server
                             << QByteArray("ERR");
        QTest::newRow("BUSY") << QByteArray("BUSY Redis is busy running a script.") << K::Server
                              << QByteArray("BUSY");
        QTest::newRow("single word") << QByteArray("LOADING") << K::Server << QByteArray("LOADING");
    }
    void serverErrorKinds()
    {
        QFETCH(QByteArray, text);
        QFETCH(RedisError::Kind, kind);
        QFETCH(QByteArray, code);
        const RedisError error = RedisError::fromServerReply(text);
        QCOMPARE(error.kind, kind);
        QCOMPARE(error.code, code);
        QCOMPARE(error.message, QString::fromUtf8(text));
        QVERIFY(error.describe().endsWith(QString::fromUtf8(text)));
    }

    void replyValues()
    {
        const RedisReply nested = RedisReply::array(
            { RedisReply::integer(-3), RedisReply::string(QByteArray("a\0\"b\r\n", 6)),
              RedisReply::array(
                  { RedisReply::nil(), RedisReply::status("OK"), RedisReply::error("ERR no") }),
              RedisReply::array({}) });
        QCOMPARE(nested.describe(),
                 QStringLiteral("[(integer) -3, \"a\\x00\\\"b\\r\\n\", [(nil), OK, (error) ERR "
                                "no], []]"));
        QVERIFY(nested.isArray());
        QCOMPARE(nested.elements().size(), size_t(4));
        QCOMPARE(nested.at(0).integer(), -3);
        QVERIFY(nested.at(9).isNil()); // out of range reads as nil
        QCOMPARE(nested.at(2).at(2).bytes(), QByteArray("ERR no"));
        QVERIFY(nested == nested);
        QVERIFY(RedisReply::string("x") != RedisReply::status("x"));
        QVERIFY(RedisReply::string({}) != RedisReply::nil());
        QCOMPARE(RedisReply::string(QByteArray(300, 'x')).describe(),
                 QLatin1Char('"') + QString(200, QLatin1Char('x'))
                     + QStringLiteral("... (300 bytes)\""));
        QCOMPARE(redisReplyTypeName(RedisReply::Type::Array), QStringLiteral("array"));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestRedisUrl)
#include "tst_redisurl.moc"
