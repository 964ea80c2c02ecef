#pragma once

#include "storereply.h"

#include <QString>
#include <QUrlQuery>

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <memory>

namespace sluice {

/// The fake Close organisation's tasks and `GET /api/v1/task/` with the filters, ordering and
/// offset paging docs/sandbox-rules.md lists. Only lead tasks (`_type` "lead") are ever stored,
/// as only people and the API make those; the other types are known names that match nothing.
/// Pure logic: the server maps requests onto it.
class CloseTaskStore
{
public:
    static constexpr int kDefaultLimit = 100;
    static constexpr int kMaxLimit = 100;

    /// The name of a Close lead by id, or nullopt when the organisation has no such lead.
    using LeadName = std::function<std::optional<QString>(const QString &leadId)>;

    CloseTaskStore();
    ~CloseTaskStore();

    /// Creates tasks: one object or an array of {lead_id, text, date_created?, id?,
    /// is_complete?}; each lead must exist. All or nothing; answers the tasks as stored.
    StoreReply putTasks(const nlohmann::json &tasks, const LeadName &leadName);
    /// Forgets one task (404 when unknown), or every task.
    StoreReply deleteTask(const QString &id);
    void clear();
    int taskCount() const;

    /// GET /api/v1/task/ with its query string.
    StoreReply list(const QUrlQuery &query) const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

} // namespace sluice
