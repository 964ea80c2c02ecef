#include "run.h"

#include "core/jsonvariant.h"

#include <QDateTime>
#include <QRandomGenerator>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sluice {

using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

QString fill(QString text, int i, const QString &timestamp)
{
    return text.replace(QStringLiteral("{i}"), QString::number(i))
        .replace(QStringLiteral("{timestamp}"), timestamp);
}

std::string runStd(const QString &s)
{
    return s.toStdString();
}

QString runText(const json &j, const char *key)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? QString::fromStdString(it->get<std::string>())
                                            : QString();
}

template<typename T> T num(const json &j, const char *key, T fallback = T {})
{
    const auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<T>() : fallback;
}

bool flag(const json &j, const char *key, bool fallback = false)
{
    const auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

json strings(const QStringList &list)
{
    json out = json::array();
    for (const QString &s : list)
        out.push_back(runStd(s));
    return out;
}

QStringList stringsFrom(const json &j, const char *key)
{
    QStringList out;
    const auto it = j.find(key);
    if (it == j.end() || !it->is_array())
        return out;
    for (const json &s : *it)
        if (s.is_string())
            out.append(QString::fromStdString(s.get<std::string>()));
    return out;
}

/// An older record's own judgement said its delivery could not be followed (see loadtest.cpp,
/// judgeRecord(), for the wording).
bool judgedNotObservable(const std::vector<RunCheck> &checks)
{
    return std::any_of(checks.begin(), checks.end(), [](const RunCheck &c) {
        return c.name == kDeliveredCheck && c.detail.startsWith(kNotObservable);
    });
}

const char *const kStates[]
    = { "created", "firing", "delivering", "verifying", "cleaning_up", "finished", "aborted" };

} // namespace

Lead LeadTemplate::make(int i, const QString &timestamp) const
{
    Lead lead;
    lead.email = fill(emailPattern, i, timestamp);
    lead.firstName = fill(firstName, i, timestamp);
    lead.lastName = fill(lastName, i, timestamp);
    lead.companyName = fill(companyName, i, timestamp);
    for (auto it = customVariables.cbegin(); it != customVariables.cend(); ++it) {
        lead.customVariables.insert(it.key(),
                                    it.value().typeId() == QMetaType::QString
                                        ? QVariant(fill(it.value().toString(), i, timestamp))
                                        : it.value());
    }
    return lead;
}

std::optional<QString> LeadTemplate::problem() const
{
    if (!emailPattern.contains(QStringLiteral("{i}"))
        || !emailPattern.contains(QStringLiteral("{timestamp}")))
        return QStringLiteral("the email pattern '%1' needs {i} and {timestamp}, so every run's "
                              "leads are distinct")
            .arg(emailPattern);
    if (auto bad = emailProblem(make(1, QStringLiteral("1764400000")).email))
        return QStringLiteral("the email pattern '%1' makes invalid addresses: %2")
            .arg(emailPattern, *bad);
    return std::nullopt;
}

QStringList RunDefinition::emails() const
{
    QStringList out;
    out.reserve(leads);
    for (int i = 1; i <= leads; ++i)
        out.append(normalizedEmail(lead(i).email));
    return out;
}

