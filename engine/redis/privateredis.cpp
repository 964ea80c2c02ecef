#include "privateredis.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLocalSocket>
#include <QProcess>
#include <QStandardPaths>
#include <QThread>

#include <csignal>

#include <sys/types.h>

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

namespace {

constexpr int kMaxUsers = 64;

/// A live redis-server working in `dir` (a pid in a stale pid file may have been reused by
/// another process, even another data directory's redis-server).
bool isRedisServer(qint64 pid, const QString &dir)
{
    if (pid <= 0 || ::kill(pid_t(pid), 0) != 0)
        return false;
    QFile comm(QStringLiteral("/proc/%1/comm").arg(pid));
    if (!comm.open(QIODevice::ReadOnly))
        return true; // no /proc: alive is the best we know
    if (!comm.readAll().startsWith("redis-server"))
        return false;
    const QString cwd = QFileInfo(QStringLiteral("/proc/%1/cwd").arg(pid)).symLinkTarget();
    return cwd.isEmpty() || cwd == QFileInfo(dir).canonicalFilePath();
}

std::unique_ptr<QLockFile> lockFile(const QString &path)
{
    auto lock = std::make_unique<QLockFile>(path);
    lock->setStaleLockTime(0); // stale only when its process is gone, never by age
    return lock;
}

} // namespace

PrivateRedis::PrivateRedis(QString dataDir)
    : m_dataDir(std::move(dataDir))
{ }

PrivateRedis::~PrivateRedis()
{
    stop();
}

QString PrivateRedis::path(const QString &name) const
{
    return QDir(m_dataDir).filePath(name);
}

QString PrivateRedis::socketPath() const
{
    return path(QStringLiteral("redis.sock"));
}

QString PrivateRedis::url() const
{
    return QStringLiteral("unix://") + socketPath();
}

qint64 PrivateRedis::serverPid() const
{
    QFile file(path(QStringLiteral("redis.pid")));
    if (!file.open(QIODevice::ReadOnly))
        return 0;
    return file.readAll().trimmed().toLongLong();
}

bool PrivateRedis::takeUserSlot()
{
    for (int k = 0; k < kMaxUsers && !m_user; ++k) {
        auto lock = lockFile(path(QStringLiteral("redis-user-%1.lock").arg(k)));
        if (lock->tryLock(0))
            m_user = std::move(lock);
    }
    return m_user != nullptr;
}

bool PrivateRedis::otherUsers() const
{
    for (int k = 0; k < kMaxUsers; ++k) {
        const QString file = path(QStringLiteral("redis-user-%1.lock").arg(k));
        if (!QFile::exists(file))
            continue;
        auto lock = lockFile(file);
        if (!lock->tryLock(0))
            return true; // held by a live process (this one included, for another object)
        lock->unlock();
    }
    return false;
}

std::optional<QString> PrivateRedis::start(milliseconds timeout)
{
    if (m_user)
        return std::nullopt;
    if (!QDir().mkpath(m_dataDir))
        return QStringLiteral("cannot create the data directory %1").arg(m_dataDir);
    QFile::setPermissions(m_dataDir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    if (socketPath().toUtf8().size() >= 100)
        return QStringLiteral("the data directory path is too long for a unix socket (%1); choose "
                              "a shorter --data-dir")
            .arg(m_dataDir);

    auto guard = lockFile(path(QStringLiteral("redis-start.lock")));
    if (!guard->tryLock(int(timeout.count()) + 15'000))
        return QStringLiteral("another Sluice process has been starting or stopping the private "
                              "redis-server in %1 for too long")
            .arg(m_dataDir);
    if (!takeUserSlot())
        return QStringLiteral("more than %1 Sluice processes use %2").arg(kMaxUsers).arg(m_dataDir);

    std::optional<QString> problem;
    const qint64 running = serverPid();
    if (isRedisServer(running, m_dataDir)) {
        // Never a second server on the same append-only file: a slow one is waited for.
        problem = waitForAnswer(running, timeout, false);
    } else if (!redisAnswersOnSocket(socketPath(), milliseconds { 200 })) {
        problem = launch(timeout);
    } // else: a server without a pid file (an older Sluice started it): shared as it is
    if (problem) {
        m_user->unlock();
        m_user.reset();
    }
    return problem;
}

std::optional<QString> PrivateRedis::launch(milliseconds timeout)
{
    const QString program = QStandardPaths::findExecutable(QStringLiteral("redis-server"));
    if (program.isEmpty())
        return QStringLiteral(
            "redis-server is not installed (Debian: apt-get install redis-server), "
            "and no Redis is configured (--redis / REDIS_URL)");
    QFile::remove(socketPath()); // a stale socket of a server that died
    QFile::remove(path(QStringLiteral("redis.pid")));
    const QString log = path(QStringLiteral("redis.log"));
    QFile::remove(log);
    // Detached: the server outlives whichever Sluice started it while others use it.
    QProcess process;
    process.setProgram(program);
    process.setWorkingDirectory(m_dataDir);
    process.setStandardInputFile(QProcess::nullDevice());
    process.setStandardOutputFile(QProcess::nullDevice());
    process.setStandardErrorFile(QProcess::nullDevice());
    process.setArguments({ QStringLiteral("--port"),
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
                           QStringLiteral("--pidfile"),
                           path(QStringLiteral("redis.pid")),
                           QStringLiteral("--logfile"),
                           log });
    qint64 pid = 0;
    if (!process.startDetached(&pid))
        return QStringLiteral("cannot run %1: %2").arg(program, process.errorString());
    m_started = true;
    return waitForAnswer(pid, timeout, true);
}

std::optional<QString> PrivateRedis::waitForAnswer(qint64 pid, milliseconds timeout,
                                                   bool launched) const
{
    const QDeadlineTimer deadline(timeout);
    while (!deadline.hasExpired()) {
        if (!isRedisServer(pid, m_dataDir)) {
            QFile log(path(QStringLiteral("redis.log")));
            const QByteArray said = log.open(QIODevice::ReadOnly) ? log.readAll().right(600) : "";
            return QStringLiteral("redis-server stopped at start: %1")
                .arg(QString::fromLocal8Bit(said).trimmed());
        }
        if (redisAnswersOnSocket(socketPath(), milliseconds { 100 }))
            return std::nullopt;
        QThread::msleep(20);
    }
    if (launched) {
        ::kill(pid_t(pid), SIGKILL); // ours, and never answered: nothing of it is in use
        return QStringLiteral("redis-server did not answer within %1 ms").arg(timeout.count());
    }
    return QStringLiteral("the private redis-server in %1 (pid %2) runs but did not answer within "
                          "%3 ms (loading a large append-only file, or busy); it is left running, "
                          "never replaced: try again later")
        .arg(m_dataDir)
        .arg(pid)
        .arg(timeout.count());
}

void PrivateRedis::stop()
{
    if (!m_user)
        return;
    auto guard = lockFile(path(QStringLiteral("redis-start.lock")));
    const bool guarded = guard->tryLock(30'000);
    m_user->unlock();
    m_user.reset();
    if (!guarded || otherUsers())
        return; // someone else still uses it (or is deciding about it)
    const qint64 pid = serverPid();
    if (!isRedisServer(pid, m_dataDir))
        return;
    ::kill(pid_t(pid), SIGTERM); // redis flushes the AOF and exits
    QDeadlineTimer deadline(std::chrono::seconds { 10 });
    while (isRedisServer(pid, m_dataDir) && !deadline.hasExpired())
        QThread::msleep(20);
    if (isRedisServer(pid, m_dataDir))
        ::kill(pid_t(pid), SIGKILL);
}

} // namespace sluice
