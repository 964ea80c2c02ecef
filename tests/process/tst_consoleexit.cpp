// The console (`sluice gui`, offscreen) stopped by SIGTERM or SIGINT acts as if its window
// were closed: it exits 0, the engine stops, and the private redis-server it started in its
// data directory stops with it.
#include "common/suite.h"
#include <QDir>
#include <QElapsedTimer>
#include <QLocalSocket>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

#ifndef SLUICE_BINARY
#error "SLUICE_BINARY must be defined; see tests/process/CMakeLists.txt"
#endif

namespace {

bool redisAnswers(const QString &socketPath)
{
    QLocalSocket socket;
    socket.connectToServer(socketPath);
    if (!socket.waitForConnected(200))
        return false;
    socket.write("PING\r\n");
    if (!socket.waitForBytesWritten(200))
        return false;
    QByteArray answer;
    while (!answer.contains("\r\n") && socket.waitForReadyRead(500))
        answer += socket.readAll();
    return answer.startsWith("+PONG");
}

} // namespace

class TestConsoleExit : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void aSignalClosesTheConsoleAndItsRedis_data()
    {
        QTest::addColumn<int>("signal");
        QTest::newRow("SIGTERM") << int(SIGTERM);
        QTest::newRow("SIGINT") << int(SIGINT);
    }
    void aSignalClosesTheConsoleAndItsRedis()
    {
        QFETCH(int, signal);
        QTemporaryDir dir(QDir::tempPath()
                          + QStringLiteral("/sluice-ce-XXXXXX")); // short: a unix socket path
        QVERIFY(dir.isValid());
        const QString data = dir.filePath(QStringLiteral("d"));
        QProcess console;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
        env.insert(QStringLiteral("XDG_CONFIG_HOME"), dir.filePath(QStringLiteral("config")));
        env.insert(QStringLiteral("XDG_DATA_HOME"), dir.filePath(QStringLiteral("share")));
        env.remove(QStringLiteral("REDIS_URL"));
        console.setProcessEnvironment(env);
        console.setProcessChannelMode(QProcess::MergedChannels);
        console.start(QStringLiteral(SLUICE_BINARY),
                      { QStringLiteral("gui"), QStringLiteral("--data-dir"), data });
        QVERIFY2(console.waitForStarted(10'000), qPrintable(console.errorString()));
        const QString socket = QDir(data).filePath(QStringLiteral("redis/redis.sock"));
        QTRY_VERIFY2_WITH_TIMEOUT(redisAnswers(socket), console.readAll().constData(), 30'000);

        ::kill(pid_t(console.processId()), signal);
        QVERIFY2(console.waitForFinished(30'000), "the console did not exit");
        const QByteArray log = console.readAll();
        QCOMPARE(console.exitStatus(), QProcess::NormalExit);
        QVERIFY2(console.exitCode() == 0, log.constData());
        // Its private redis-server is gone with it.
        QTRY_VERIFY2_WITH_TIMEOUT(!redisAnswers(socket), log.constData(), 10'000);
    }
};

SLUICE_TEST_GUILESS_MAIN(TestConsoleExit)
#include "tst_consoleexit.moc"