std::optional<QString> RunDefinition::problem() const
{
    if (leads < 1 || leads > 100'000)
        return QStringLiteral("a run has 1 to 100000 leads, not %1").arg(leads);
    if (concurrency < 1 || concurrency > 1000)
        return QStringLiteral("concurrency must be 1..1000, not %1").arg(concurrency);
    if (campaign.trimmed().isEmpty())
        return QStringLiteral("the run needs a campaign name");
    if (!target.isEmpty()
        && (!target.isValid()
            || (target.scheme() != QLatin1String("http")
                && target.scheme() != QLatin1String("https"))
            || target.host().isEmpty()))
        return QStringLiteral("the target '%1' is not an http(s) URL")
            .arg(target.toDisplayString());
    if (thresholds.ackTimeout.count() < 1 || thresholds.ackP99.count() < 1 || thresholds.max429 < 0)
        return QStringLiteral("the thresholds must be positive");
    return leadTemplate.problem();
}

QString RunRecord::stateName(State state)
{
    return QString::fromLatin1(kStates[int(state)]);
}

json toJson(const RunRecord &r)
{
    const RunDefinition &d = r.definition;
    json custom = json::object();
    for (auto it = d.leadTemplate.customVariables.cbegin();
         it != d.leadTemplate.customVariables.cend(); ++it)
        custom[runStd(it.key())] = variantToJson(it.value());
    json checks = json::array();
    for (const RunCheck &c : r.checks)
        checks.push_back(
            { { "name", runStd(c.name) }, { "passed", c.passed }, { "detail", runStd(c.detail) } });
    json out = {
        { "version", 1 },
        { "definition",
          { { "id", runStd(d.id) },
            { "stage", runStd(d.stage) },
            { "leads", d.leads },
            { "target", runStd(d.target.toString()) },
            { "campaign", runStd(d.campaign) },
            { "timestamp", runStd(d.timestamp) },
            { "lead_template",
              { { "email", runStd(d.leadTemplate.emailPattern) },
                { "first_name", runStd(d.leadTemplate.firstName) },
                { "last_name", runStd(d.leadTemplate.lastName) },
                { "company_name", runStd(d.leadTemplate.companyName) },
                { "custom_variables", custom } } },
            { "concurrency", d.concurrency },
            { "fail_fast", d.failFast },
            { "signed", d.signedWebhooks },
            { "inline_leads", d.inlineLeads },
            { "mode", runStd(d.mode) },
            { "thresholds",
              { { "ack_timeout_ms", d.thresholds.ackTimeout.count() },
                { "ack_p99_ms", d.thresholds.ackP99.count() },
                { "all_delivered", d.thresholds.allDelivered },
                { "no_duplicates", d.thresholds.noDuplicates },
                { "max_429", d.thresholds.max429 } } } } },
        { "state", runStd(RunRecord::stateName(r.state)) },
        { "campaign_created_by_run", r.campaignCreatedByRun },
        { "instantly",
          { { "url", runStd(r.instantlyUrl) }, { "embedded_sandbox", r.embeddedSandbox } } },
        { "created_ms", r.createdMs },
        { "first_sent_ms", r.firstSentMs },
        { "last_ack_ms", r.lastAckMs },
        { "delivered_ms", r.deliveredMs },
        { "finished_ms", r.finishedMs },
        { "predicted_ms", r.predictedMs },
        { "sent", r.sent },
        { "acknowledged", r.acknowledged },
        { "ack_failures", r.ackFailures },
        { "ack_us",
          { { "count", r.ack.count },
            { "p50", r.ack.p50 },
            { "p95", r.ack.p95 },
            { "p99", r.ack.p99 },
            { "max", r.ack.max } } },
        { "accepted_per_second", r.acceptedPerSecond },
        { "task_ids", strings(r.taskIds) },
        { "delivery_observable", r.deliveryObservable },
        { "delivered", r.delivered },
        { "skipped", r.skipped },
        { "failed", r.failed },
        { "dead", r.dead },
        { "retries", r.retries },
        { "rate_limit_delays", r.rateLimitDelays },
        { "upstream_requests", r.upstreamRequests },
        { "upstream_429", r.upstream429 },
        { "breaker_trips", r.breakerTrips },
        { "worst_1s", r.worst1s },
        { "worst_60s", r.worst60s },
        { "cap_1s", r.cap1s },
        { "cap_60s", r.cap60s },
        { "checks", checks },
        { "passed", r.passed },
        { "stop_reason", runStd(r.stopReason) },
    };
    if (r.verify) {
        const VerifyReport &v = *r.verify;
        out["verify"] = { { "at_ms", v.atMs },
                          { "listed", v.listed },
                          { "present", v.present },
                          { "missing", strings(v.missing) },
                          { "duplicated", strings(v.duplicated) },
                          { "extra", strings(v.extra) },
                          { "repaired", v.repaired },
                          { "error", runStd(v.error) } };
    }
    if (r.cleanup) {
        const CleanupReport &c = *r.cleanup;
        out["cleanup"] = { { "at_ms", c.atMs },
                           { "dry_run", c.dryRun },
                           { "found", c.found },
                           { "deleted", c.deleted },
                           { "remaining", c.remaining },
                           { "foreign", c.foreign },
                           { "campaign_deleted", c.campaignDeleted },
                           { "campaign_note", runStd(c.campaignNote) },
                           { "error", runStd(c.error) } };
    }
    return out;
}

std::optional<RunRecord> runRecordFromJson(const json &j)
{
    if (!j.is_object() || num<int>(j, "version") != 1 || !j.contains("definition")
        || !j["definition"].is_object())
        return std::nullopt;
    RunRecord r;
    const json &dj = j["definition"];
    RunDefinition &d = r.definition;
    d.id = runText(dj, "id");
    if (d.id.isEmpty())
        return std::nullopt;
    d.stage = runText(dj, "stage");
    d.leads = num<int>(dj, "leads");
    d.target = QUrl(runText(dj, "target"));
    d.campaign = runText(dj, "campaign");
    d.timestamp = runText(dj, "timestamp");
    if (dj.contains("lead_template") && dj["lead_template"].is_object()) {
        const json &t = dj["lead_template"];
        d.leadTemplate.emailPattern = runText(t, "email");
        d.leadTemplate.firstName = runText(t, "first_name");
        d.leadTemplate.lastName = runText(t, "last_name");
        d.leadTemplate.companyName = runText(t, "company_name");
        d.leadTemplate.customVariables.clear();
        if (t.contains("custom_variables") && t["custom_variables"].is_object())
            for (auto it = t["custom_variables"].begin(); it != t["custom_variables"].end(); ++it)
                d.leadTemplate.customVariables.insert(QString::fromStdString(it.key()),
                                                      jsonToVariant(*it));
    }
    d.concurrency = num<int>(dj, "concurrency", 50);
    d.failFast = flag(dj, "fail_fast");
    d.signedWebhooks = flag(dj, "signed");
    d.inlineLeads = flag(dj, "inline_leads");
    d.mode = runText(dj, "mode");
    if (dj.contains("thresholds") && dj["thresholds"].is_object()) {
        const json &t = dj["thresholds"];
        d.thresholds.ackTimeout = milliseconds { num<qint64>(t, "ack_timeout_ms", 30'000) };
        d.thresholds.ackP99 = milliseconds { num<qint64>(t, "ack_p99_ms", 1000) };
        d.thresholds.allDelivered = flag(t, "all_delivered", true);
        d.thresholds.noDuplicates = flag(t, "no_duplicates", true);
        d.thresholds.max429 = num<int>(t, "max_429");
    }
    const QString state = runText(j, "state");
    for (int i = 0; i < int(std::size(kStates)); ++i)
        if (state == QLatin1String(kStates[i]))
            r.state = RunRecord::State(i);
    r.campaignCreatedByRun = flag(j, "campaign_created_by_run");
    if (j.contains("instantly") && j["instantly"].is_object()) {
        r.instantlyUrl = runText(j["instantly"], "url");
        r.embeddedSandbox = flag(j["instantly"], "embedded_sandbox");
    }
    r.createdMs = num<qint64>(j, "created_ms");
    r.firstSentMs = num<qint64>(j, "first_sent_ms");
    r.lastAckMs = num<qint64>(j, "last_ack_ms");
    r.deliveredMs = num<qint64>(j, "delivered_ms");
    r.finishedMs = num<qint64>(j, "finished_ms");
    r.predictedMs = num<qint64>(j, "predicted_ms");
    r.sent = num<int>(j, "sent");
    r.acknowledged = num<int>(j, "acknowledged");
    r.ackFailures = num<int>(j, "ack_failures");
    if (j.contains("ack_us") && j["ack_us"].is_object()) {
        const json &a = j["ack_us"];
        r.ack.count = num<int>(a, "count");
        r.ack.p50 = num<qint64>(a, "p50");
        r.ack.p95 = num<qint64>(a, "p95");
        r.ack.p99 = num<qint64>(a, "p99");
        r.ack.max = num<qint64>(a, "max");
    }
    r.acceptedPerSecond = num<double>(j, "accepted_per_second");
    r.taskIds = stringsFrom(j, "task_ids");
    r.delivered = num<int>(j, "delivered");
    r.skipped = num<int>(j, "skipped");
    r.failed = num<int>(j, "failed");
    r.dead = num<int>(j, "dead");
    r.retries = num<int>(j, "retries");
    r.rateLimitDelays = num<int>(j, "rate_limit_delays");
    r.upstreamRequests = num<int>(j, "upstream_requests");
    r.upstream429 = num<int>(j, "upstream_429");
    r.breakerTrips = num<int>(j, "breaker_trips");
    r.worst1s = num<int>(j, "worst_1s");
    r.worst60s = num<int>(j, "worst_60s");
    r.cap1s = num<int>(j, "cap_1s");
    r.cap60s = num<int>(j, "cap_60s");
    if (j.contains("checks") && j["checks"].is_array())
        for (const json &c : j["checks"])
            if (c.is_object())
                r.checks.push_back({ runText(c, "name"), flag(c, "passed"), runText(c, "detail") });
    r.passed = flag(j, "passed");
    r.stopReason = runText(j, "stop_reason");
    r.deliveryObservable = flag(j, "delivery_observable", !judgedNotObservable(r.checks));
    if (j.contains("verify") && j["verify"].is_object()) {
        const json &v = j["verify"];
        VerifyReport report;
        report.atMs = num<qint64>(v, "at_ms");
        report.listed = num<int>(v, "listed");
        report.present = num<int>(v, "present");
        report.missing = stringsFrom(v, "missing");
        report.duplicated = stringsFrom(v, "duplicated");
        report.extra = stringsFrom(v, "extra");
        report.repaired = num<int>(v, "repaired");
        report.error = runText(v, "error");
        r.verify = report;
    }
    if (j.contains("cleanup") && j["cleanup"].is_object()) {
        const json &c = j["cleanup"];
        CleanupReport report;
        report.atMs = num<qint64>(c, "at_ms");
        report.dryRun = flag(c, "dry_run");
        report.found = num<int>(c, "found");
        report.deleted = num<int>(c, "deleted");
        report.remaining = num<int>(c, "remaining", -1);
        report.foreign = num<int>(c, "foreign");
        report.campaignDeleted = flag(c, "campaign_deleted");
        report.campaignNote = runText(c, "campaign_note");
        report.error = runText(c, "error");
        r.cleanup = report;
    }
    return r;
}

QString newRunId(qint64 nowMs)
{
    return QStringLiteral("run-%1-%2")
        .arg(QDateTime::fromMSecsSinceEpoch(nowMs, Qt::UTC)
                 .toString(QStringLiteral("yyyyMMdd-HHmmss")))
        .arg(QRandomGenerator::global()->bounded(0x10000), 4, 16, QLatin1Char('0'));
}

} // namespace sluice
