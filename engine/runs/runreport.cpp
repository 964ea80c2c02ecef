#include "runreport.h"

#include "core/jsontext.h"

#include <QDateTime>
#include <QSet>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

namespace sluice {

namespace {

const QString kNone = QStringLiteral("-");

/// Lists in reports show this many addresses, then "+N more".
constexpr int kListedAddresses = 10;

QString utcTime(qint64 ms)
{
    if (ms <= 0)
        return kNone;
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC)
        .toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
}

QString isoUtc(qint64 ms)
{
    if (ms <= 0)
        return QString();
    return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

/// 850 ms, 31.0 s, 4 m 05 s, 1 h 02 m.
QString durationText(qint64 ms)
{
    if (ms < 0)
        return kNone;
    if (ms < 1000)
        return QStringLiteral("%1 ms").arg(ms);
    if (ms < 60'000)
        return QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    const qint64 s = ms / 1000;
    if (s < 3600)
        return QStringLiteral("%1 m %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 m").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

/// How long the run took, or -1 while it has not finished.
qint64 runDurationMs(const RunRecord &r)
{
    return r.finishedMs > 0 && r.createdMs > 0 && r.finishedMs >= r.createdMs
        ? r.finishedMs - r.createdMs
        : -1;
}

/// A moment of the run relative to its creation: "+4.3 s".
QString sinceCreated(const RunRecord &r, qint64 ms)
{
    if (ms <= 0 || r.createdMs <= 0 || ms < r.createdMs)
        return kNone;
    return QLatin1Char('+') + durationText(ms - r.createdMs);
}

double usToMs(qint64 us)
{
    return double(us) / 1000.0;
}

QString msText(qint64 us)
{
    return QString::number(usToMs(us), 'f', 1);
}

QString passFail(bool passed)
{
    return passed ? QStringLiteral("PASS") : QStringLiteral("FAIL");
}

QString addresses(const QStringList &list)
{
    QString text = list.mid(0, kListedAddresses).join(QStringLiteral(", "));
    if (list.size() > kListedAddresses)
        text += QStringLiteral(" (+%1 more)").arg(list.size() - kListedAddresses);
    return text;
}

QString windowAgainstCap(int worst, int cap)
{
    if (cap <= 0)
        return QStringLiteral("%1 (no cap recorded)").arg(worst);
    QString text = QStringLiteral("%1 of %2 allowed").arg(worst).arg(cap);
    if (worst > cap)
        text += QStringLiteral("  OVER THE CAP");
    return text;
}

QStringList failedChecks(const RunRecord &r)
{
    QStringList names;
    for (const RunCheck &c : r.checks)
        if (!c.passed)
            names.append(c.name);
    return names;
}

/// A heading and "  label   value" rows under it, the values aligned.
class Section
{
public:
    explicit Section(QString heading)
        : m_heading(std::move(heading))
    { }
    void add(const QString &label, const QString &value) { m_rows.append({ label, value }); }
    QString text(int labelWidth = 20) const
    {
        QString out = m_heading + QLatin1Char('\n');
        for (const auto &[label, value] : m_rows) {
            out += QStringLiteral("  ") + label.leftJustified(labelWidth) + value
                + QLatin1Char('\n');
        }
        return out;
    }

private:
    QString m_heading;
    QList<std::pair<QString, QString>> m_rows;
};

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
QString renderTable(const QList<QStringList> &rows, const QSet<int> &rightAligned)
{
    QList<int> widths;
    for (const QStringList &row : rows)
        for (int c = 0; c < row.size(); ++c) {
            if (c >= widths.size())
                widths.append(0);
            widths[c] = std::max(widths[c], int(row[c].size()));
        }
    QString out;
    for (const QStringList &row : rows) {
        QString line;
        for (int c = 0; c < row.size(); ++c) {
            if (c > 0)
                line += QStringLiteral("  ");
            line += rightAligned.contains(c) ? row[c].rightJustified(widths[c])
                                             : row[c].leftJustified(widths[c]);
        }
        while (line.endsWith(QLatin1Char(' ')))
            line.chop(1);
        out += line + QLatin1Char('\n');
    }
    return out;
}

QString definitionLine(const RunDefinition &d)
{
    QStringList parts;
    parts << (d.mode.isEmpty() ? QStringLiteral("mode not recorded")
                               : d.mode + QStringLiteral(" mode"))
          << QStringLiteral("%1 concurrent webhooks").arg(d.concurrency)
          << (d.signedWebhooks ? QStringLiteral("signed") : QStringLiteral("unsigned"))
          << (d.failFast ? QStringLiteral("fail-fast on") : QStringLiteral("fail-fast off"))
          << (d.inlineLeads ? QStringLiteral("leads inline")
                            : QStringLiteral("lead-less, looked up in Close"));
    return parts.join(QStringLiteral(", "));
}

QString thresholdsLine(const RunThresholds &t)
{
    QStringList parts;
    parts << QStringLiteral("acks under %1").arg(durationText(t.ackTimeout.count()))
          << QStringLiteral("p99 ack at most %1 ms").arg(t.ackP99.count());
    if (t.allDelivered)
        parts << QStringLiteral("all delivered");
    if (t.noDuplicates)
        parts << QStringLiteral("no duplicates");
    parts << QStringLiteral("at most %1 429s").arg(t.max429);
    return parts.join(QStringLiteral(", "));
}

// ---- comparison -------------------------------------------------------------------------

/// Signed difference with the percentage of A: "+300 (+150.0%)"; "same" when equal.
QString numericChange(double a, double b, int decimals)
{
    const double delta = b - a;
    if (std::abs(delta) < std::pow(10.0, -decimals) / 2)
        return QStringLiteral("same");
    QString text
        = (delta > 0 ? QStringLiteral("+") : QString()) + QString::number(delta, 'f', decimals);
    if (a != 0)
        text += QStringLiteral(" (%1%2%)")
                    .arg(delta > 0 ? QStringLiteral("+") : QString())
                    .arg(delta / std::abs(a) * 100.0, 0, 'f', 1);
    return text;
}

struct Comparison
{
    QList<QStringList> rows;

    void text(const QString &metric, const QString &a, const QString &b)
    {
        rows.append({ metric, a, b, a == b ? QStringLiteral("same") : QStringLiteral("differs") });
    }
    void number(const QString &metric, double a, double b, int decimals = 0)
    {
        rows.append({ metric, QString::number(a, 'f', decimals), QString::number(b, 'f', decimals),
                      numericChange(a, b, decimals) });
    }
    /// Numbers that may be missing in either run (shown "-", no change then).
    void optionalNumber(const QString &metric, std::optional<double> a, std::optional<double> b,
                        int decimals = 0)
    {
        if (a && b) {
            number(metric, *a, *b, decimals);
            return;
        }
        rows.append({ metric, a ? QString::number(*a, 'f', decimals) : kNone,
                      b ? QString::number(*b, 'f', decimals) : kNone, QString() });
    }
    void verdict(const QString &metric, const QString &a, const QString &b)
    {
        QString change; // none when either run lacks it
        if (a != kNone && b != kNone)
            change = a == b ? QStringLiteral("same") : QStringLiteral("now ") + b;
        rows.append({ metric, a, b, change });
    }
};

std::optional<double> durationSeconds(const RunRecord &r)
{
    const qint64 ms = runDurationMs(r);
    if (ms < 0)
        return std::nullopt;
    return double(ms) / 1000.0;
}

std::optional<double> predictedSeconds(const RunRecord &r)
{
    if (r.predictedMs <= 0)
        return std::nullopt;
    return double(r.predictedMs) / 1000.0;
}

} // namespace

QString runVerdict(const RunRecord &r)
{
    switch (r.state) {
    case RunRecord::State::Finished:
        return passFail(r.passed);
    case RunRecord::State::Aborted:
        return QStringLiteral("ABORTED");
    default:
        return QStringLiteral("UNFINISHED");
    }
}

QString csvField(const QString &value)
{
    if (!value.contains(QLatin1Char(',')) && !value.contains(QLatin1Char('"'))
        && !value.contains(QLatin1Char('\n')) && !value.contains(QLatin1Char('\r')))
        return value;
    QString quoted = value;
    quoted.replace(QLatin1Char('"'), QStringLiteral("\"\""));
    return QLatin1Char('"') + quoted + QLatin1Char('"');
}

QString formatRunReport(const RunRecord &r)
{
    const RunDefinition &d = r.definition;
    QString out = QStringLiteral("Run %1: %2\n\n").arg(d.id, runVerdict(r));

    Section definition(QStringLiteral("Definition"));
    definition.add(QStringLiteral("stage"),
                   QStringLiteral("%1 (%2 leads)").arg(d.stage).arg(d.leads));
    definition.add(
        QStringLiteral("campaign"),
        d.campaign
            + (r.campaignCreatedByRun ? QStringLiteral(" (created by the run)") : QString()));
    definition.add(QStringLiteral("target"),
                   d.target.isEmpty() ? QStringLiteral("the local listener")
                                      : d.target.toDisplayString());
    definition.add(QStringLiteral("lead addresses"), d.leadTemplate.emailPattern);
    definition.add(QStringLiteral("timestamp"), d.timestamp.isEmpty() ? kNone : d.timestamp);
    definition.add(QStringLiteral("delivery"), definitionLine(d));
    definition.add(QStringLiteral("thresholds"), thresholdsLine(d.thresholds));
    definition.add(QStringLiteral("state"), RunRecord::stateName(r.state));
    out += definition.text() + QLatin1Char('\n');

    Section timings(QStringLiteral("Timings (UTC)"));
    timings.add(QStringLiteral("created"), utcTime(r.createdMs));
    timings.add(QStringLiteral("first webhook sent"), sinceCreated(r, r.firstSentMs));
    timings.add(QStringLiteral("last webhook acked"), sinceCreated(r, r.lastAckMs));
    timings.add(QStringLiteral("all leads settled"), sinceCreated(r, r.deliveredMs));
    timings.add(QStringLiteral("finished"), sinceCreated(r, r.finishedMs));
    timings.add(QStringLiteral("predicted duration"),
                r.predictedMs > 0 ? durationText(r.predictedMs) : kNone);
    out += timings.text() + QLatin1Char('\n');

    Section acks(QStringLiteral("Webhook acknowledgements"));
    acks.add(QStringLiteral("webhooks"),
             QStringLiteral("%1 sent, %2 acknowledged, %3 failed")
                 .arg(r.sent)
                 .arg(r.acknowledged)
                 .arg(r.ackFailures));
    acks.add(QStringLiteral("latency (ms)"),
             r.ack.count > 0 ? QStringLiteral("p50 %1  p95 %2  p99 %3  max %4  (%5 samples)")
                                   .arg(msText(r.ack.p50), msText(r.ack.p95), msText(r.ack.p99),
                                        msText(r.ack.max))
                                   .arg(r.ack.count)
                             : QStringLiteral("no samples"));
    acks.add(QStringLiteral("accepted/s"), QString::number(r.acceptedPerSecond, 'f', 1));
    out += acks.text() + QLatin1Char('\n');

    Section delivery(QStringLiteral("Delivery"));
    delivery.add(QStringLiteral("delivered"), QString::number(r.delivered));
    delivery.add(QStringLiteral("skipped"), QString::number(r.skipped));
    delivery.add(QStringLiteral("failed"), QString::number(r.failed));
    delivery.add(QStringLiteral("dead-lettered"), QString::number(r.dead));
    delivery.add(QStringLiteral("retries"), QString::number(r.retries));
    delivery.add(QStringLiteral("rate-limit delays"), QString::number(r.rateLimitDelays));
    out += delivery.text() + QLatin1Char('\n');

    Section upstream(QStringLiteral("Upstream requests"));
    upstream.add(QStringLiteral("requests"), QString::number(r.upstreamRequests));
    upstream.add(QStringLiteral("429s"), QString::number(r.upstream429));
    upstream.add(QStringLiteral("breaker trips"), QString::number(r.breakerTrips));
    upstream.add(QStringLiteral("worst 1 s window"), windowAgainstCap(r.worst1s, r.cap1s));
    upstream.add(QStringLiteral("worst 60 s window"), windowAgainstCap(r.worst60s, r.cap60s));
    out += upstream.text() + QLatin1Char('\n');

    if (r.verify) {
        const VerifyReport &v = *r.verify;
        Section verify(QStringLiteral("Verify (%1 UTC): %2")
                           .arg(utcTime(v.atMs),
                                v.clean() ? QStringLiteral("clean") : QStringLiteral("NOT CLEAN")));
        verify.add(QStringLiteral("listed"), QString::number(v.listed));
        verify.add(QStringLiteral("present"), QString::number(v.present));
        verify.add(QStringLiteral("missing"),
                   v.missing.isEmpty()
                       ? QStringLiteral("0")
                       : QStringLiteral("%1: %2").arg(v.missing.size()).arg(addresses(v.missing)));
        verify.add(
            QStringLiteral("duplicated"),
            v.duplicated.isEmpty()
                ? QStringLiteral("0")
                : QStringLiteral("%1: %2").arg(v.duplicated.size()).arg(addresses(v.duplicated)));
        verify.add(QStringLiteral("unexpected extra"),
                   v.extra.isEmpty()
                       ? QStringLiteral("0")
                       : QStringLiteral("%1: %2").arg(v.extra.size()).arg(addresses(v.extra)));
        verify.add(QStringLiteral("repaired"), QString::number(v.repaired));
        if (!v.error.isEmpty())
            verify.add(QStringLiteral("error"), v.error);
        out += verify.text() + QLatin1Char('\n');
    } else {
        out += QStringLiteral("Verify: not run\n\n");
    }

    if (r.cleanup) {
        const CleanupReport &c = *r.cleanup;
        Section cleanup(
            QStringLiteral("Cleanup (%1 UTC)%2")
                .arg(utcTime(c.atMs),
                     c.dryRun ? QStringLiteral(": dry run, nothing deleted") : QString()));
        cleanup.add(QStringLiteral("found"), QString::number(c.found));
        cleanup.add(c.dryRun ? QStringLiteral("would delete") : QStringLiteral("deleted"),
                    QString::number(c.deleted));
        cleanup.add(QStringLiteral("remaining"),
                    c.remaining < 0 ? QStringLiteral("not checked") : QString::number(c.remaining));
        cleanup.add(QStringLiteral("campaign deleted"),
                    c.campaignDeleted ? QStringLiteral("yes") : QStringLiteral("no"));
        if (!c.error.isEmpty())
            cleanup.add(QStringLiteral("error"), c.error);
        out += cleanup.text() + QLatin1Char('\n');
    } else {
        out += QStringLiteral("Cleanup: not run\n\n");
    }

    if (!r.checks.empty()) {
        QList<QStringList> rows;
        for (const RunCheck &c : r.checks)
            rows.append({ QStringLiteral("  ") + passFail(c.passed), c.name, c.detail });
        out += QStringLiteral("Checks\n") + renderTable(rows, {}) + QLatin1Char('\n');
    } else {
        out += QStringLiteral("Checks: none recorded\n\n");
    }

    const QStringList failing = failedChecks(r);
    out += QStringLiteral("Verdict: ") + runVerdict(r);
    if (!failing.isEmpty())
        out += QStringLiteral(" (failing: %1)").arg(failing.join(QStringLiteral(", ")));
    else if (r.state != RunRecord::State::Finished && r.state != RunRecord::State::Aborted)
        out += QStringLiteral(" (state %1)").arg(RunRecord::stateName(r.state));
    out += QLatin1Char('\n');
    if (!r.stopReason.isEmpty())
        out += QStringLiteral("Stopped: ") + r.stopReason + QLatin1Char('\n');
    return out;
}

QString formatRunTable(const std::vector<RunRecord> &runs)
{
    QList<QStringList> rows { { QStringLiteral("ID"), QStringLiteral("STAGE"),
                                QStringLiteral("LEADS"), QStringLiteral("CREATED (UTC)"),
                                QStringLiteral("DURATION"), QStringLiteral("P99 ACK"),
                                QStringLiteral("DELIVERED"), QStringLiteral("VERDICT") } };
    for (const RunRecord &r : runs) {
        rows.append({ r.definition.id, r.definition.stage, QString::number(r.definition.leads),
                      utcTime(r.createdMs), durationText(runDurationMs(r)),
                      r.ack.count > 0 ? msText(r.ack.p99) + QStringLiteral(" ms") : kNone,
                      QStringLiteral("%1/%2").arg(r.delivered).arg(r.definition.leads),
                      runVerdict(r) });
    }
    return renderTable(rows, { 2, 4, 5, 6 });
}

QString formatRunComparison(const RunRecord &a, const RunRecord &b)
{
    Comparison c;
    c.rows.append({ QStringLiteral("METRIC"), QStringLiteral("RUN A"), QStringLiteral("RUN B"),
                    QStringLiteral("CHANGE") });
    c.text(QStringLiteral("id"), a.definition.id, b.definition.id);
    c.verdict(QStringLiteral("verdict"), runVerdict(a), runVerdict(b));
    c.text(QStringLiteral("stage"), a.definition.stage, b.definition.stage);
    c.number(QStringLiteral("leads"), a.definition.leads, b.definition.leads);
    c.text(QStringLiteral("mode"), a.definition.mode, b.definition.mode);
    c.number(QStringLiteral("concurrency"), a.definition.concurrency, b.definition.concurrency);
    c.text(QStringLiteral("created (UTC)"), utcTime(a.createdMs), utcTime(b.createdMs));
    c.optionalNumber(QStringLiteral("duration (s)"), durationSeconds(a), durationSeconds(b), 1);
    c.optionalNumber(QStringLiteral("predicted (s)"), predictedSeconds(a), predictedSeconds(b), 1);
    c.number(QStringLiteral("webhooks sent"), a.sent, b.sent);
    c.number(QStringLiteral("acknowledged"), a.acknowledged, b.acknowledged);
    c.number(QStringLiteral("ack failures"), a.ackFailures, b.ackFailures);
    c.number(QStringLiteral("ack p50 (ms)"), usToMs(a.ack.p50), usToMs(b.ack.p50), 1);
    c.number(QStringLiteral("ack p95 (ms)"), usToMs(a.ack.p95), usToMs(b.ack.p95), 1);
    c.number(QStringLiteral("ack p99 (ms)"), usToMs(a.ack.p99), usToMs(b.ack.p99), 1);
    c.number(QStringLiteral("ack max (ms)"), usToMs(a.ack.max), usToMs(b.ack.max), 1);
    c.number(QStringLiteral("accepted/s"), a.acceptedPerSecond, b.acceptedPerSecond, 1);
    c.number(QStringLiteral("delivered"), a.delivered, b.delivered);
    c.number(QStringLiteral("skipped"), a.skipped, b.skipped);
    c.number(QStringLiteral("failed"), a.failed, b.failed);
    c.number(QStringLiteral("dead-lettered"), a.dead, b.dead);
    c.number(QStringLiteral("retries"), a.retries, b.retries);
    c.number(QStringLiteral("rate-limit delays"), a.rateLimitDelays, b.rateLimitDelays);
    c.number(QStringLiteral("upstream requests"), a.upstreamRequests, b.upstreamRequests);
    c.number(QStringLiteral("429s"), a.upstream429, b.upstream429);
    c.number(QStringLiteral("breaker trips"), a.breakerTrips, b.breakerTrips);
    c.number(QStringLiteral("worst 1 s window"), a.worst1s, b.worst1s);
    c.number(QStringLiteral("cap 1 s"), a.cap1s, b.cap1s);
    c.number(QStringLiteral("worst 60 s window"), a.worst60s, b.worst60s);
    c.number(QStringLiteral("cap 60 s"), a.cap60s, b.cap60s);
    const auto verifyCount = [](const RunRecord &r, auto field) -> std::optional<double> {
        if (!r.verify)
            return std::nullopt;
        return double(field(*r.verify));
    };
    c.optionalNumber(QStringLiteral("verify: missing"),
                     verifyCount(a, [](const VerifyReport &v) { return v.missing.size(); }),
                     verifyCount(b, [](const VerifyReport &v) { return v.missing.size(); }));
    c.optionalNumber(QStringLiteral("verify: duplicated"),
                     verifyCount(a, [](const VerifyReport &v) { return v.duplicated.size(); }),
                     verifyCount(b, [](const VerifyReport &v) { return v.duplicated.size(); }));
    const auto remaining = [](const RunRecord &r) -> std::optional<double> {
        if (!r.cleanup || r.cleanup->remaining < 0)
            return std::nullopt;
        return double(r.cleanup->remaining);
    };
    c.optionalNumber(QStringLiteral("cleanup: remaining"), remaining(a), remaining(b));

    // Every check either run made, in the order A made them, then B's own.
    QStringList names;
    for (const RunRecord *r : { &a, &b })
        for (const RunCheck &check : r->checks)
            if (!names.contains(check.name))
                names.append(check.name);
    const auto checkResult = [](const RunRecord &r, const QString &name) {
        for (const RunCheck &check : r.checks)
            if (check.name == name)
                return passFail(check.passed);
        return kNone;
    };
    for (const QString &name : names)
        c.verdict(QStringLiteral("check: ") + name, checkResult(a, name), checkResult(b, name));

    return QStringLiteral("A: %1\nB: %2\n\n").arg(a.definition.id, b.definition.id)
        + renderTable(c.rows, { 1, 2 });
}

QByteArray runsToCsv(const std::vector<RunRecord> &runs)
{
    static const QStringList header {
        QStringLiteral("id"),
        QStringLiteral("stage"),
        QStringLiteral("leads"),
        QStringLiteral("campaign"),
        QStringLiteral("campaign_created_by_run"),
        QStringLiteral("target"),
        QStringLiteral("mode"),
        QStringLiteral("concurrency"),
        QStringLiteral("fail_fast"),
        QStringLiteral("signed"),
        QStringLiteral("state"),
        QStringLiteral("verdict"),
        QStringLiteral("created_utc"),
        QStringLiteral("created_ms"),
        QStringLiteral("first_sent_ms"),
        QStringLiteral("last_ack_ms"),
        QStringLiteral("delivered_ms"),
        QStringLiteral("finished_ms"),
        QStringLiteral("duration_ms"),
        QStringLiteral("predicted_ms"),
        QStringLiteral("sent"),
        QStringLiteral("acknowledged"),
        QStringLiteral("ack_failures"),
        QStringLiteral("ack_samples"),
        QStringLiteral("ack_p50_ms"),
        QStringLiteral("ack_p95_ms"),
        QStringLiteral("ack_p99_ms"),
        QStringLiteral("ack_max_ms"),
        QStringLiteral("accepted_per_second"),
        QStringLiteral("delivered"),
        QStringLiteral("skipped"),
        QStringLiteral("failed"),
        QStringLiteral("dead"),
        QStringLiteral("retries"),
        QStringLiteral("rate_limit_delays"),
        QStringLiteral("upstream_requests"),
        QStringLiteral("upstream_429"),
        QStringLiteral("breaker_trips"),
        QStringLiteral("worst_1s"),
        QStringLiteral("cap_1s"),
        QStringLiteral("worst_60s"),
        QStringLiteral("cap_60s"),
        QStringLiteral("verify_listed"),
        QStringLiteral("verify_present"),
        QStringLiteral("verify_missing"),
        QStringLiteral("verify_duplicated"),
        QStringLiteral("verify_extra"),
        QStringLiteral("verify_repaired"),
        QStringLiteral("verify_error"),
        QStringLiteral("cleanup_dry_run"),
        QStringLiteral("cleanup_found"),
        QStringLiteral("cleanup_deleted"),
        QStringLiteral("cleanup_remaining"),
        QStringLiteral("cleanup_campaign_deleted"),
        QStringLiteral("cleanup_error"),
        QStringLiteral("failed_checks"),
        QStringLiteral("stop_reason"),
    };
    const auto n = [](qint64 v) { return QString::number(v); };
    const auto yesNo = [](bool v) { return v ? QStringLiteral("true") : QStringLiteral("false"); };
    const auto ms = [](qint64 us) { return QString::number(usToMs(us), 'f', 3); };
    const auto when = [](qint64 v) { return v > 0 ? QString::number(v) : QString(); };

    QString out = header.join(QLatin1Char(',')) + QStringLiteral("\r\n");
    for (const RunRecord &r : runs) {
        const RunDefinition &d = r.definition;
        const qint64 duration = runDurationMs(r);
        QStringList row { d.id,
                          d.stage,
                          n(d.leads),
                          d.campaign,
                          yesNo(r.campaignCreatedByRun),
                          d.target.toString(),
                          d.mode,
                          n(d.concurrency),
                          yesNo(d.failFast),
                          yesNo(d.signedWebhooks),
                          RunRecord::stateName(r.state),
                          runVerdict(r),
                          isoUtc(r.createdMs),
                          when(r.createdMs),
                          when(r.firstSentMs),
                          when(r.lastAckMs),
                          when(r.deliveredMs),
                          when(r.finishedMs),
                          duration < 0 ? QString() : n(duration),
                          when(r.predictedMs),
                          n(r.sent),
                          n(r.acknowledged),
                          n(r.ackFailures),
                          n(r.ack.count),
                          ms(r.ack.p50),
                          ms(r.ack.p95),
                          ms(r.ack.p99),
                          ms(r.ack.max),
                          QString::number(r.acceptedPerSecond, 'f', 3),
                          n(r.delivered),
                          n(r.skipped),
                          n(r.failed),
                          n(r.dead),
                          n(r.retries),
                          n(r.rateLimitDelays),
                          n(r.upstreamRequests),
                          n(r.upstream429),
                          n(r.breakerTrips),
                          n(r.worst1s),
                          n(r.cap1s),
                          n(r.worst60s),
                          n(r.cap60s) };
        // Empty, not 0, when verify or cleanup never ran: "not measured" is not "none".
        if (r.verify) {
            const VerifyReport &v = *r.verify;
            row << n(v.listed) << n(v.present) << n(v.missing.size()) << n(v.duplicated.size())
                << n(v.extra.size()) << n(v.repaired) << v.error;
        } else {
            row << QString() << QString() << QString() << QString() << QString() << QString()
                << QString();
        }
        if (r.cleanup) {
            const CleanupReport &c = *r.cleanup;
            row << yesNo(c.dryRun) << n(c.found) << n(c.deleted)
                << (c.remaining < 0 ? QString() : n(c.remaining)) << yesNo(c.campaignDeleted)
                << c.error;
        } else {
            row << QString() << QString() << QString() << QString() << QString() << QString();
        }
        row << failedChecks(r).join(QStringLiteral("; ")) << r.stopReason;
        Q_ASSERT(row.size() == header.size());
        QStringList fields;
        for (const QString &field : row)
            fields.append(csvField(field));
        out += fields.join(QLatin1Char(',')) + QStringLiteral("\r\n");
    }
    return out.toUtf8();
}

QByteArray runsToJson(const std::vector<RunRecord> &runs)
{
    nlohmann::json array = nlohmann::json::array();
    for (const RunRecord &r : runs)
        array.push_back(toJson(r));
    return jsonBytes(array, 2, BadUtf8::Replace) + '\n';
}

} // namespace sluice

namespace sluice {

namespace {

/// "4.2s", as `sluice loadtest` prints durations; "?" when unknown.
QString shellSeconds(qint64 ms)
{
    return ms < 0 ? QStringLiteral("?")
                  : QString::number(double(ms) / 1000.0, 'f', 1) + QLatin1Char('s');
}

QString inParentheses(const QString &text)
{
    return text.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(text);
}

} // namespace

QString formatRunStart(const RunDefinition &d, const QString &via, bool live)
{
    return QStringLiteral("run %1: %2 leads to '%3' via %4%5, %6 mode, %7 concurrent")
        .arg(d.id)
        .arg(d.leads)
        .arg(d.campaign, via,
             live ? QStringLiteral(" (LIVE Instantly)") : QStringLiteral(" (sandbox)"), d.mode)
        .arg(d.concurrency);
}

QString liveInlineLeadsNote()
{
    return QStringLiteral("live: the webhooks carry their leads (--inline-leads): your Close does "
                          "not hold the run's test leads");
}

QString formatPrediction(qint64 predictedMs, double perSecond)
{
    return QStringLiteral("predicted duration: %1 at %2 requests/s")
        .arg(shellSeconds(predictedMs), QString::number(perSecond, 'f', 1));
}

QString formatProgressLine(const LoadTestProgress &p)
{
    const int percent = p.total > 0 ? 100 * p.settled / p.total : 0;
    return QStringLiteral("[%1%] %2 sent %3/%4, delivered %5, %6 leads/s, ETA %7")
        .arg(percent, 3)
        .arg(RunRecord::stateName(p.state), -10)
        .arg(p.sent)
        .arg(p.total)
        .arg(p.delivered)
        .arg(p.drainPerSecond, 0, 'f', 1)
        .arg(shellSeconds(p.etaMs));
}

QString formatStepLine(RunRecord::State state)
{
    switch (state) {
    case RunRecord::State::Verifying:
        return QStringLiteral("verifying in Instantly...");
    case RunRecord::State::CleaningUp:
        return QStringLiteral("cleaning up...");
    default:
        return QString();
    }
}

QString formatRunSummary(const RunRecord &r)
{
    QString out = QStringLiteral("\nrun %1: %2\n").arg(r.definition.id, passFail(r.passed));
    out += QStringLiteral("  acknowledged %1/%2 in %3, %4 webhooks/s; ack p50 %5 ms, p99 %6 ms, "
                          "max %7 ms\n")
               .arg(r.acknowledged)
               .arg(r.definition.leads)
               .arg(shellSeconds(r.lastAckMs - r.firstSentMs))
               .arg(r.acceptedPerSecond, 0, 'f', 0)
               .arg(usToMs(r.ack.p50), 0, 'f', 1)
               .arg(usToMs(r.ack.p99), 0, 'f', 1)
               .arg(usToMs(r.ack.max), 0, 'f', 1);
    out += QStringLiteral("  delivered %1 (+%2 already there) in %3 (predicted %4); %5 upstream "
                          "requests, %6 429s, %7 breaker trips\n")
               .arg(r.delivered)
               .arg(r.skipped)
               .arg(shellSeconds(r.deliveredMs - r.firstSentMs), shellSeconds(r.predictedMs))
               .arg(r.upstreamRequests)
               .arg(r.upstream429)
               .arg(r.breakerTrips);
    if (r.verify) {
        out += QStringLiteral(
                   "  verify: %1 listed, %2 present, %3 missing, %4 duplicated, %5 extra%6\n")
                   .arg(r.verify->listed)
                   .arg(r.verify->present)
                   .arg(r.verify->missing.size())
                   .arg(r.verify->duplicated.size())
                   .arg(r.verify->extra.size())
                   .arg(inParentheses(r.verify->error));
    }
    if (r.cleanup) {
        out += QStringLiteral("  cleanup: %1 found, %2 deleted, %3 remaining%4%5\n")
                   .arg(r.cleanup->found)
                   .arg(r.cleanup->deleted)
                   .arg(r.cleanup->remaining)
                   .arg(r.cleanup->campaignNote.isEmpty()
                            ? QString()
                            : QStringLiteral("; campaign ") + r.cleanup->campaignNote,
                        inParentheses(r.cleanup->error));
    }
    for (const RunCheck &c : r.checks)
        out += QStringLiteral("  %1 %2: %3\n").arg(passFail(c.passed), c.name, c.detail);
    return out;
}

QString formatSavedLine(const QString &id, const QString &ns)
{
    return QStringLiteral("  saved in the run ledger: sluice runs show %1%2\n")
        .arg(id, ns == QLatin1String("default") ? QString() : QStringLiteral(" --namespace ") + ns);
}

QString formatNotSaved(const LedgerError &error)
{
    return QStringLiteral("the run was not saved in the ledger: ") + error.describe();
}

QString formatRecordWritten(const QString &file)
{
    return QStringLiteral("  record written to %1\n").arg(file);
}

QString formatVerifyResult(const RunRecord &r, const VerifyReport &v)
{
    QString out = QStringLiteral("run %1, campaign '%2': %3 listed, %4 present, %5 missing, %6 "
                                 "duplicated, %7 extra\n")
                      .arg(r.definition.id, r.definition.campaign)
                      .arg(v.listed)
                      .arg(v.present)
                      .arg(v.missing.size())
                      .arg(v.duplicated.size())
                      .arg(v.extra.size());
    for (const QString &e : v.missing)
        out += QStringLiteral("  missing     ") + e + QLatin1Char('\n');
    for (const QString &e : v.duplicated)
        out += QStringLiteral("  duplicated  ") + e + QLatin1Char('\n');
    if (v.repaired > 0)
        out += QStringLiteral("  queued again: %1 (a running serve or worker delivers them; verify "
                              "again after)\n")
                   .arg(v.repaired);
    return out;
}

QString formatCleanupResult(const RunRecord &r, const CleanupReport &c)
{
    QString out = QStringLiteral("run %1, campaign '%2': %3 of the run's leads found%4, %5 "
                                 "remaining\n")
                      .arg(r.definition.id, r.definition.campaign)
                      .arg(c.found)
                      .arg(c.dryRun ? QStringLiteral(" (dry run: nothing deleted)")
                                    : QStringLiteral(", %1 deleted").arg(c.deleted))
                      .arg(c.remaining);
    if (!c.campaignNote.isEmpty())
        out += QStringLiteral("  campaign: ") + c.campaignNote + QLatin1Char('\n');
    return out;
}

std::optional<RecheckRefusal> recheckRefusal(const RunRecord &r, const QUrl &instantlyUrl)
{
    if (r.embeddedSandbox)
        return RecheckRefusal {
            RecheckRefusal::Kind::LeadsGone,
            QStringLiteral("run %1 went to the sandbox embedded in the process that ran it, "
                           "and its leads ended with that process. Use `sluice loadtest "
                           "--verify --cleanup`, or run the test against a `sluice sandbox` "
                           "with --instantly-url.")
                .arg(r.definition.id)
        };
    if (!r.instantlyUrl.isEmpty() && QUrl(r.instantlyUrl) != instantlyUrl)
        return RecheckRefusal { RecheckRefusal::Kind::OtherInstantly,
                                QStringLiteral("run %1 went to %2, not %3; give --instantly-url %2")
                                    .arg(r.definition.id, r.instantlyUrl,
                                         instantlyUrl.toString()) };
    return std::nullopt;
}

QString formatResultNotSaved(const LedgerError &error)
{
    return QStringLiteral("the result was not saved: ") + error.describe();
}

QString consoleDuration(qint64 ms)
{
    if (ms < 0)
        return QStringLiteral("?");
    if (ms < 60'000)
        return QStringLiteral("%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    return QStringLiteral("%1 min %2 s").arg(ms / 60'000).arg((ms % 60'000) / 1000);
}

QString formatRunStarting(const RunDefinition &d)
{
    return QStringLiteral("Run %1: %2 leads to campaign '%3'…")
        .arg(d.id)
        .arg(d.leads)
        .arg(d.campaign);
}

QString formatProgressStatus(const RunProgress &progress)
{
    const LoadTestProgress &p = progress.run;
    switch (progress.state) {
    case RunRecord::State::Verifying:
        return QStringLiteral("Verifying: %1 page(s), %2 lead(s) listed…")
            .arg(progress.pages)
            .arg(progress.listed);
    case RunRecord::State::CleaningUp:
        return QString();
    default:
        return QStringLiteral("%1: %2 of %3 webhooks sent, %4 delivered, %5 leads/s, ETA %6 "
                              "(predicted %7)")
            .arg(RunRecord::stateName(p.state))
            .arg(p.sent)
            .arg(p.total)
            .arg(p.delivered)
            .arg(p.drainPerSecond, 0, 'f', 1)
            .arg(consoleDuration(p.etaMs), consoleDuration(p.predictedMs));
    }
}

QString formatRunStatus(const RunRecord &r)
{
    QString text
        = QStringLiteral("Run %1: %2 leads acknowledged in %3, delivered in %4 (predicted "
                         "%5)")
              .arg(r.definition.id)
              .arg(r.acknowledged)
              .arg(consoleDuration(r.lastAckMs - r.firstSentMs),
                   consoleDuration(r.deliveredMs - r.firstSentMs), consoleDuration(r.predictedMs));
    if (!r.stopReason.isEmpty())
        text += QStringLiteral(" — stopped: %1").arg(r.stopReason);
    if (r.verify)
        text += QStringLiteral("\nVerified: %1 present, %2 missing, %3 duplicated, %4 extra%5")
                    .arg(r.verify->present)
                    .arg(r.verify->missing.size())
                    .arg(r.verify->duplicated.size())
                    .arg(r.verify->extra.size())
                    .arg(r.verify->repaired > 0
                             ? QStringLiteral("; %1 re-queued").arg(r.verify->repaired)
                             : QString());
    if (r.cleanup)
        text += QStringLiteral("\nClean-up%1: %2 found, %3 deleted, %4 remaining%5")
                    .arg(r.cleanup->dryRun ? QStringLiteral(" preview") : QString())
                    .arg(r.cleanup->found)
                    .arg(r.cleanup->deleted)
                    .arg(r.cleanup->remaining)
                    .arg(r.cleanup->campaignNote.isEmpty()
                             ? QString()
                             : QStringLiteral("; campaign %1").arg(r.cleanup->campaignNote));
    return text;
}

QString formatStatusNotSaved(const QString &id, const LedgerError &error)
{
    return QStringLiteral("\nRun %1 was not saved in the ledger: %2").arg(id, error.describe());
}

} // namespace sluice
