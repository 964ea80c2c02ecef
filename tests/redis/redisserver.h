#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

#include <chrono>
#include <memory>

namespace sluice::test {

/// A private redis-server for a test: its own temporary directory, a free loopback port (or
/// only a unix socket, or only TLS), no persistence unless asked for. start() returns once the
/// server answers PING; the process is killed when this object is destroyed. A stopped server
/// starts again on the same port, socket and directory, so tests can restart Redis under a
/// connected client (with `appendOnly`, keeping its data).
class RedisServer
{
public:
    struct Options
    {
        QString password; ///< --requirepass
        bool unixSocketOnly = false; ///< --unixsocket <dir>/redis.sock --port 0
        /// --tls-port only (--port 0), with a throwaway CA and a server certificate for
        /// 127.0.0.1 and localhost made with openssl; clients are not asked for certificates.
        bool tls = false;
        bool debugCommand = true; ///< --enable-debug-command yes (DEBUG SLEEP)
        /// --appendonly yes --appendfsync always: every acknowledged write is on disk before
        /// the reply, so it survives stop(), kill() and the next start() in the same directory.
        bool appendOnly = false;
        QStringList extraArgs;
    };

    RedisServer();
    explicit RedisServer(Options options);
    ~RedisServer();
    RedisServer(const RedisServer &) = delete;
    RedisServer &operator=(const RedisServer &) = delete;

    /// Starts the server (on the port of the previous start, if any) and waits until it
    /// answers. False on failure; errorString() then says why, with the server's output.
    bool start(std::chrono::milliseconds timeout = std::chrono::milliseconds { 10'000 });
    /// SIGKILL, as in a crash; waits until the process is gone.
    void kill();
    /// SIGTERM, as an operator's restart does (Redis flushes its AOF and exits); waits until
    /// the process is gone, and kills it if it takes longer than `timeout`.
    void stop(std::chrono::milliseconds timeout = std::chrono::milliseconds { 10'000 });
    bool isRunning() const;

    quint16 port() const { return m_port; }
    QString socketPath() const;
    /// PEM of the throwaway CA that signed the server certificate (tls only).
    QString caFile() const;
    /// The URL a client uses: redis://127.0.0.1:P/db, rediss://127.0.0.1:P/db or
    /// unix:///.../redis.sock?db=N; with the password when there is one.
    QString url(int db = 0) const;
    QString errorString() const { return m_error; }
    /// What the server printed (its log).
    QString output() const;

private:
    bool makeCertificates();
    bool waitUntilReady(std::chrono::milliseconds timeout);
    static quint16 freePort();

    Options m_options;
    QTemporaryDir m_dir;
    std::unique_ptr<QProcess> m_process;
    quint16 m_port = 0;
    QString m_error;
    QByteArray m_output;
};

} // namespace sluice::test
