#pragma once

#include "core/result.h"

#include <QDateTime>
#include <QString>

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <vector>

namespace sluice {

/// A Close task as GET /api/v1/task/ lists it, with only the fields Sluice reads.
struct CloseTask
{
    QString id; ///< "task_…"
    QString type; ///< `_type`: "lead" for a to-do on a lead
    QString leadId;
    QString text;
    QDateTime dateCreated; ///< UTC
};

/// One page of GET /api/v1/task/: the tasks and whether more follow (`has_more`).
struct CloseTaskPage
{
    std::vector<CloseTask> tasks;
    bool hasMore = false;
};

/// Reads one task object; what is wrong otherwise ("no string id").
Result<CloseTask, QString> parseCloseTask(const nlohmann::json &task);
/// Reads a page body `{"data": [...], "has_more": bool}`; what is wrong otherwise.
Result<CloseTaskPage, QString> parseCloseTaskPage(const QByteArray &body);

/// A Close date or date-time: "2026-12-07", "2026-12-07T06:00:00", with fractions and an
/// offset or "Z". A time without an offset is UTC (Close's default without x-tz-offset).
/// nullopt for anything else.
std::optional<QDateTime> parseCloseDateTime(const QString &text);
/// A UTC date-time as Close writes one: "2026-12-07T06:00:00.123000+00:00".
QString closeDateTimeText(const QDateTime &time);

} // namespace sluice
