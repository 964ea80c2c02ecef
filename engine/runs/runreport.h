#pragma once

#include "runs/run.h"

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

} // namespace sluice
