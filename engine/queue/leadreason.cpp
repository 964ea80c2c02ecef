#include "leadreason.h"

#include <initializer_list>

namespace sluice {

namespace {

struct Entry
{
    LeadReason reason;
    const char *code;
    const char *title;
    const char *action;
};

// The codes are a contract with resources/lua/lib/reasons.lua and with stored dead letters:
// never rename one.
constexpr Entry kReasons[] = {
    { LeadReason::Unknown, "unknown", "No reason code",
      "Read the reason text; retry when what it describes is fixed." },
    { LeadReason::CampaignMissing, "campaign_missing", "Campaign not found in Instantly",
      "Create the campaign in Instantly with exactly the name the Close task gives (or fix the "
      "task text in Close). Sluice checks again about every minute and sends the parked leads "
      "by itself; Retry checks at once." },
    { LeadReason::CloseLeadMissing, "close_lead_missing", "Lead not found in Close",
      "The lead was deleted or merged in Close after the task was made. Find it in Close; if it "
      "exists under another id, create the task on it again. Otherwise discard." },
    { LeadReason::NoUsableEmail, "no_usable_email", "No usable email",
      "Add a valid email to a contact of the lead in Close, then retry." },
    { LeadReason::Unsubscribed, "unsubscribed", "Unsubscribed",
      "Every email of the lead is unsubscribed in Close: leave it out (discard) unless the "
      "contact opted in again." },
    { LeadReason::CloseLeadUnusable, "close_lead_unusable", "Close's answer unreadable",
      "Close answered with something Sluice could not read; the reason says what. Retry; if it "
      "persists, report it with the lead id." },
    { LeadReason::Blocklisted, "blocklisted", "On the Instantly blocklist",
      "The email or its domain is on the workspace blocklist in Instantly. Remove it there if "
      "it should be contacted, then retry; otherwise discard." },
    { LeadReason::InvalidEmail, "invalid_email", "Invalid email",
      "Fix the email in Close, then retry." },
    { LeadReason::Incomplete, "incomplete", "Incomplete lead",
      "Instantly counted the lead incomplete: check that the contact has an email in Close, "
      "then retry." },
    { LeadReason::PlanExhausted, "plan_exhausted", "Instantly plan exhausted",
      "The Instantly plan has no leads left: upgrade it or free leads, then retry these." },
    { LeadReason::NotCreated, "not_created", "Not created by Instantly",
      "Instantly did not create the lead, said why only in totals (attached), and it is not in "
      "the campaign. Look at the counts, fix what they point at, then retry." },
    { LeadReason::SkippedByFlag, "skipped_by_flag", "Skipped by a skip flag",
      "The lead is already elsewhere in the workspace and --skip-if kept it out, as configured. "
      "Discard, or retry with --skip-if none to add it to this campaign too." },
    { LeadReason::Rejected, "rejected", "Refused by Instantly",
      "Instantly refused the request for good (a 4xx); the reason has its message. Fix what it "
      "says, then retry." },
    { LeadReason::GaveUp, "gave_up", "Attempts exhausted",
      "Every attempt failed for a passing reason (5xx, timeouts). Check Instantly's status and "
      "the breaker, then retry." },
    { LeadReason::UnreadableEntry, "unreadable_entry", "Unreadable queue entry",
      "The queue entry itself is damaged; the reason says which field. Discard it and send the "
      "lead again from Close (or a direct batch)." },
};

const Entry &entryOf(LeadReason reason)
{
    for (const Entry &e : kReasons)
        if (e.reason == reason)
            return e;
    return kReasons[0];
}

} // namespace

QByteArray leadReasonCode(LeadReason reason)
{
    return entryOf(reason).code;
}

LeadReason leadReasonFromCode(const QByteArray &code)
{
    for (const Entry &e : kReasons)
        if (code == e.code)
            return e.reason;
    return LeadReason::Unknown;
}

QString leadReasonTitle(LeadReason reason)
{
    return QString::fromUtf8(entryOf(reason).title);
}

QString leadReasonAction(LeadReason reason)
{
    return QString::fromUtf8(entryOf(reason).action);
}

const std::initializer_list<LeadReason> &allLeadReasons()
{
    static const std::initializer_list<LeadReason> all {
        LeadReason::CampaignMissing, LeadReason::CloseLeadMissing,  LeadReason::NoUsableEmail,
        LeadReason::Unsubscribed,    LeadReason::CloseLeadUnusable, LeadReason::Blocklisted,
        LeadReason::InvalidEmail,    LeadReason::Incomplete,        LeadReason::PlanExhausted,
        LeadReason::NotCreated,      LeadReason::SkippedByFlag,     LeadReason::Rejected,
        LeadReason::GaveUp,          LeadReason::UnreadableEntry,   LeadReason::Unknown,
    };
    return all;
}

} // namespace sluice
