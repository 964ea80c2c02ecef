#pragma once

#include "core/lead.h"
#include "core/result.h"

#include <QByteArray>
#include <QList>
#include <QString>

namespace sluice {

/// One unit of work in the leads stream: a lead to add to a campaign, or (needsLookup) a Close
/// lead id whose contacts must be fetched first, which the dispatcher then expands into one
/// entry per contact. The intake writes these; dispatchers read, retry and dead-letter them.
///
/// Stream fields (all strings): task, campaign, source ("close" | "direct" | "backfill"),
/// received_ms, attempt, event (Close event id, may be empty), uncertain ("1" after an answer that
/// may have been applied), and either `lead` (JSON object {email, first_name, last_name,
/// company_name, custom_variables}) or `close_lead` (the Close lead id to look up).
struct QueuedLead
{
    QString taskId;
    QString campaignName; ///< exact Instantly campaign name
    QString source; ///< "close", "direct" or "backfill"
    qint64 receivedMs = 0; ///< Unix ms the intake stored it
    int attempt = 0; ///< upstream attempts already failed transiently
    QString eventId;
    Lead lead; ///< when !needsLookup
    QString closeLeadId; ///< when needsLookup
    bool needsLookup = false;
    /// An earlier request for it may have been applied (field `uncertain` = "1", written by the
    /// settle script): the campaign is listed for it before it is sent again.
    bool uncertain = false;

    /// The field/value list for XADD (after the entry id).
    QList<QByteArray> toFields() const;
    /// Reads the fields of a stream entry; the error says which field is missing or wrong.
    static Result<QueuedLead, QString> fromFields(const QList<QByteArray> &fieldsAndValues);
};

/// Progress of one batch (task), a Redis hash with these fields: total, processed,
/// succeeded, skipped (already in the campaign), failed, dead, rate_limit_delays, retries,
/// state (queued | running | done | failed), campaign, source, created_ms, first_sent_ms,
/// finished_ms, and last_error / last_error_ms (the latest retry, failure or dead-letter
/// reason, as the status endpoint shows it). processed = succeeded + skipped + failed + dead;
/// state becomes done (or failed, when nothing succeeded or was skipped) once
/// processed == total.
struct TaskProgress
{
    QString taskId;
    int total = 0;
    int processed = 0;
    int succeeded = 0;
    int skipped = 0;
    int failed = 0;
    int dead = 0;
    int rateLimitDelays = 0;
    int retries = 0;
    QString state;
    QString campaign;
    QString source;
    qint64 createdMs = 0;
    qint64 firstSentMs = 0;
    qint64 finishedMs = 0;
    QString lastError;
    qint64 lastErrorMs = 0;
};

} // namespace sluice
