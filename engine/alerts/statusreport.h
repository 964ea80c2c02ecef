#pragma once

#include "alert.h"
#include "store/rediskeys.h"

#include <QString>

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <vector>

namespace sluice {

class RedisClient;

/// What `sluice status` shows: the fleet's figures as Redis holds them, with no process of its
/// own running. Every instance's AlertCenter writes its forecast and figures (RedisKeys::
/// statuses()); the firing alerts, the pause and the queue are read as they are.
struct StatusReport
{
    qint64 atMs = 0; ///< when it was read (Unix ms)
    qint64 queued = 0; ///< entries in the lead stream (waiting, read, pending)
    std::optional<QString> pausedReason;
    QString pauseCause;
    qint64 remainingInPlan = -1;
    /// Each instance's last status (JSON objects with `instance` and `at`), newest first;
    /// those silent for more than an hour are left out.
    std::vector<nlohmann::json> instances;
    std::vector<AlertEvent> firing; ///< in kind order
    std::vector<AlertEvent> recent; ///< the alert log's newest events, newest first

    nlohmann::json toJson() const;
    /// The report as a person reads it in a terminal.
    QString text() const;
};

/// Reads the report in a few pipelined commands; `done` gets it, or why Redis could not say.
void readStatusReport(RedisClient *redis, const RedisKeys &keys,
                      std::function<void(std::optional<StatusReport>, QString error)> done);

} // namespace sluice
