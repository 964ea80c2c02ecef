#include "bulkoutcome.h"

#include <QStringList>

namespace sluice {

namespace {

struct Count
{
    const char *name;
    int value;
    LeadReason reason;
    bool deadOnItsOwn; ///< the count alone is enough to dead-letter
};

} // namespace

std::vector<BulkLeadOutcome> mapBulkAnswer(size_t leads, const BulkAddResult &answer)
{
    std::vector<BulkLeadOutcome> out(leads);
    std::vector<bool> created(leads, false);
    for (const BulkAddResult::Created &c : answer.created)
        if (c.index >= 0 && size_t(c.index) < leads)
            created[size_t(c.index)] = true;
    size_t missing = 0;
    for (size_t i = 0; i < leads; ++i) {
        if (created[i])
            out[i].kind = BulkLeadOutcome::Kind::Delivered;
        else
            ++missing;
    }
    if (missing == 0)
        return out;

    const int counted = answer.inBlocklist + answer.invalidEmailCount + answer.incompleteCount
        + answer.skippedCount + answer.duplicatedLeads + answer.duplicateEmailCount;
    // Leads past the plan's end are in no count: the plan says 0 left.
    const int pastPlan = answer.remainingInPlan == 0 ? std::max(0, int(missing) - counted) : 0;
    const Count counts[] = {
        { "in_blocklist", answer.inBlocklist, LeadReason::Blocklisted, true },
        { "invalid_email_count", answer.invalidEmailCount, LeadReason::InvalidEmail, true },
        { "incomplete_count", answer.incompleteCount, LeadReason::Incomplete, true },
        { "plan", pastPlan, LeadReason::PlanExhausted, true },
        { "skipped_count", answer.skippedCount, LeadReason::SkippedByFlag, false },
        { "duplicated_leads", answer.duplicatedLeads, LeadReason::NotCreated, false },
        { "duplicate_email_count", answer.duplicateEmailCount, LeadReason::NotCreated, false },
    };
    const Count *only = nullptr;
    int nonZero = 0;
    for (const Count &c : counts) {
        if (c.value > 0) {
            ++nonZero;
            only = &c;
        }
    }
    BulkLeadOutcome verdict; // Check, NotCreated: the totals do not say whose reason is whose
    if (nonZero == 1 && size_t(only->value) == missing) {
        verdict.reason = only->reason;
        verdict.kind
            = only->deadOnItsOwn ? BulkLeadOutcome::Kind::Dead : BulkLeadOutcome::Kind::Check;
    }
    for (size_t i = 0; i < leads; ++i)
        if (!created[i])
            out[i] = verdict;
    return out;
}

QString bulkCountsText(const BulkAddResult &a)
{
    QStringList parts;
    const std::pair<const char *, int> counts[] = {
        { "total_sent", a.totalSent },
        { "leads_uploaded", a.leadsUploaded },
        { "in_blocklist", a.inBlocklist },
        { "invalid_email_count", a.invalidEmailCount },
        { "incomplete_count", a.incompleteCount },
        { "skipped_count", a.skippedCount },
        { "duplicated_leads", a.duplicatedLeads },
        { "duplicate_email_count", a.duplicateEmailCount },
    };
    for (const auto &[name, value] : counts)
        if (value > 0 || QLatin1String(name) == QLatin1String("total_sent")
            || QLatin1String(name) == QLatin1String("leads_uploaded"))
            parts << QStringLiteral("%1 %2").arg(QLatin1String(name)).arg(value);
    if (a.remainingInPlan >= 0)
        parts << QStringLiteral("remaining_in_plan %1").arg(a.remainingInPlan);
    return parts.join(QStringLiteral(", "));
}

} // namespace sluice
