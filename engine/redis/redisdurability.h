#pragma once

#include <QByteArray>
#include <QString>

#include <optional>

namespace sluice {

/// What a Redis's persistence settings (CONFIG GET appendonly, appendfsync, save) mean for
/// queued leads: nullopt when a crash of Redis (or of its machine) loses at most about a
/// second of writes, i.e. AOF with appendfsync everysec or always; else why not, and what to
/// set. Pure, so every case is tested without a server.
std::optional<QString> redisDurabilityProblem(const QByteArray &appendonly,
                                              const QByteArray &appendfsync,
                                              const QByteArray &save);

} // namespace sluice
