#include "redisserver.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QLocalSocket>
#include <QSslSocket>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QUrl>

namespace sluice::test {

namespace {

/// Runs a tool to completion; false (with `error` set) unless it exits with 0.
bool run(const QString &program, const QStringList &args, const QString &dir, QString *error)
{
    QProcess process;
    process.setWorkingDirectory(dir);
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.start(program, args);
    if (!process.waitForFinished(30'000) || process.exitStatus() != QProcess::NormalExit
        || process.exitCode() != 0) {
        *error = program + QLatin1Char(' ') + args.join(QLatin1Char(' '))
            + QStringLiteral(" failed: ") + process.errorString() + QLatin1Char('\n')
            + QString::fromLocal8Bit(process.readAll());
        return false;
    }
    return true;
}

} // namespace

RedisServer::RedisServer()
    : RedisServer(Options {})
{ }

RedisServer::RedisServer(Options options)
    : m_options(std::move(options))
{ }

RedisServer::~RedisServer()
{
    kill();
}

QString RedisServer::socketPath() const
{
    return m_dir.filePath(QStringLiteral("redis.sock"));
}

QString RedisServer::caFile() const
{
    return m_dir.filePath(QStringLiteral("ca.crt"));
}

QString RedisServer::url(int db) const
{
    QString auth;
    if (!m_options.password.isEmpty())
        auth = QStringLiteral(":") + QString::fromUtf8(QUrl::toPercentEncoding(m_options.password))
            + QLatin1Char('@');
    if (m_options.unixSocketOnly) {
        QString url = QStringLiteral("unix://") + auth + socketPath();
        if (db != 0)
            url += QStringLiteral("?db=") + QString::number(db);
        return url;
    }
    return (m_options.tls ? QStringLiteral("rediss://") : QStringLiteral("redis://")) + auth
        + QStringLiteral("127.0.0.1:%1/%2").arg(m_port).arg(db);
}

QString RedisServer::output() const
{
    return QString::fromLocal8Bit(m_output);
}

bool RedisServer::isRunning() const
{
    return m_process && m_process->state() != QProcess::NotRunning;
}

quint16 RedisServer::freePort()
{
    // Bound and released at once: a tiny race with other processes, acceptable for tests.
    QTcpServer probe;
    if (!probe.listen(QHostAddress::LocalHost, 0))
        return 0;
    return probe.serverPort();
}

bool RedisServer::makeCertificates()
{
    const QString dir = m_dir.path();
    QFile ext(m_dir.filePath(QStringLiteral("server.ext")));
    if (!ext.open(QIODevice::WriteOnly))
        return false;
    ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
              "basicConstraints=CA:FALSE\n"
              "keyUsage=digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth\n");
    ext.close();
    const QString openssl = QStringLiteral("openssl");
    const QStringList ecKey { QStringLiteral("-newkey"), QStringLiteral("ec"),
                              QStringLiteral("-pkeyopt"),
                              QStringLiteral("ec_paramgen_curve:prime256v1"),
                              QStringLiteral("-nodes") };
    return run(openssl,
               QStringList { QStringLiteral("req"), QStringLiteral("-x509") } + ecKey
                   + QStringList { QStringLiteral("-keyout"), QStringLiteral("ca.key"),
                                   QStringLiteral("-out"), QStringLiteral("ca.crt"),
                                   QStringLiteral("-days"), QStringLiteral("2"),
                                   QStringLiteral("-subj"), QStringLiteral("/CN=Sluice test CA"),
                                   QStringLiteral("-addext"),
                                   QStringLiteral("basicConstraints=critical,CA:TRUE"),
                                   QStringLiteral("-addext"),
                                   QStringLiteral("keyUsage=critical,keyCertSign,cRLSign") },
               dir, &m_error)
        && run(openssl,
               QStringList { QStringLiteral("req") } + ecKey
                   + QStringList { QStringLiteral("-keyout"), QStringLiteral("server.key"),
                                   QStringLiteral("-out"), QStringLiteral("server.csr"),
                                   QStringLiteral("-subj"), QStringLiteral("/CN=localhost") },
               dir, &m_error)
        && run(openssl,
               { QStringLiteral("x509"), QStringLiteral("-req"), QStringLiteral("-in"),
                 QStringLiteral("server.csr"), QStringLiteral("-CA"), QStringLiteral("ca.crt"),
                 QStringLiteral("-CAkey"), QStringLiteral("ca.key"),
                 QStringLiteral("-CAcreateserial"), QStringLiteral("-out"),
                 QStringLiteral("server.crt"), QStringLiteral("-days"), QStringLiteral("2"),
                 QStringLiteral("-extfile"), QStringLiteral("server.ext") },
               dir, &m_error);
}

bool RedisServer::start(std::chrono::milliseconds timeout)
{
    m_error.clear();
    if (!m_dir.isValid()) {
        m_error = QStringLiteral("no temporary directory: ") + m_dir.errorString();
        return false;
    }
    if (isRunning())
        return true;
    if (m_options.tls && !QFile::exists(caFile()) && !makeCertificates())
        return false;
    if (m_port == 0 && !m_options.unixSocketOnly)
        m_port = freePort();

    const QString appendOnly = m_options.appendOnly ? QStringLiteral("yes") : QStringLiteral("no");
    QStringList args { QStringLiteral("--save"),       QString(),
                       QStringLiteral("--appendonly"), appendOnly,
                       QStringLiteral("--dir"),        m_dir.path(),
                       QStringLiteral("--bind"),       QStringLiteral("127.0.0.1"),
                       QStringLiteral("--daemonize"),  QStringLiteral("no"),
                       QStringLiteral("--logfile"),    QString() };
    if (m_options.unixSocketOnly) {
        args << QStringLiteral("--port") << QStringLiteral("0") << QStringLiteral("--unixsocket")
             << socketPath() << QStringLiteral("--unixsocketperm") << QStringLiteral("700");
    } else if (m_options.tls) {
        args << QStringLiteral("--port") << QStringLiteral("0") << QStringLiteral("--tls-port")
             << QString::number(m_port) << QStringLiteral("--tls-cert-file")
             << m_dir.filePath(QStringLiteral("server.crt")) << QStringLiteral("--tls-key-file")
             << m_dir.filePath(QStringLiteral("server.key")) << QStringLiteral("--tls-ca-cert-file")
             << caFile() << QStringLiteral("--tls-auth-clients") << QStringLiteral("no");
    } else {
        args << QStringLiteral("--port") << QString::number(m_port);
    }
    if (!m_options.password.isEmpty())
        args << QStringLiteral("--requirepass") << m_options.password;
    if (m_options.appendOnly)
        args << QStringLiteral("--appendfsync") << QStringLiteral("always");
    if (m_options.debugCommand)
        args << QStringLiteral("--enable-debug-command") << QStringLiteral("yes");
    args << m_options.extraArgs;

    m_output.clear();
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    QProcess *process = m_process.get();
    QObject::connect(process, &QProcess::readyReadStandardOutput, process,
                     [this, process] { m_output += process->readAllStandardOutput(); });
    process->start(QStringLiteral("redis-server"), args);
    if (!process->waitForStarted(5000)) {
        m_error = QStringLiteral("redis-server did not start: ") + process->errorString();
        return false;
    }
    if (!waitUntilReady(timeout)) {
        kill();
        return false;
    }
    return true;
}

bool RedisServer::waitUntilReady(std::chrono::milliseconds timeout)
{
    const QDeadlineTimer deadline(timeout);
    while (!deadline.hasExpired()) {
        if (!isRunning()) {
            m_error = QStringLiteral("redis-server exited:\n") + output();
            return false;
        }
        // One probe: connect, PING, read one line. Any answer but LOADING means it serves.
        std::unique_ptr<QIODevice> device;
        bool connected = false;
        if (m_options.unixSocketOnly) {
            auto *socket = new QLocalSocket;
            device.reset(socket);
            socket->connectToServer(socketPath());
            connected = socket->waitForConnected(1000);
        } else if (m_options.tls) {
            auto *socket = new QSslSocket;
            device.reset(socket);
            socket->setPeerVerifyMode(QSslSocket::VerifyNone); // only asks "is it up?"
            socket->connectToHostEncrypted(QStringLiteral("127.0.0.1"), m_port);
            connected = socket->waitForEncrypted(1000);
        } else {
            auto *socket = new QTcpSocket;
            device.reset(socket);
            socket->connectToHost(QHostAddress::LocalHost, m_port);
            connected = socket->waitForConnected(1000);
        }
        if (connected) {
            device->write("PING\r\n");
            const bool answered
                = QTest::qWaitFor([&] { return device->canReadLine() || !isRunning(); }, 1000);
            if (answered && device->canReadLine() && !device->readLine().startsWith("-LOADING"))
                return true;
        }
        // Not up yet: pause briefly, unless the process dies meanwhile.
        if (QTest::qWaitFor([this] { return !isRunning(); }, 20))
            continue; // reported at the top of the loop
    }
    m_error = QStringLiteral("redis-server did not answer within %1 ms:\n").arg(timeout.count())
        + output();
    return false;
}

void RedisServer::kill()
{
    if (!isRunning())
        return;
    m_process->kill();
    m_process->waitForFinished(5000);
}

void RedisServer::stop(std::chrono::milliseconds timeout)
{
    if (!isRunning())
        return;
    m_process->terminate();
    if (!m_process->waitForFinished(int(timeout.count())))
        kill();
}

} // namespace sluice::test
