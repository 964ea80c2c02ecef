#pragma once

#include <QLockFile>
#include <QString>

#include <chrono>
#include <memory>
#include <optional>

namespace sluice {

/// The redis-server Sluice runs for itself when no Redis is configured, so a first run needs
/// no set-up: in `dataDir`, reachable only through a unix socket there (no TCP port), append-
/// only file on (fsync every second) and `noeviction`, so queued leads survive a restart and
/// are never evicted.
///
/// Several Sluice processes may share one data directory (the console beside `sluice serve`,
/// a CLI command beside both). The server lives as long as one of them uses it: each takes a
/// user slot (`redis-user-<k>.lock`, a QLockFile freed when its process exits or dies), and
/// the last one to stop shuts the server down. Starting and stopping happen under
/// `redis-start.lock`, so the last user and a newcomer never cross. A server that runs
/// (`redis.pid` names a live redis-server) is never replaced, even when it is slow to answer
/// (loading a large AOF, or busy): it is waited for, since a second server on the same
/// append-only file would corrupt it.
class PrivateRedis
{
public:
    explicit PrivateRedis(QString dataDir);
    ~PrivateRedis(); ///< stop()
    PrivateRedis(const PrivateRedis &) = delete;
    PrivateRedis &operator=(const PrivateRedis &) = delete;

    /// Starts (or finds) the server and waits until it answers PING (then url() reaches it).
    /// Returns why not: redis-server missing, the directory unusable, the server's complaint,
    /// a running server that did not answer within `timeout` (left running).
    std::optional<QString> start(std::chrono::milliseconds timeout = std::chrono::seconds { 10 });
    /// Gives up this user's slot; the last user asks the server to finish its writes and exit
    /// (SIGTERM) and waits for it.
    void stop();

    QString socketPath() const;
    QString url() const;
    /// True when this object started the server (it may outlive this object, if others use it).
    bool owned() const { return m_started; }
    /// The pid the running server wrote to `redis.pid`, or 0.
    qint64 serverPid() const;

private:
    QString path(const QString &name) const;
    bool takeUserSlot();
    bool otherUsers() const;
    std::optional<QString> launch(std::chrono::milliseconds timeout);
    std::optional<QString> waitForAnswer(qint64 pid, std::chrono::milliseconds timeout,
                                         bool launched) const;

    QString m_dataDir;
    std::unique_ptr<QLockFile> m_user;
    bool m_started = false;
};

/// True when a Redis answers PING on this unix socket within `timeout`.
bool redisAnswersOnSocket(const QString &path, std::chrono::milliseconds timeout);

} // namespace sluice
