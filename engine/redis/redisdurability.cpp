#include "redisdurability.h"

namespace sluice {

std::optional<QString> redisDurabilityProblem(const QByteArray &appendonly,
                                              const QByteArray &appendfsync, const QByteArray &save)
{
    const bool aof = appendonly.trimmed() == "yes";
    const bool rdb = !save.trimmed().isEmpty();
    if (!aof && !rdb)
        return QStringLiteral("Redis persistence is off (no AOF, no RDB): a Redis restart loses "
                              "every queued lead; set appendonly yes and appendfsync everysec");
    if (!aof)
        return QStringLiteral("Redis keeps only RDB snapshots (save '%1'): a crash loses every "
                              "lead queued since the last one; set appendonly yes and "
                              "appendfsync everysec")
            .arg(QString::fromUtf8(save.trimmed()));
    const QByteArray fsync = appendfsync.trimmed();
    if (fsync != "everysec" && fsync != "always")
        return QStringLiteral("Redis appendfsync is '%1': the operating system decides when "
                              "the AOF reaches the disk, so a machine crash may lose many "
                              "queued leads; set appendfsync everysec")
            .arg(QString::fromUtf8(fsync));
    return std::nullopt;
}

} // namespace sluice
