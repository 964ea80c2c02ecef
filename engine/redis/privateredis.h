#pragma once

#include <QProcess>
#include <QString>

#include <chrono>
#include <memory>
#include <optional>

namespace sluice {

/// The redis-server Sluice runs for itself when no Redis is configured, so a first run needs
/// no set-up: in `dataDir`, reachable only through a unix socket there (no TCP port), append-
/// only file on (fsync every second) and `noeviction`, so queued leads survive a restart and
/// are never evicted. If another Sluice process already runs one in the same directory (the
/// console beside `sluice serve`), that one is used and left running.
class PrivateRedis
{
public:
    explicit PrivateRedis(QString dataDir);
    ~PrivateRedis(); ///< stops the server if this object started it
    PrivateRedis(const PrivateRedis &) = delete;
    PrivateRedis &operator=(const PrivateRedis &) = delete;

    /// Starts (or finds) the server and waits until it answers PING (then url() reaches it).
    /// Returns why not: redis-server missing, the directory unusable, the server's complaint.
    std::optional<QString> start(std::chrono::milliseconds timeout = std::chrono::seconds { 10 });
    /// Asks the server to finish its writes and exit (SIGTERM), if this object started it.
    void stop();

    QString socketPath() const;
    QString url() const;
    /// True when this object started the server (and so stops it).
    bool owned() const { return m_process != nullptr; }

private:
    QString m_dataDir;
    std::unique_ptr<QProcess> m_process;
};

/// True when a Redis answers PING on this unix socket within `timeout`.
bool redisAnswersOnSocket(const QString &path, std::chrono::milliseconds timeout);

} // namespace sluice
