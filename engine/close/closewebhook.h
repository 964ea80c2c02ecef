#pragma once

#include "core/lead.h"
#include "core/result.h"

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <vector>

namespace sluice {

/// Which of the two shapes POST /instantly/add_lead accepted, or a Close task found by
/// `sluice backfill` (never a body of the intake).
enum class IntakeSource { CloseWebhook, DirectBatch, CloseBackfill };

/// Why an intake body (or a Close lead) was refused: answered as a 400 with message().
struct IntakeError
{
    /// JSON path of the offending value, like "event.data.text" or "leads[3].email";
    /// empty when the problem is the body as a whole.
    QString field;
    QString reason;

    /// "event.data.text: must be a string", or just the reason when `field` is empty.
    QString message() const;
};

/// A parsed, validated intake body: what to queue, or why there is nothing to queue.
struct IntakeRequest
{
    IntakeSource source = IntakeSource::CloseWebhook;
    /// Non-empty: a valid Close event that is not ours (other object_type/action, task text not
    /// "Instantly: ..."). The intake acknowledges it (2xx) and stores nothing, so Close does
    /// not retry or pause the subscription.
    QString ignoredReason;
    /// Task text after "Instantly:", trimmed; or the direct form's `campaign`, trimmed.
    QString campaignName;
    QString eventId; ///< event.id (Close only): the dedupe key for repeated deliveries
    QString subscriptionId; ///< subscription_id (Close only; may be empty)
    QString closeLeadId; ///< event.data.lead_id, else event.lead_id
    /// The Close task's id (event.data.id, else event.object_id; "task_…"), empty when the
    /// event names none. Backfill and webhooks both dedupe on it (RedisKeys::closeTask).
    QString closeTaskId;
    /// Inline leads (direct form, or the top-level `lead` of a Close payload).
    std::vector<Lead> leads;
    /// Contacts or emails of an inline Close lead that gave no Instantly lead, one reason each.
    QStringList skipped;
    /// The addresses of an inline Close lead that gave no lead (CloseLeadConversion).
    QStringList unusableEmails;
    /// Every entry of `skipped` is an unsubscribed address.
    bool allUnsubscribed = false;
    /// Close webhook with no inline lead: fetch closeLeadId from the Close API.
    bool needsLeadLookup = false;

    bool ignored() const { return !ignoredReason.isEmpty(); }
    /// A Close webhook for our campaign whose inline lead yields nothing to send: it becomes a
    /// dead letter at once (no usable email, unsubscribed), findable by Close lead id and email.
    bool unusable() const
    {
        return !ignored() && source == IntakeSource::CloseWebhook && !needsLeadLookup
            && leads.empty() && !closeLeadId.isEmpty();
    }
};

/// Bounds on what one intake body may hold; a body outside them is refused, not truncated.
struct IntakeLimits
{
    int maxDepth = 32; ///< nesting of arrays/objects, checked before the JSON parser runs
    int maxLeads = 1000; ///< leads per direct batch, or usable contacts of one Close lead
    int maxFieldLength = 4096; ///< UTF-8 bytes of any string or key Sluice reads
};

/// What a Close task's text asks of Sluice: the campaign of "Instantly: <Campaign>" (prefix
/// case-insensitive, the name trimmed, inner spacing and case kept); nullopt when the text is
/// not ours (no prefix); an error when it is ours but names no usable campaign. Shared by the
/// webhook path and the backfill, so both read a task the same way.
Result<std::optional<QString>, QString> campaignOfTaskText(const QString &text);
/// Close task ids as Close issues them ("task_" and an opaque token), safe in a Redis key.
bool isCloseTaskId(const QString &id);

/// Parses and validates the body of POST /instantly/add_lead: a Close webhook
/// (`{subscription_id, event:{...}, lead?}`) or a direct batch (`{campaign, leads:[...]}`).
/// A direct batch is all or nothing: one bad lead refuses the whole body.
///
/// Task text matching is case-insensitive on the prefix ("instantly:" works too) and ignores
/// whitespace around the text; the campaign name keeps its inner spacing and case, since it
/// is compared exactly with Instantly's campaign names.
Result<IntakeRequest, IntakeError> parseIntakeBody(const QByteArray &body,
                                                   const IntakeLimits &limits = {});

/// Parses a JSON document within `limits`: valid UTF-8, and nesting no deeper than maxDepth,
/// checked by a bracket scan before the parser sees the bytes (so a 100k-deep body cannot
/// exhaust the stack). The error's `field` is empty; its reason carries the parser's position.
std::optional<IntakeError> parseLimitedJson(const QByteArray &body, const IntakeLimits &limits,
                                            nlohmann::json &out);

} // namespace sluice
