#pragma once

#include "alerts/alert.h"
#include "breaker/breakeroptions.h"
#include "config/flagtable.h"
#include "core/result.h"
#include "limiter/limiteroptions.h"
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
/// wins over its variable, and the variable over the default (serveFlagSpecs() holds them).
/// The limiter's and the dispatchers' settings are their own options structs, filled here.
struct ServeOptions
{
    enum class LogFormat { Text, Json };

    QHostAddress listenAddress = QHostAddress::LocalHost; ///< SLUICE_LISTEN (host:port)
    quint16 listenPort = 8080;
    bool allowRemote = false; ///< --allow-remote: needed to bind a non-loopback address
    QUrl instantlyUrl = QUrl(QStringLiteral("https://api.instantly.ai")); ///< INSTANTLY_URL
    QUrl closeUrl = QUrl(QStringLiteral("https://api.close.com")); ///< CLOSE_URL
    QString redisUrl; ///< REDIS_URL; empty: a private redis-server in the data directory
    QString redisCaFile; ///< REDIS_CA_FILE, for rediss://
    /// --rate, --burst-rate (or --caps), --safety-factor, --instances-hint
    LimiterOptions limiter;
    /// --bulk/--single, --namespace, --claim-idle, --retry-*, --max-attempts, --coalesce,
    /// --batch-max, --lookup-*, --upstream-concurrency (maxRequestsInFlight), --skip-if,
    /// --delivered-retention, --journal
    DispatcherOptions dispatcher;
    int workers = 1; ///< SLUICE_WORKERS: dispatchers in this process
    std::chrono::milliseconds requestTimeout { 30'000 }; ///< SLUICE_REQUEST_TIMEOUT
    BreakerOptions breaker; ///< --breaker-open, --breaker-failure-rate
    /// --close-rate: Close lookups, shared by all instances like the Instantly budget.
    std::vector<RateRule> closeCaps { { 10, std::chrono::milliseconds { 1000 } } };
    QString dataDir; ///< SLUICE_DATA_DIR; default: the per-user data location
    /// SLUICE_INSTANCE: this process's name as a Redis consumer; empty: one kept in the data
    /// directory (InstanceLease), so a restart is the same consumer.
    QString instance;
    LogFormat logFormat = LogFormat::Text; ///< SLUICE_LOG_FORMAT
    AlertOptions alerts; ///< --alert-url and the --alert-* thresholds
    QString instantlyApiKey; ///< INSTANTLY_API_KEY (env only: never on a command line)
    QString closeApiKey; ///< CLOSE_API_KEY (env only)
    QString webhookSecret; ///< CLOSE_WEBHOOK_SECRET (env only), hex

    /// `listenAddress:listenPort`
    QString listenText() const;
};

/// The serve flags, their variables and defaults; `workerOnly` leaves out the listener's.
/// Other commands take the ones they accept from here, by name.
std::vector<FlagSpec> serveFlagSpecs(bool workerOnly = false);
/// The serve flags called `names`, in that order (e.g. the Redis ones for `sluice runs`).
std::vector<FlagSpec> serveFlagSpecs(const QStringList &names);
/// `sluice serve` or `sluice worker`: the flags with the usage and the secrets.
FlagTable serveFlagTable(bool workerOnly);
/// The options from what a table with (some of) the serve flags read; a setting whose flag the
/// table lacks keeps its built-in default. The error names the flag or variable.
Result<ServeOptions, QString> serveOptionsFrom(const FlagValues &values, bool workerOnly = false);

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
