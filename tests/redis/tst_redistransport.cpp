// How the Redis client reaches its server: AUTH (default and ACL users, right and wrong
// passwords), a unix socket, TLS (rediss://) with a throwaway CA made by openssl, and a
// redis-server that is killed and restarted under a connected client.
#include "capturedreply.h"
#include "common/metatypes.h"
#include "common/suite.h"
#include "redis/redisclient.h"
#include "redisserver.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace sluice;
using sluice::test::CapturedReply;
using sluice::test::execute;
using sluice::test::RedisServer;
using std::chrono::milliseconds;
using Kind = RedisError::Kind;
using State = RedisClient::State;

namespace {

const QString kPassword = QStringLiteral("s3cr3t-Pa55/word@");
const QString kUserPassword = QStringLiteral("us3r-pa55");

RedisOptions fastOptions(const QString &url)
{
    RedisOptions o;
    o.url = url;
    o.commandTimeout = milliseconds { 10'000 };
    o.reconnectBaseDelay = milliseconds { 20 };
    o.reconnectMaxDelay = milliseconds { 200 };
    return o;
}

bool waitForState(RedisClient &client, State state, int ms = 10'000)
{
    return QTest::qWaitFor([&] { return client.state() == state; }, ms);
}

} // namespace

class TestRedisTransport : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        RedisServer::Options withPassword;
        withPassword.password = kPassword;
        m_authServer = std::make_unique<RedisServer>(withPassword);
        QVERIFY2(m_authServer->start(), qPrintable(m_authServer->errorString()));
        RedisClient admin(fastOptions(m_authServer->url()));
        admin.connectToServer();
        QVERIFY(waitForState(admin, State::Connected));
        const RedisResult user = execute(
            admin,
            { "ACL", "SETUSER", "sluice", "on", ">" + kUserPassword.toUtf8(), "~*", "+@all" });
        QVERIFY2(user.ok(), qPrintable(user.ok() ? QString() : user.error().describe()));
    }

