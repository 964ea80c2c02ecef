#include "privateredis.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QLocalSocket>
#include <QStandardPaths>
#include <QThread>

namespace sluice {

using std::chrono::milliseconds;

bool redisAnswersOnSocket(const QString &path, milliseconds timeout)
{
    QLocalSocket socket;
    socket.connectToServer(path);
    if (!socket.waitForConnected(int(timeout.count())))
        return false;
    socket.write("PING\r\n");
    if (!socket.waitForBytesWritten(int(timeout.count())))
        return false;
    QByteArray answer;
    QDeadlineTimer deadline(timeout);
    while (!answer.contains("\r\n") && !deadline.hasExpired()) {
        if (!socket.waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime()))))
            break;
        answer += socket.readAll();
    }
    return answer.startsWith("+PONG");
}

PrivateRedis::PrivateRedis(QString dataDir)
    : m_dataDir(std::move(dataDir))
{ }

PrivateRedis::~PrivateRedis()
{
    stop();
}

QString PrivateRedis::socketPath() const
{
    return QDir(m_dataDir).filePath(QStringLiteral("redis.sock"));
}

QString PrivateRedis::url() const
{
    return QStringLiteral("unix://") + socketPath();
}

std::optional<QString> PrivateRedis::start(milliseconds timeout)
{
    if (m_process)
        return std::nullopt;
    if (!QDir().mkpath(m_dataDir))
        return QStringLiteral("cannot create the data directory %1").arg(m_dataDir);
    QFile::setPermissions(m_dataDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    if (socketPath().toUtf8().size() >= 100)
        return QStringLiteral("the data directory path is too long for a unix socket (%1); choose "
                              "a shorter --data-dir")
            .arg(m_dataDir);
    if (redisAnswersOnSocket(socketPath(), milliseconds { 200 }))
        return std::nullopt; // another Sluice process runs it; share it

    const QString program = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
    if (program.isEmpty())
        return QStringLiteral(
            "redis-server is not installed (Debian: apt-get install redis-server), "
            "and no Redis is configured (--redis / REDIS_URL)");
    QFile::remove(socketPath()); // a stale socket of a server that died
    auto process = std::make_unique<QProcess>();
    process->setProcessChannelMode(QProcess::MergedChannels);
    process->setWorkingDirectory(m_dataDir);
    process->start(program,
                   { QStringLiteral("--port"),
                     QStringLiteral("0"),
                     QStringLiteral("--unixsocket"),
                     socketPath(),
                     QStringLiteral("--unixsocketperm"),
                     QStringLiteral("700"),
                     QStringLiteral("--dir"),
                     m_dataDir,
                     QStringLiteral("--appendonly"),
                     QStringLiteral("yes"),
                     QStringLiteral("--appendfsync"),
                     QStringLiteral("everysec"),
                     QStringLiteral("--save"),
                     QString(),
                     QStringLiteral("--maxmemory-policy"),
                     QStringLiteral("noeviction"),
                     QStringLiteral("--daemonize"),
                     QStringLiteral("no"),
                     QStringLiteral("--logfile"),
                     QString() });
    if (!process->waitForStarted(int(timeout.count())))
        return QStringLiteral("cannot run %1: %2").arg(program, process->errorString());
    const QDeadlineTimer deadline(timeout);
    while (!deadline.hasExpired()) {
        if (process->state() != QProcess::Running) {
            return QStringLiteral("redis-server stopped at start: %1")
                .arg(QString::fromLocal8Bit(process->readAll().right(600)).trimmed());
        }
        if (redisAnswersOnSocket(socketPath(), milliseconds { 100 })) {
            m_process = std::move(process);
            return std::nullopt;
        }
        process->waitForFinished(50); // returns early if it dies; otherwise a short wait
    }
    process->kill();
    process->waitForFinished(1000);
    return QStringLiteral("redis-server did not answer within %1 ms").arg(timeout.count());
}

void PrivateRedis::stop()
{
    if (!m_process)
        return;
    m_process->terminate(); // SIGTERM: redis flushes the AOF and exits
    if (!m_process->waitForFinished(10'000)) {
        m_process->kill();
        m_process->waitForFinished(2000);
    }
    m_process.reset();
}

} // namespace sluice
