#pragma once

#include <QByteArray>
#include <QString>

namespace sluice {

/// Why a lead is parked or dead-lettered: a typed code the console, alerts and metrics group
/// by, never free text with emails in it. Each has words for people (title()) and what the
/// operator does about it (action()). The Lua scripts name the same codes as constants
/// (resources/lua/lib/reasons.lua); leadReasonCode() is the one mapping.
enum class LeadReason {
    Unknown, ///< a dead letter written before codes existed
    CampaignMissing, ///< parked: no campaign of that name in Instantly (yet)
    CloseLeadMissing, ///< Close does not know the lead the webhook named
    NoUsableEmail, ///< the lead has no contact with a usable email
    Unsubscribed, ///< every email of the lead is unsubscribed in Close
    CloseLeadUnusable, ///< Close's answer for the lead could not be read
    Blocklisted, ///< on the Instantly workspace's blocklist
    InvalidEmail, ///< Instantly (or Sluice's own check) found the email invalid
    Incomplete, ///< Instantly counted the lead incomplete
    PlanExhausted, ///< the Instantly plan has no leads left
    NotCreated, ///< Instantly created it not, said why only in totals, and it is not in the
                ///< campaign
    SkippedByFlag, ///< a skip flag (--skip-if) kept it out: it is elsewhere in the workspace
    Rejected, ///< Instantly refused the request for good (a 4xx)
    GaveUp, ///< every attempt failed for a passing reason
    UnreadableEntry, ///< the queue entry itself cannot be read
};

/// "campaign_missing", "blocklisted", ... as stored in Redis and shown in /metrics.
QByteArray leadReasonCode(LeadReason reason);
/// The reason of a stored code; Unknown for an empty or unknown one.
LeadReason leadReasonFromCode(const QByteArray &code);
/// "Campaign not found in Instantly".
QString leadReasonTitle(LeadReason reason);
/// What the operator does: "Create the campaign in Instantly (or fix the task text in Close);
/// the parked leads go out by themselves once it exists."
QString leadReasonAction(LeadReason reason);
/// Every reason, in the order the console lists them.
const std::initializer_list<LeadReason> &allLeadReasons();

} // namespace sluice
