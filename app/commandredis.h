#pragma once

#include "config/flagtable.h"
#include "redis/redisoptions.h"

#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace sluice {
class PrivateRedis;
class RedisClient;
struct ServeOptions;
} // namespace sluice

/// The Redis a command talks to: the configured one (--redis / REDIS_URL), or with none
/// configured the private redis-server in the data directory, started here or shared with the
/// Sluice process that already runs it. Shared by `serve`, `worker`, `retry` and `runs`.
struct CommandRedis
{
    CommandRedis();
    ~CommandRedis(); ///< stops the private redis-server if this command started it
    CommandRedis(const CommandRedis &) = delete;
    CommandRedis &operator=(const CommandRedis &) = delete;

    // Declared before the client, so the client goes first when this is destroyed.
    std::unique_ptr<sluice::PrivateRedis> privateRedis;
    sluice::RedisOptions options;
    std::unique_ptr<sluice::RedisClient> client; ///< made by connectRedis()
};

/// The Redis flags the read-only commands (`runs`, `lead`, `dead`, ...) share with
/// `sluice serve`: --redis, --redis-ca-file, --namespace, --data-dir, as serve's table has them.
std::vector<sluice::FlagSpec> commandRedisSpecs();
bool isCommandRedisFlag(const QString &name);
class QCommandLineParser;
/// Adds those flags to a command's parser, and reads back the ones given as arguments for
/// openCommandRedis().
void addCommandRedisOptions(QCommandLineParser &parser);
QStringList commandRedisArgs(const QCommandLineParser &parser);
/// Only the variables of those flags: a serve-only variable with a bad value (SLUICE_RATE,
/// ...) must not stop an operator from reading what is stored.
QProcessEnvironment commandRedisEnvironment(const QProcessEnvironment &env);
/// What a command's --help says after its options about the Redis flags.
QString commandRedisHelp();
/// For commands whose QCommandLineParser lists the Redis flags itself: what their help adds.
extern const char kRedisHelpNote[];
/// For such a command without positional arguments: adds --help and the Redis flags, parses,
/// and answers --help (with `extraHelp` after the options). Returns the exit code when the
/// command ends here (0 after help, 2 for bad input, said on stderr), else nullopt.
std::optional<int> parseRedisCommandArgs(QCommandLineParser &parser, const QStringList &args,
                                         const QString &command, const QString &extraHelp = {});

/// For the read-only commands: parses their Redis flags (and only those variables), quiets
/// the connection chatter, and connects to the Redis they name (or the private one). Returns
/// the key namespace, or the exit code (2 bad options, 1 no Redis) after saying why on stderr
/// as "sluice <command>: ...".
std::variant<QString, int> openCommandRedis(CommandRedis &redis, const QStringList &redisArgs,
                                            const QString &command);
/// The same from a command's own reading of its flags (a table with commandRedisSpecs()).
std::variant<QString, int> openCommandRedis(CommandRedis &redis, const sluice::FlagValues &values,
                                            const QString &command);

/// Where data lives without --data-dir: the per-user data location, "sluice" in it.
QString defaultDataDir();

/// Works out the Redis to use, starting the private one when none is configured. Prints why
/// not and returns false on failure.
bool chooseRedis(CommandRedis &redis, const sluice::ServeOptions &o, const QString &dataDir);

/// Makes `redis.client` and starts connecting; state changes are logged.
void connectRedis(CommandRedis &redis);
