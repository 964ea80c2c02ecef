#pragma once

#include "breaker/breakeroptions.h"
#include "config/flagtable.h"
#include "core/result.h"
#include "limiter/raterule.h"
#include "queue/dispatcheroptions.h"

#include <QHostAddress>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QUrl>

#include <chrono>
#include <optional>
#include <vector>

namespace sluice {

/// How `sluice serve` and `sluice worker` run. Every flag has an environment variable; a flag
/// wins over its variable, and the variable over the default.
struct ServeOptions
{
    enum class Mode { Bulk, Single };
    enum class LogFormat { Text, Json };

    QHostAddress listenAddress = QHostAddress::LocalHost; ///< SLUICE_LISTEN (host:port)
    quint16 listenPort = 8080;
    bool allowRemote = false; ///< --allow-remote: needed to bind a non-loopback address
    QUrl instantlyUrl = QUrl(QStringLiteral("https://api.instantly.ai")); ///< INSTANTLY_URL
    QUrl closeUrl = QUrl(QStringLiteral("https://api.close.com")); ///< CLOSE_URL
    QString redisUrl; ///< REDIS_URL; empty: a private redis-server in the data directory
    QString redisCaFile; ///< REDIS_CA_FILE, for rediss://
    std::vector<RateRule> caps {
        { 600, std::chrono::milliseconds { 60'000 } }, { 10, std::chrono::milliseconds { 1000 } }
    }; ///< --rate, --burst-rate
    double safetyFactor = 0.8; ///< SLUICE_SAFETY_FACTOR
    int instancesHint = 1; ///< SLUICE_INSTANCES_HINT
    int workers = 1; ///< SLUICE_WORKERS: dispatchers in this process
    Mode mode = Mode::Bulk; ///< --bulk / --single (SLUICE_MODE)
    QString ns = QStringLiteral("default"); ///< SLUICE_NAMESPACE: Redis key namespace
    /// SLUICE_CLAIM_IDLE: a dead consumer's unacknowledged leads are taken over after this.
    std::chrono::milliseconds claimIdle { 60'000 };
    std::chrono::milliseconds requestTimeout { 30'000 }; ///< SLUICE_REQUEST_TIMEOUT
    std::chrono::milliseconds retryBase { 1000 }; ///< SLUICE_RETRY_BASE
    std::chrono::milliseconds retryCap { 300'000 }; ///< SLUICE_RETRY_CAP
    int maxAttempts = 12; ///< SLUICE_MAX_ATTEMPTS
    std::chrono::milliseconds coalescingWindow { 200 }; ///< SLUICE_COALESCE
    int maxBatch = 1000; ///< SLUICE_BATCH_MAX
    int lookupBatch = 100; ///< SLUICE_LOOKUP_BATCH
    /// SLUICE_UPSTREAM_CONCURRENCY: requests on the wire to each upstream (per client), 1..6.
    int upstreamConcurrency = 4;
    std::chrono::milliseconds lookupHold { 2000 }; ///< SLUICE_LOOKUP_HOLD
    SkipIf skipIf = SkipIf::None; ///< SLUICE_SKIP_IF: Instantly's skip flag on each send
    /// SLUICE_DELIVERED_RETENTION: a delivered lead stays a no-op for replays this long.
    std::chrono::milliseconds deliveredRetention { std::chrono::hours { 24 * 30 } };
    BreakerOptions breaker; ///< --breaker-open, --breaker-failure-rate
    /// --close-rate: Close lookups, shared by all instances like the Instantly budget.
    std::vector<RateRule> closeCaps { { 10, std::chrono::milliseconds { 1000 } } };
    QString dataDir; ///< SLUICE_DATA_DIR; default: the per-user data location
    /// SLUICE_INSTANCE: this process's name as a Redis consumer; empty: one kept in the data
    /// directory (InstanceLease), so a restart is the same consumer.
    QString instance;
    LogFormat logFormat = LogFormat::Text; ///< SLUICE_LOG_FORMAT
    /// SLUICE_JOURNAL: write the lead journal (each lead's timeline). It costs Redis work and
    /// memory on every webhook and every delivery: off for the last bit of throughput.
    bool journal = true;
    QString instantlyApiKey; ///< INSTANTLY_API_KEY (env only: never on a command line)
    QString closeApiKey; ///< CLOSE_API_KEY (env only)
    QString webhookSecret; ///< CLOSE_WEBHOOK_SECRET (env only), hex

    /// `listenAddress:listenPort`
    QString listenText() const;
};

/// Reads flags (`args` without the program and subcommand names) and the environment.
/// `workerOnly` refuses the listener flags (`sluice worker`). The error names the flag or
/// variable and says what is wrong; `--help` text comes from serveHelpText().
Result<ServeOptions, QString>
parseServeOptions(const QStringList &args, const QProcessEnvironment &env, bool workerOnly = false);
QString serveHelpText(bool workerOnly);
/// One serve flag as `--help` states it: its help text (with the default in it) and the
/// default alone ("600/min", "a private redis-server"); nullopt for an unknown flag.
struct ServeFlagInfo
{
    QString help;
    QString defaultText;
};
std::optional<ServeFlagInfo> serveFlagInfo(const QString &name);

} // namespace sluice
