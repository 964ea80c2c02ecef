#pragma once

#include "runs/run.h"
#include "runs/runsession.h"

#include <QByteArray>
#include <QString>

#include <vector>

namespace sluice {

// How runs are shown to people and exported: pure functions of RunRecords, shared by
// `sluice runs` and, later, the console's Runs page. Times are UTC, like run ids; latencies
// are shown in milliseconds (records keep microseconds).

/// One word for the outcome: PASS or FAIL once finished, ABORTED, or UNFINISHED while a run
/// is still going (or its process died before finishing it).
QString runVerdict(const RunRecord &record);

/// The whole record, multi-line: definition, timings, acknowledgements, delivery, upstream
/// requests against the caps, verify and cleanup results, each check and the verdict.
QString formatRunReport(const RunRecord &record);

/// One line per run (id, stage, leads, created, duration, p99 ack, delivered, verdict) under
/// a header, in the given order; for `sluice runs`.
QString formatRunTable(const std::vector<RunRecord> &runs);

/// Two runs side by side: metric | run A | run B | change (B against A: "same", the
/// difference and percentage for numbers, "now PASS"/"now FAIL" for the verdict and checks,
/// "differs" for text).
QString formatRunComparison(const RunRecord &a, const RunRecord &b);

/// CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line break quoted, quotes
/// doubled): a header, then one row of flat columns per run. UTF-8.
QByteArray runsToCsv(const std::vector<RunRecord> &runs);

/// A JSON array of toJson(record), indented. UTF-8.
QByteArray runsToJson(const std::vector<RunRecord> &runs);

/// One CSV field, quoted only when it must be.
QString csvField(const QString &value);

// ---- `sluice loadtest`, `sluice verify --run`, `sluice cleanup --run` ---------------------
// One line each unless said; no line end.

/// "run ID: 20 leads to 'Campaign' via URL (sandbox), bulk mode, 50 concurrent".
QString formatRunStart(const RunDefinition &definition, const QString &via, bool live);
/// Why a live run's webhooks carry their leads.
QString liveInlineLeadsNote();
/// "predicted duration: 4.2s at 8.0 requests/s".
QString formatPrediction(qint64 predictedMs, double perSecond);
/// "[ 45%] delivering  sent 20/20, delivered 9, 3.1 leads/s, ETA 3.5s".
QString formatProgressLine(const LoadTestProgress &progress);
/// What a session step announces ("verifying in Instantly..."); empty for the others.
QString formatStepLine(RunRecord::State state);
/// A finished run: a blank line, the verdict, acknowledgements, delivery, verify and
/// clean-up results and every check; one line each, each ended.
QString formatRunSummary(const RunRecord &record);
/// "  saved in the run ledger: sluice runs show ID [--namespace NS]" (NS unless "default"),
/// ended.
QString formatSavedLine(const QString &id, const QString &ns);
/// "the run was not saved in the ledger: WHY".
QString formatNotSaved(const LedgerError &error);
/// "  record written to FILE", ended.
QString formatRecordWritten(const QString &file);
/// What `sluice verify --run` found: a summary line, the missing and duplicated addresses
/// and what was queued again; each line ended.
QString formatVerifyResult(const RunRecord &record, const VerifyReport &report);
/// What `sluice cleanup --run` did (or, dry, would do); each line ended.
QString formatCleanupResult(const RunRecord &record, const CleanupReport &report);
/// Why a run cannot be verified or cleaned up again from here.
struct RecheckRefusal
{
    enum class Kind {
        LeadsGone, ///< they were in the sandbox embedded in the process that ran the test
        OtherInstantly, ///< the run went to another Instantly than the one given
    };
    Kind kind;
    QString message;
};
/// Why `record` cannot be checked again against `instantlyUrl`; nullopt when it can.
std::optional<RecheckRefusal> recheckRefusal(const RunRecord &record, const QUrl &instantlyUrl);
/// "the result was not saved: WHY".
QString formatResultNotSaved(const LedgerError &error);

// ---- the console's Runs page ---------------------------------------------------------------

/// "850 ms" as the console shows it: "0.9 s", "1 min 2 s", "?" when unknown.
QString consoleDuration(qint64 ms);
/// "Run ID: 20 leads to campaign 'Campaign'…".
QString formatRunStarting(const RunDefinition &definition);
/// A session's progress: firing and delivering with the ETA, or the verify listing.
QString formatProgressStatus(const RunProgress &progress);
/// A run as the page shows it: timings, and verify and clean-up results, line by line.
QString formatRunStatus(const RunRecord &record);
/// "\nRun ID was not saved in the ledger: WHY", to append to a status.
QString formatStatusNotSaved(const QString &id, const LedgerError &error);

} // namespace sluice
