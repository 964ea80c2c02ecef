#pragma once

#include "storereply.h"

#include <QString>
#include <QStringList>

#include <nlohmann/json_fwd.hpp>

#include <memory>

namespace sluice {

/// The fake Close organisation's leads and the two ways to read them: `GET /api/v1/lead/{id}/`
/// and the Advanced Filtering search `POST /api/v1/data/search/` restricted to what
/// docs/sandbox-rules.md lists (leads by id, `_limit`, `cursor`, `_fields`). Pure logic.
class CloseStore
{
public:
    static constexpr int kMaxSearchLimit = 200;
    static constexpr int kDefaultSearchLimit = 100;

    CloseStore();
    ~CloseStore();

    /// Stores (or replaces) leads; each must be an object with a string "id". All or nothing:
    /// a bad lead stores none. Accepts one lead object or an array of them.
    StoreReply putLeads(const nlohmann::json &leads);
    void clear();
    int leadCount() const;

    /// GET /api/v1/lead/{id}/ with the optional `_fields` (comma-separated, already split).
    StoreReply getLead(const QString &id, const QStringList &fields = {}) const;
    /// POST /api/v1/data/search/.
    StoreReply search(const nlohmann::json &body) const;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

/// Close's error body: {"error": message, "errors": [], "field-errors": {field: problem}}.
StoreReply closeError(int status, const QString &message, const QString &field = {});

} // namespace sluice