    void auth_data()
    {
        QTest::addColumn<QString>("userInfo"); // between "redis://" and "@host"; empty: none
        QTest::addColumn<QString>("whoami"); // empty: the connection must be refused
        QTest::addColumn<QString>("messagePart");
        const QString encoded = QString::fromUtf8(QUrl::toPercentEncoding(kPassword));
        QTest::newRow("right password")
            << QLatin1Char(':') + encoded << QStringLiteral("default") << QString();
        QTest::newRow("ACL user") << QStringLiteral("sluice:") + kUserPassword
                                  << QStringLiteral("sluice") << QString();
        QTest::newRow("wrong password")
            << QStringLiteral(":wr0ng-guess") << QString() << QStringLiteral("WRONGPASS");
        QTest::newRow("ACL user, wrong password")
            << QStringLiteral("sluice:wr0ng-guess") << QString() << QStringLiteral("WRONGPASS");
        QTest::newRow("no password") << QString() << QString() << QStringLiteral("NOAUTH");
    }
    void auth()
    {
        QFETCH(QString, userInfo);
        QFETCH(QString, whoami);
        QFETCH(QString, messagePart);
        const QString url = QStringLiteral("redis://")
            + (userInfo.isEmpty() ? QString() : userInfo + QLatin1Char('@'))
            + QStringLiteral("127.0.0.1:%1/0").arg(m_authServer->port());
        RedisOptions o = fastOptions(url);
        o.reconnectBaseDelay = milliseconds { 60'000 }; // one attempt is enough to judge
        o.reconnectMaxDelay = milliseconds { 60'000 };
        RedisClient client(o);
        QSignalSpy errors(&client, &RedisClient::errorOccurred);
        client.connectToServer();
        // Issued at once, so queued: it must run only after AUTH.
        CapturedReply who;
        client.command({ "ACL", "WHOAMI" }, who.callback());
        QTRY_VERIFY(who.done());
        const QString text = who.describe() + client.displayUrl();
        QVERIFY2(!text.contains(QStringLiteral("wr0ng-guess")), qPrintable(text));
        QVERIFY2(!text.contains(kPassword), qPrintable(text));
        QVERIFY2(!text.contains(kUserPassword), qPrintable(text));
        if (!whoami.isEmpty()) {
            QVERIFY2(who.ok(), qPrintable(who.describe()));
            QCOMPARE(who.reply(), RedisReply::string(whoami.toUtf8()));
            QCOMPARE(client.state(), State::Connected);
            QCOMPARE(errors.count(), 0);
            return;
        }
        QCOMPARE(who.errorKind(), Kind::Auth);
        QVERIFY2(who.error().message.contains(messagePart), qPrintable(who.describe()));
        if (userInfo.isEmpty()) {
            // No AUTH was sent, so the connection is up and the server refuses the command.
            QCOMPARE(client.state(), State::Connected);
            return;
        }
        QVERIFY2(who.error().message.contains(QStringLiteral("authentication to redis://")),
                 qPrintable(who.describe()));
        QCOMPARE(client.state(), State::Reconnecting);
        QCOMPARE(errors.count(), 1);
        const auto error = errors.at(0).at(0).value<RedisError>();
        QCOMPARE(error.kind, Kind::Auth);
        QVERIFY(!error.message.contains(QStringLiteral("wr0ng-guess")));
    }

    void unixSocket()
    {
        RedisServer::Options socketOnly;
        socketOnly.unixSocketOnly = true;
        RedisServer server(socketOnly);
        QVERIFY2(server.start(), qPrintable(server.errorString()));
        RedisClient client(fastOptions(server.url(2)));
        QCOMPARE(client.displayUrl(),
                 QStringLiteral("unix://") + server.socketPath() + QStringLiteral("?db=2"));
        client.connectToServer();
        QVERIFY(waitForState(client, State::Connected));
        QCOMPARE(execute(client, { "SET", "tst_redistransport:unix", "via socket" }).value(),
                 RedisReply::status("OK"));
        QCOMPARE(execute(client, { "GET", "tst_redistransport:unix" }).value(),
                 RedisReply::string("via socket"));
        const RedisResult info = execute(client, { "CLIENT", "INFO" });
        QVERIFY(info.ok());
        QVERIFY2(info->bytes().contains(" db=2 "), info->bytes().constData());
        QVERIFY(execute(client, { "DEL", "tst_redistransport:unix" }).ok());
    }

    void unixSocketMissing()
    {
        RedisOptions o = fastOptions(QStringLiteral("unix:///nonexistent/sluice/redis.sock"));
        o.reconnectBaseDelay = milliseconds { 60'000 };
        o.reconnectMaxDelay = milliseconds { 60'000 };
        RedisClient client(o);
        client.connectToServer();
        CapturedReply queued;
        client.command({ "PING" }, queued.callback());
        QTRY_VERIFY(queued.done());
        QCOMPARE(queued.errorKind(), Kind::NotConnected);
        QVERIFY2(queued.error().message.contains(
                     QStringLiteral("cannot connect to unix:///nonexistent/sluice/redis.sock")),
                 qPrintable(queued.describe()));
        QCOMPARE(client.state(), State::Reconnecting);
    }

    void tls_data()
    {
        QTest::addColumn<bool>("withCa");
        QTest::addColumn<TlsVerification>("verification");
        QTest::addColumn<bool>("connects");
        QTest::newRow("trusted CA") << true << TlsVerification::Full << true;
        QTest::newRow("unknown CA") << false << TlsVerification::Full << false;
        QTest::newRow("verification skipped") << false << TlsVerification::None << true;
    }
    void tls()
    {
        QFETCH(bool, withCa);
        QFETCH(TlsVerification, verification);
        QFETCH(bool, connects);
        if (!m_tlsServer) {
            RedisServer::Options tlsOnly;
            tlsOnly.tls = true;
            m_tlsServer = std::make_unique<RedisServer>(tlsOnly);
            QVERIFY2(m_tlsServer->start(), qPrintable(m_tlsServer->errorString()));
        }
        RedisOptions o = fastOptions(m_tlsServer->url(1));
        QVERIFY(o.url.startsWith(QStringLiteral("rediss://127.0.0.1:")));
        if (withCa)
            o.caFile = m_tlsServer->caFile();
        o.tlsVerification = verification;
        o.reconnectBaseDelay = milliseconds { 60'000 };
        o.reconnectMaxDelay = milliseconds { 60'000 };
        QVERIFY(!o.problem());
        RedisClient client(o);
        QSignalSpy errors(&client, &RedisClient::errorOccurred);
        client.connectToServer();
        CapturedReply set;
        client.command({ "SET", "tst_redistransport:tls", "encrypted" }, set.callback());
        QTRY_VERIFY(set.done());
        if (!connects) {
            QCOMPARE(set.errorKind(), Kind::Tls);
            QVERIFY2(set.error().message.contains(QStringLiteral("TLS handshake with rediss://"
                                                                 "127.0.0.1:")),
                     qPrintable(set.describe()));
            QVERIFY2(set.error().message.contains(QStringLiteral("certificate")),
                     qPrintable(set.describe()));
            QCOMPARE(client.state(), State::Reconnecting);
            QCOMPARE(errors.count(), 1);
            QCOMPARE(errors.at(0).at(0).value<RedisError>().kind, Kind::Tls);
            qInfo("without the CA: %s", qPrintable(set.describe()));
            return;
        }
        QVERIFY2(set.ok(), qPrintable(set.describe()));
        QCOMPARE(client.state(), State::Connected);
        QCOMPARE(execute(client, { "GET", "tst_redistransport:tls" }).value(),
                 RedisReply::string("encrypted"));
        const RedisResult info = execute(client, { "CLIENT", "INFO" });
        QVERIFY(info.ok());
        QVERIFY2(info->bytes().contains(" db=1 "), info->bytes().constData());
        // A large value crosses many TLS records.
        const QByteArray big(qsizetype(2) * 1024 * 1024, 'z');
        QVERIFY(execute(client, { "SET", "tst_redistransport:tls", big }).ok());
        QCOMPARE(execute(client, { "GET", "tst_redistransport:tls" })->bytes().size(), big.size());
        QVERIFY(execute(client, { "DEL", "tst_redistransport:tls" }).ok());
        QCOMPARE(errors.count(), 0);
    }

    void serverRestartMidSession()
    {
        RedisServer server;
        QVERIFY2(server.start(), qPrintable(server.errorString()));
        RedisClient client(fastOptions(server.url()));
        client.loadScript(QStringLiteral("echo"), "return ARGV[1]");
        QSignalSpy states(&client, &RedisClient::stateChanged);
        QSignalSpy errors(&client, &RedisClient::errorOccurred);
        client.connectToServer();
        QVERIFY(waitForState(client, State::Connected));
        CapturedReply script;
        client.evalScript(QStringLiteral("echo"), {}, { "before" }, script.callback());
        QTRY_VERIFY(script.done());
        QCOMPARE(script.reply(), RedisReply::string("before"));

        // Two commands in flight (BLPOP holds the second behind it) when Redis dies.
        CapturedReply blocked, behind;
        client.command({ "BLPOP", "tst_redistransport:never", "30" }, blocked.callback());
        client.command({ "PING" }, behind.callback());
        QTRY_COMPARE(client.pendingCount(), 2);
        states.clear();
        server.kill();
        QTRY_VERIFY(blocked.done() && behind.done());
        QCOMPARE(blocked.errorKind(), Kind::ConnectionLost);
        QCOMPARE(behind.errorKind(), Kind::ConnectionLost);
        QTRY_COMPARE(client.state(), State::Reconnecting);
        QVERIFY(states.count() >= 2);
        QCOMPARE(states.at(0).at(0).value<State>(), State::Connecting);
        QCOMPARE(states.at(1).at(0).value<State>(), State::Reconnecting);
        QVERIFY(errors.count() >= 2); // the loss, then at least one refused attempt
        QCOMPARE(errors.at(0).at(0).value<RedisError>().kind, Kind::ConnectionLost);

        CapturedReply meanwhile;
        client.command({ "PING" }, meanwhile.callback());
        QTRY_VERIFY(meanwhile.done());
        QCOMPARE(meanwhile.errorKind(), Kind::NotConnected);

        QVERIFY2(server.start(), qPrintable(server.errorString())); // the same port again
        QVERIFY(waitForState(client, State::Connected));
        QCOMPARE(execute(client, { "SET", "tst_redistransport:restart", "back" }).value(),
                 RedisReply::status("OK"));
        // The fresh server has no scripts: NOSCRIPT is handled inside evalScript.
        CapturedReply again;
        client.evalScript(QStringLiteral("echo"), {}, { "after" }, again.callback());
        QTRY_VERIFY(again.done());
        QVERIFY2(again.ok(), qPrintable(again.describe()));
        QCOMPARE(again.reply(), RedisReply::string("after"));
        QVERIFY(execute(client, { "DEL", "tst_redistransport:restart" }).ok());
        // Each callback ran exactly once.
        QCOMPARE(blocked.calls(), 1);
        QCOMPARE(behind.calls(), 1);
        QCOMPARE(meanwhile.calls(), 1);
        QCOMPARE(script.calls(), 1);
        QCOMPARE(again.calls(), 1);
    }

private:
    std::unique_ptr<RedisServer> m_authServer;
    std::unique_ptr<RedisServer> m_tlsServer;
};

SLUICE_TEST_GUILESS_MAIN(TestRedisTransport)
#include "tst_redistransport.moc"
