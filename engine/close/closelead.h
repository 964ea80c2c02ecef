#pragma once

#include "close/closewebhook.h"

#include <nlohmann/json_fwd.hpp>

namespace sluice {

/// The Instantly leads one Close lead yields, and why some of its contacts yield none.
struct CloseLeadConversion
{
    std::vector<Lead> leads;
    /// Human-readable reason per skipped contact or email, e.g.
    /// "contact 'Bo': bo@x.io is unsubscribed".
    QStringList skipped;
    /// Every non-empty address that gave no lead, as written (so the lead stays findable by
    /// email although it yields nothing to send).
    QStringList unusableEmails;
    int unsubscribed = 0; ///< entries of `skipped` that are an unsubscribed address

    /// Every reason a contact gave nothing is an unsubscribed address.
    bool allUnsubscribed() const { return !skipped.isEmpty() && unsubscribed == skipped.size(); }
};

/// "Close lead lead_x has no usable contact (contact 'Bo': bo@x.io is unsubscribed; ...)": the
/// dead letter's detail for a Close lead that yields no Instantly lead, at intake or lookup.
QString noUsableContactText(const QString &closeLeadId, const QStringList &skipped);

/// Close lead JSON (GET /api/v1/lead/{id}/ shape, or the inline top-level `lead` of a webhook)
/// -> Instantly leads: one per contact, with that contact's first usable email (valid per
/// emailProblem(), not `is_unsubscribed`, not already used by an earlier contact).
/// Error fields are paths relative to the lead ("contacts[1].emails"). A lead without usable
/// contacts is a success with no leads; the caller decides what that means.
Result<CloseLeadConversion, IntakeError> convertCloseLead(const nlohmann::json &lead,
                                                          const IntakeLimits &limits = {});

/// The same from the raw bytes of a Close API answer: checks UTF-8, depth and JSON first.
Result<CloseLeadConversion, IntakeError> convertCloseLeadBody(const QByteArray &body,
                                                              const IntakeLimits &limits = {});

} // namespace sluice
