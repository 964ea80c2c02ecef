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
/// What a command's --help says after its options about the Redis flags.
QString commandRedisHelp();
/// That, and the exit status of a command that changes or reads Redis (`dead`, `pause`, ...).
QString commandRedisFooter();
/// The table of such a command: its own flags, then the Redis ones, and that footer.
sluice::FlagTable commandRedisTable(const QString &command, const QString &usage,
                                    const QString &about,
                                    const std::vector<sluice::FlagSpec> &own = {});
/// Reads a command's flags (`args` without the program and command names) with its table and
/// the environment. Answers --help (exit code 0) and refuses bad input (2, said on stderr as
/// "sluice <command>: ..."); returns the values, or the exit code when the command ends here.
std::variant<sluice::FlagValues, int> readCommandFlags(const sluice::FlagTable &table,
                                                       const QStringList &args);
/// For the read-only commands: from a command's reading of its flags (a table with
/// commandRedisSpecs()), quiets the connection chatter and connects to the Redis they name (or
/// the private one). Returns the key namespace, or the exit code (2 bad options, 1 no Redis)
/// after saying why on stderr as "sluice <command>: ...".
std::variant<QString, int> openCommandRedis(CommandRedis &redis, const sluice::FlagValues &values,
                                            const QString &command);

/// Where data lives without --data-dir: the per-user data location, "sluice" in it.
QString defaultDataDir();

/// Works out the Redis to use, starting the private one when none is configured. Prints why
/// not and returns false on failure.
bool chooseRedis(CommandRedis &redis, const sluice::ServeOptions &o, const QString &dataDir);

/// Makes `redis.client` and starts connecting; state changes are logged.
void connectRedis(CommandRedis &redis);
