#pragma once

#include "instantly/instantlytypes.h"
#include "queue/leadreason.h"

#include <QString>

#include <vector>

namespace sluice {

/// What Instantly's bulk answer says of one lead of the request.
struct BulkLeadOutcome
{
    enum class Kind {
        Delivered, ///< in created_leads: Instantly created it
        Dead, ///< not created, and the answer says why for every missing lead (`reason`)
        Check, ///< not created, and the totals do not say which reason is this lead's: list
               ///< the campaign for it (found: already there; not found: `reason`)
    };
    Kind kind = Kind::Check;
    LeadReason reason = LeadReason::NotCreated; ///< Dead: why; Check: why when not found
};

/// One outcome per lead of a bulk request of `leads` leads, from the answer (pure logic):
/// - a lead in `created_leads` is delivered;
/// - when exactly one non-zero reason count accounts for every missing lead, each missing lead
///   has that reason: blocklisted, invalid, incomplete or plan exhausted (leads past the plan
///   are in no count, and `remaining_in_plan` is 0) are dead letters; skipped by a flag,
///   already in the campaign or a repeat within the request are checked by listing, since
///   "already there" is only believed when seen;
/// - otherwise every missing lead is checked by listing, and one not found is "not created".
std::vector<BulkLeadOutcome> mapBulkAnswer(size_t leads, const BulkAddResult &answer);

/// The answer's non-zero counts, for a dead letter's reason: "in_blocklist 1, incomplete 2".
QString bulkCountsText(const BulkAddResult &answer);

} // namespace sluice
