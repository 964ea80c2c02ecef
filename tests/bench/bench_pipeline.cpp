// Benchmark driver (not part of the suite): posts N distinct Close webhooks at a running
// `sluice serve` over C concurrent keep-alive connections, waits until every lead is in the
// sandbox, and prints the pipeline's numbers as a Markdown table (and one JSON line).
// The webhooks are lead-less, as Close sends them: the run's leads are put in the sandbox's
// Close first, and serve looks each one up. --inline-leads sends the old test shape instead.
// tests/bench/bench_pipeline.sh starts redis-server, the sandbox and serve around it; see there.
#include "core/windowstats.h"
#include "processusage.h"
#include "runs/webhookfirer.h"
#include "sandboxcontrol.h"
#include "upstreamlog.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSet>
#include <QTextStream>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <vector>

using namespace sluice;
using namespace sluice::bench;
using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

QTextStream &err()
{
    static QTextStream stream(stderr);
    return stream;
}

struct Config
{
    QUrl intake; ///< http://host:port of serve's listener
    QUrl sandbox; ///< http://host:port of the sandbox
    QByteArray apiKey = "sandbox";
    QString campaign = QStringLiteral("Bench Pipeline");
    QString mode = QStringLiteral("bulk");
    int leads = 2000;
    int concurrency = 50;
    int perSecond = 10; ///< the caps serve and the sandbox were started with
    int perMinute = 600;
    double safetyFactor = 0.8; ///< serve's --safety-factor
    qint64 servePid = 0;
    qint64 redisPid = 0;
    qint64 sandboxPid = 0;
    int timeoutS = 0; ///< 0: derived from N and the paced rate
    /// Each webhook carries its lead (a test convenience; no Close lookup). Otherwise the
    /// webhooks are lead-less and the leads are seeded in the sandbox's Close first.
    bool inlineLeads = false;
    /// Targets to print as "TARGET" Markdown rows (0 / false: not a target of this run).
    int targetSeconds = 0; ///< every lead in the sandbox within this many seconds
    int targetInstantlyRequests = 0; ///< at most this many Instantly requests
    int targetCloseRequests = 0; ///< at most this many Close requests
    bool targetNo429 = false; ///< no 429 from Instantly, none from Close
    QString jsonFile;
    QString requestsFile; ///< the sandbox's whole request log, for a closer look

    /// Leads per second the limiter paces at: the tighter cap times the safety factor.
    double pacedRate() const
    {
        return std::min(double(perSecond), perMinute / 60.0) * safetyFactor;
    }
};

/// Close lead `i` of a run as Close holds it: one contact, one email, distinct per run.
json closeLead(const std::string &run, int i)
{
    const std::string n = run + "_" + std::to_string(i);
    return {
        { "id", "lead_" + n },
        { "display_name", "Bench Company " + n },
        { "contacts",
          json::array({ { { "name", "Bench Lead" + std::to_string(i) },
                          { "emails",
                            json::array({ { { "email", "bench" + n + "@example.com" } } }) } } }) },
    };
}

/// A Close "task.lead created" webhook for lead `i`, distinct per index and per run so
/// nothing is dropped as a duplicate. Lead-less as Close sends it (serve looks the lead up),
/// or with the lead inline (`inlineLead`, the old test shape: no lookup).
QByteArray webhook(const std::string &run, int i, const QString &campaign, bool inlineLead)
{
    const std::string n = run + "_" + std::to_string(i);
    json body = {
        { "subscription_id", "sub_bench" },
        { "event",
          { { "id", "ev_" + n },
            { "object_type", "task.lead" },
            { "action", "created" },
            { "lead_id", "lead_" + n },
            { "object_id", "task_" + n },
            { "date_created", "2024-05-01T10:00:00.000000+00:00" },
            { "data",
              { { "text", "Instantly: " + campaign.toStdString() },
                { "lead_id", "lead_" + n } } } } },
    };
    if (inlineLead)
        body["lead"] = closeLead(run, i);
    return QByteArray::fromStdString(body.dump());
}

QString fixed(double value, int decimals = 1)
{
    return QString::number(value, 'f', decimals);
}

QString ms(qint64 us)
{
    return fixed(double(us) / 1000.0, 2);
}

QString verdict(bool met)
{
    return met ? QStringLiteral("met") : QStringLiteral("**missed**");
}

std::optional<Config> parseArguments(const QCoreApplication &app)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Posts N distinct Close webhooks to a running `sluice serve`, waits until every lead "
        "is in the sandbox and prints the pipeline's numbers. The webhooks are lead-less, as "
        "Close sends them: the run's leads are put in the sandbox's Close first (before the "
        "clock starts) and serve looks them up. Normally run by "
        "tests/bench/bench_pipeline.sh."));
    parser.addHelpOption();
    parser.addOptions({
        { QStringLiteral("intake"), QStringLiteral("serve's listener, http://host:port."),
          QStringLiteral("url") },
        { QStringLiteral("sandbox"), QStringLiteral("The sandbox, http://host:port."),
          QStringLiteral("url") },
        { QStringLiteral("api-key"), QStringLiteral("Sandbox bearer key (default 'sandbox')."),
          QStringLiteral("key"), QStringLiteral("sandbox") },
        { QStringLiteral("mode"),
          QStringLiteral("bulk or single: what serve runs, for the report."),
          QStringLiteral("mode"), QStringLiteral("bulk") },
        { QStringLiteral("leads"), QStringLiteral("Webhooks to post (default 2000)."),
          QStringLiteral("n"), QStringLiteral("2000") },
        { QStringLiteral("concurrency"), QStringLiteral("Connections (default 50)."),
          QStringLiteral("n"), QStringLiteral("50") },
        { QStringLiteral("per-second"), QStringLiteral("Per-second cap (default 10)."),
          QStringLiteral("n"), QStringLiteral("10") },
        { QStringLiteral("per-minute"), QStringLiteral("Per-minute cap (default 600)."),
          QStringLiteral("n"), QStringLiteral("600") },
        { QStringLiteral("safety-factor"), QStringLiteral("serve's safety factor (default 0.8)."),
          QStringLiteral("f"), QStringLiteral("0.8") },
        { QStringLiteral("serve-pid"), QStringLiteral("Process whose RSS and CPU to report."),
          QStringLiteral("pid") },
        { QStringLiteral("redis-pid"), QStringLiteral("redis-server, for its CPU."),
          QStringLiteral("pid") },
        { QStringLiteral("sandbox-pid"), QStringLiteral("The sandbox, for its CPU."),
          QStringLiteral("pid") },
        { QStringLiteral("timeout"),
          QStringLiteral("Seconds to wait for delivery (default: from N and the paced rate)."),
          QStringLiteral("s") },
        { QStringLiteral("inline-leads"),
          QStringLiteral("Put each lead in its webhook (the old test shape, no Close lookup) "
                         "instead of seeding the sandbox's Close.") },
        { QStringLiteral("target-seconds"),
          QStringLiteral("Target: every lead in the sandbox within s seconds of the first "
                         "webhook (printed as a TARGET row)."),
          QStringLiteral("s") },
        { QStringLiteral("target-instantly-requests"),
          QStringLiteral("Target: at most n Instantly requests (TARGET row)."),
          QStringLiteral("n") },
        { QStringLiteral("target-close-requests"),
          QStringLiteral("Target: at most n Close requests (TARGET row)."), QStringLiteral("n") },
        { QStringLiteral("target-no-429"),
          QStringLiteral("Target: no 429 from Instantly and none from Close (TARGET rows).") },
        { QStringLiteral("json"), QStringLiteral("Also write the results as JSON here."),
          QStringLiteral("file") },
        { QStringLiteral("requests-out"),
          QStringLiteral("Write the sandbox's request log (JSON) here."), QStringLiteral("file") },
    });
    parser.process(app);
    Config c;
    c.intake = QUrl(parser.value(QStringLiteral("intake")));
    c.sandbox = QUrl(parser.value(QStringLiteral("sandbox")));
    c.apiKey = parser.value(QStringLiteral("api-key")).toUtf8();
    c.mode = parser.value(QStringLiteral("mode"));
    bool ok[11] = {};
    c.leads = parser.value(QStringLiteral("leads")).toInt(&ok[0]);
    c.concurrency = parser.value(QStringLiteral("concurrency")).toInt(&ok[1]);
    c.perSecond = parser.value(QStringLiteral("per-second")).toInt(&ok[2]);
    c.perMinute = parser.value(QStringLiteral("per-minute")).toInt(&ok[3]);
    c.safetyFactor = parser.value(QStringLiteral("safety-factor")).toDouble(&ok[4]);
    ok[5] = ok[6] = ok[7] = ok[8] = ok[9] = ok[10] = true;
    if (parser.isSet(QStringLiteral("serve-pid")))
        c.servePid = parser.value(QStringLiteral("serve-pid")).toLongLong(&ok[5]);
    if (parser.isSet(QStringLiteral("redis-pid")))
        c.redisPid = parser.value(QStringLiteral("redis-pid")).toLongLong(&ok[6]);
    if (parser.isSet(QStringLiteral("sandbox-pid")))
        c.sandboxPid = parser.value(QStringLiteral("sandbox-pid")).toLongLong(&ok[7]);
    if (parser.isSet(QStringLiteral("timeout")))
        c.timeoutS = parser.value(QStringLiteral("timeout")).toInt();
    c.inlineLeads = parser.isSet(QStringLiteral("inline-leads"));
    if (parser.isSet(QStringLiteral("target-seconds")))
        c.targetSeconds = parser.value(QStringLiteral("target-seconds")).toInt(&ok[8]);
    if (parser.isSet(QStringLiteral("target-instantly-requests")))
        c.targetInstantlyRequests
            = parser.value(QStringLiteral("target-instantly-requests")).toInt(&ok[9]);
    if (parser.isSet(QStringLiteral("target-close-requests")))
        c.targetCloseRequests
            = parser.value(QStringLiteral("target-close-requests")).toInt(&ok[10]);
    c.targetNo429 = parser.isSet(QStringLiteral("target-no-429"));
    c.jsonFile = parser.value(QStringLiteral("json"));
    c.requestsFile = parser.value(QStringLiteral("requests-out"));
    if (!std::all_of(std::begin(ok), std::end(ok), [](bool b) { return b; }) || c.leads <= 0
        || c.concurrency <= 0 || c.perSecond <= 0 || c.perMinute <= 0 || c.safetyFactor <= 0
        || c.targetSeconds < 0 || c.targetInstantlyRequests < 0 || c.targetCloseRequests < 0) {
        err() << "bench_pipeline: a numeric option has a bad value (see --help)\n";
        return std::nullopt;
    }
    if (!c.intake.isValid() || c.intake.host().isEmpty() || !c.sandbox.isValid()
        || c.sandbox.host().isEmpty()) {
        err() << "bench_pipeline: --intake and --sandbox need http://host:port URLs\n";
        return std::nullopt;
    }
    if (c.mode != QLatin1String("bulk") && c.mode != QLatin1String("single")) {
        err() << "bench_pipeline: --mode is bulk or single\n";
        return std::nullopt;
    }
    return c;
}

/// True once serve's /healthz answers 200 (it connects to Redis in the background).
bool waitHealthy(QNetworkAccessManager &http, const QUrl &intake)
{
    QUrl url = intake;
    url.setPath(QStringLiteral("/healthz"));
    QElapsedTimer waited;
    waited.start();
    while (waited.elapsed() < 30'000) {
        if (awaitReply(http.get(QNetworkRequest(url)), nullptr, 2000) == 200)
            return true;
        QEventLoop pause;
        QTimer::singleShot(100, &pause, &QEventLoop::quit);
        pause.exec();
    }
    return false;
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    const std::optional<Config> parsed = parseArguments(app);
    if (!parsed)
        return 2;
    const Config &c = *parsed;
    QTextStream out(stdout);
    QNetworkAccessManager http;
    SandboxControl sandbox(&http, c.sandbox, c.apiKey);

    if (!waitHealthy(http, c.intake)) {
        err() << "bench_pipeline: " << c.intake.toString()
              << "/healthz did not answer 200 within 30 s\n";
        return 1;
    }
    if (!sandbox.ensureCampaign(c.campaign)) {
        err() << "bench_pipeline: cannot create the campaign in the sandbox at "
              << c.sandbox.toString() << "\n";
        return 1;
    }
    const std::string run = std::to_string(QDateTime::currentMSecsSinceEpoch());
    if (!c.inlineLeads) {
        // Close holds the leads before it sends a webhook about them: seed them all before
        // the clock starts.
        json leads = json::array();
        for (int i = 0; i < c.leads; ++i)
            leads.push_back(closeLead(run, i));
        QString error;
        if (!sandbox.seedCloseLeads(leads, &error)) {
            err() << "bench_pipeline: the sandbox's Close refused the run's leads: " << error
                  << "\n";
            return 1;
        }
    }
    // The set-up requests count against the sandbox's workspace window like anyone's: let
    // its 1 s window pass, or they and Sluice's paced first second add up to an 11th request
    // (a 429 that the bench, not Sluice, caused).
    {
        QEventLoop pause;
        QTimer::singleShot(1100, &pause, &QEventLoop::quit);
        pause.exec();
    }
    // Upstream requests made before the run (the campaign we just created) do not count.
    const auto before = sandbox.requests(0);
    if (!before) {
        err() << "bench_pipeline: cannot read the sandbox's request log\n";
        return 1;
    }
    const quint64 baselineSeq = before->empty() ? 0 : before->back().value("seq", quint64(0));
    const auto statsBefore = sandbox.get(QStringLiteral("/_sandbox/stats"));
    const int leadsBefore = statsBefore ? statsBefore->value("leads", 0) : 0;
    const ProcessUsage serveBefore = processUsage(c.servePid);

    std::vector<FireRequest> requests;
    requests.reserve(size_t(c.leads));
    for (int i = 0; i < c.leads; ++i)
        requests.push_back({ webhook(run, i, c.campaign, c.inlineLeads), {} });
    FireOptions fire;
    fire.target = c.intake;
    fire.target.setPath(QStringLiteral("/instantly/add_lead"));
    fire.concurrency = c.concurrency;
    if (auto problem = fire.problem()) {
        err() << "bench_pipeline: " << *problem << "\n";
        return 2;
    }
    WebhookFirer firer(fire, std::move(requests));

    const double expectedS = c.leads / c.pacedRate();
    const int timeoutS = c.timeoutS > 0
        ? c.timeoutS
        : (c.mode == QLatin1String("single") ? int(expectedS * 1.5) + 60 : 120);

    // Poll the sandbox's lead count until all are in (or the time is up). The exact arrival
    // time comes from the sandbox's log afterwards; polling only says when to stop.
    const qint64 startWallMs = QDateTime::currentMSecsSinceEpoch();
    QElapsedTimer sinceStart;
    sinceStart.start();
    firer.start();
    int leadsIn = 0;
    qint64 observedAllInMs = -1;
    {
        QEventLoop loop;
        QTimer poll;
        poll.setInterval(50);
        bool polling = false;
        QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
            if (polling)
                return;
            polling = true;
            QNetworkReply *reply = http.get(sandbox.request(QStringLiteral("/_sandbox/stats")));
            QObject::connect(reply, &QNetworkReply::finished, &loop, [&, reply] {
                polling = false;
                reply->deleteLater();
                const QByteArray body = reply->readAll();
                const json stats = json::parse(body.constBegin(), body.constEnd(), nullptr, false);
                if (stats.is_object())
                    leadsIn = stats.value("leads", 0) - leadsBefore;
                if (leadsIn >= c.leads && observedAllInMs < 0)
                    observedAllInMs = sinceStart.elapsed();
                if (observedAllInMs >= 0 && firer.isFinished())
                    loop.quit();
            });
        });
        QTimer::singleShot(std::chrono::seconds { timeoutS }, &loop, &QEventLoop::quit);
        poll.start();
        loop.exec();
    }
    if (!firer.isFinished()) {
        firer.stop();
        QEventLoop loop;
        QObject::connect(&firer, &WebhookFirer::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(35'000, &loop, &QEventLoop::quit);
        if (!firer.isFinished())
            loop.exec();
    }
    const ProcessUsage serve = processUsage(c.servePid);
    const ProcessUsage redis = processUsage(c.redisPid);
    const ProcessUsage sandboxUsage = processUsage(c.sandboxPid);

    // What the webhooks got.
    const std::vector<FireResult> &results = firer.results();
    const LatencySummary latency = summarizeLatency(results);
    int acknowledged = 0;
    std::map<int, int> statuses;
    for (const FireResult &r : results) {
        acknowledged += r.acknowledged() ? 1 : 0;
        ++statuses[r.status];
    }
    const double fireSeconds = double(std::max<qint64>(1, firer.elapsedMs())) / 1000.0;
    const double acceptedPerSecond = acknowledged / fireSeconds;

    // What went upstream, from the sandbox's own log.
    const auto log = sandbox.requests(baselineSeq);
    if (!log) {
        err() << "bench_pipeline: cannot read the sandbox's request log after the run\n";
        return 1;
    }
    const UpstreamLog up = summarizeUpstream(*log, startWallMs);
    const int worst1s = maxInAnyWindow(up.admitted, milliseconds { 1000 });
    const int worst60s = maxInAnyWindow(up.admitted, milliseconds { 60'000 });
    // Close's limits are per endpoint group and key (docs/sandbox-rules.md): the worst second
    // of each group against the sandbox's limit for it.
    const auto statsAfter = sandbox.get(QStringLiteral("/_sandbox/stats"));
    const json closeGroups = statsAfter && statsAfter->contains("close")
        ? (*statsAfter)["close"].value("groups", json::object())
        : json::object();
    QStringList closeWorst, closeLimits;
    bool closeWithinLimits = true;
    for (const auto &[group, times] : up.closeByGroup) {
        const int worst = maxInAnyWindow(times, milliseconds { 1000 });
        const int perKey = closeGroups.value(group, json::object()).value("per_key", 0);
        closeWorst << QStringLiteral("%1 %2").arg(QString::fromStdString(group)).arg(worst);
        closeLimits << QStringLiteral("%1 ≤ %2").arg(QString::fromStdString(group)).arg(perKey);
        closeWithinLimits = closeWithinLimits && perKey > 0 && worst <= perKey;
    }

    // Every lead exactly once? And how many each lead write brought (by creation time).
    int distinct = 0;
    const std::string mark = "bench" + run + "_";
    std::vector<int> created(up.leadWrites.size(), 0);
    if (const auto leads = sandbox.get(QStringLiteral("/_sandbox/leads"), 60'000)) {
        const json items = leads->value("items", json::array());
        QSet<QString> emails;
        for (const json &lead : items) {
            const std::string email = lead.value("email", "");
            if (email.rfind(mark, 0) == 0)
                emails.insert(QString::fromStdString(email));
        }
        distinct = int(emails.size());
        created = leadsPerWrite(items, mark, up.leadWrites, startWallMs);
    }

    const bool allIn = leadsIn >= c.leads && up.lastLeadInMs >= 0;
    const double allInS = allIn ? double(up.lastLeadInMs) / 1000.0 : -1;
    const double cpuPer200 = serve.ok ? serve.cpuSeconds * 200.0 / c.leads : 0;
    const bool single = c.mode == QLatin1String("single");
    const double deviationPct = allIn ? (allInS - expectedS) / expectedS * 100.0 : 0;

    QString statusText;
    for (const auto &[status, count] : statuses) {
        if (!statusText.isEmpty())
            statusText += QStringLiteral(", ");
        statusText += QStringLiteral("%1 × %2").arg(count).arg(
            status == 0 ? QStringLiteral("no answer") : QString::number(status));
    }
    const QString allInText
        = allIn ? fixed(allInS, 3) + QStringLiteral(" s") : QStringLiteral("not all in");
    const QString shape = c.inlineLeads ? QStringLiteral("leads inline in the webhooks")
                                        : QStringLiteral("lead-less webhooks (leads looked up "
                                                         "in the sandbox's Close)");

    out << "\n### " << c.mode << " mode: " << c.leads << " leads, " << c.concurrency
        << " concurrent clients, " << shape << "\n\n";
    out << "| measure | value | target |\n|---|---|---|\n";
    out << "| webhooks acknowledged (2xx) | " << acknowledged << " of " << c.leads << " ("
        << statusText << ") | all |\n";
    out << "| ack latency p50 / p95 / p99 / max | " << ms(latency.p50) << " / " << ms(latency.p95)
        << " / " << ms(latency.p99) << " / " << ms(latency.max) << " ms | |\n";
    out << "| webhooks accepted per second | " << qRound(acceptedPerSecond) << " (all " << c.leads
        << " in " << fixed(fireSeconds, 3) << " s) | (wrk section) |\n";
    out << "| first webhook → first upstream request | " << fixed(up.firstUpstreamMs / 1000.0, 3)
        << " s | |\n";
    if (single) {
        out << "| first webhook → all leads in the sandbox | " << allInText << " | |\n";
        out << "| expected N ÷ rate | " << c.leads << " ÷ " << fixed(c.pacedRate(), 2)
            << "/s = " << fixed(expectedS, 3) << " s (cap " << c.perSecond << "/s × safety "
            << c.safetyFactor << "; at the raw cap: " << fixed(c.leads / double(c.perSecond), 1)
            << " s) | |\n";
        out << "| deviation from N ÷ rate | " << (deviationPct >= 0 ? "+" : "")
            << fixed(deviationPct, 2)
            << " % | within ±3 %: " << verdict(allIn && std::abs(deviationPct) <= 3.0) << " |\n";
    } else if (c.inlineLeads) {
        // Issue 4's target, set for webhooks with the lead inline.
        out << "| first webhook → all leads in the sandbox | " << allInText
            << " | ≤ 10 s: " << verdict(allIn && allInS <= 10.0) << " |\n";
    } else if (c.targetSeconds > 0) {
        out << "| first webhook → all leads in the sandbox | " << allInText << " | ≤ "
            << c.targetSeconds << " s: " << verdict(allIn && allInS <= c.targetSeconds) << " |\n";
    } else {
        out << "| first webhook → all leads in the sandbox | " << allInText << " | |\n";
    }
    out << "| leads in the sandbox (distinct emails) | " << leadsIn << " (" << distinct << ") | "
        << c.leads << ", none twice: " << verdict(leadsIn == c.leads && distinct == c.leads)
        << " |\n";
    out << "| Instantly requests | " << requestsText(up.instantly) << " | |\n";
    out << "| Instantly lead writes: bulk / single | " << up.bulkWrites << " / " << up.singleWrites
        << " | |\n";
    out << "| Close requests | " << requestsText(up.close) << " | |\n";
    out << "| Close lookups: searches / single GETs | " << up.searches << " / " << up.leadGets
        << " | |\n";
    if (!up.closeByGroup.empty()) {
        out << "| worst 1 s window of Close requests, per endpoint group | "
            << closeWorst.join(QStringLiteral(", ")) << " | "
            << closeLimits.join(QStringLiteral(", "))
            << " (the sandbox's Close limits per key): " << verdict(closeWithinLimits) << " |\n";
    }
    out << "| worst 1 s / 60 s window of Instantly requests (sandbox's log) | " << worst1s << " / "
        << worst60s << " | ≤ " << c.perSecond << " / ≤ " << c.perMinute << ": "
        << verdict(worst1s <= c.perSecond && worst60s <= c.perMinute) << " |\n";
    out << "| 429s the sandbox served: Instantly / Close | " << up.instantly.rateLimited << " / "
        << up.close.rateLimited
        << " | 0 / 0: " << verdict(up.instantly.rateLimited == 0 && up.close.rateLimited == 0)
        << " |\n";
    if (serve.ok) {
        out << "| serve peak RSS (VmHWM) | " << fixed(serve.peakRssMiB)
            << " MiB | ≤ 60 MiB: " << verdict(serve.peakRssMiB <= 60.0) << " |\n";
        out << "| serve CPU (utime+stime), whole life / during the run | "
            << fixed(serve.cpuSeconds, 2) << " s / "
            << fixed(serve.cpuSeconds - serveBefore.cpuSeconds, 2) << " s | |\n";
        out << "| serve CPU per 200 leads delivered | " << fixed(cpuPer200, 3)
            << " s | < 0.5 s: " << verdict(cpuPer200 < 0.5) << " |\n";
    }
    if (redis.ok || sandboxUsage.ok) {
        out << "| CPU of redis-server / sandbox (whole life) | " << fixed(redis.cpuSeconds, 2)
            << " s / " << fixed(sandboxUsage.cpuSeconds, 2) << " s | |\n";
    }
    if (!single)
        out << "\n" << timelineText(up, created, firer.elapsedMs());

    // The run's targets as rows of the script's summary table (it strips "TARGET ").
    const auto target = [&](const QString &what, const QString &value, bool met) {
        out << "TARGET | " << what << " | " << value << " | " << verdict(met) << " |\n";
    };
    if (c.targetSeconds > 0)
        target(QStringLiteral("%1 leads in Instantly within %2 s of the first webhook")
                   .arg(c.leads)
                   .arg(c.targetSeconds),
               allIn ? allInText : QStringLiteral("%1 of %2 in").arg(leadsIn).arg(c.leads),
               allIn && allInS <= c.targetSeconds);
    if (c.targetInstantlyRequests > 0)
        target(QStringLiteral("%1 leads: at most %2 Instantly requests")
                   .arg(c.leads)
                   .arg(c.targetInstantlyRequests),
               QStringLiteral("%1 (%2 bulk + %3 single lead writes, %4 other)")
                   .arg(up.instantly.requests)
                   .arg(up.bulkWrites)
                   .arg(up.singleWrites)
                   .arg(up.instantly.requests - up.bulkWrites - up.singleWrites),
               up.instantly.requests <= c.targetInstantlyRequests);
    if (c.targetCloseRequests > 0)
        target(QStringLiteral("%1 leads: at most %2 Close requests")
                   .arg(c.leads)
                   .arg(c.targetCloseRequests),
               QStringLiteral("%1 (%2 searches, %3 single GETs)")
                   .arg(up.close.requests)
                   .arg(up.searches)
                   .arg(up.leadGets),
               up.close.requests <= c.targetCloseRequests);
    if (c.targetNo429) {
        target(QStringLiteral("%1 leads: no 429 from Instantly").arg(c.leads),
               QString::number(up.instantly.rateLimited), up.instantly.rateLimited == 0);
        target(QStringLiteral("%1 leads: no 429 from Close").arg(c.leads),
               QString::number(up.close.rateLimited), up.close.rateLimited == 0);
    }
    out.flush();

    const json result = {
        { "mode", c.mode.toStdString() },
        { "inline_leads", c.inlineLeads },
        { "leads", c.leads },
        { "concurrency", c.concurrency },
        { "acknowledged", acknowledged },
        { "ack_p50_ms", latency.p50 / 1000.0 },
        { "ack_p95_ms", latency.p95 / 1000.0 },
        { "ack_p99_ms", latency.p99 / 1000.0 },
        { "ack_max_ms", latency.max / 1000.0 },
        { "accepted_per_s", acceptedPerSecond },
        { "first_upstream_s", up.firstUpstreamMs / 1000.0 },
        { "all_in_s", allInS },
        { "observed_all_in_s", observedAllInMs / 1000.0 },
        { "expected_s", single ? expectedS : 0.0 },
        { "deviation_pct", single ? deviationPct : 0.0 },
        { "leads_in_sandbox", leadsIn },
        { "distinct_leads", distinct },
        { "upstream_requests", up.instantly.requests + up.close.requests },
        { "instantly_requests", up.instantly.requests },
        { "lead_write_requests", up.bulkWrites + up.singleWrites },
        { "bulk_writes", up.bulkWrites },
        { "single_writes", up.singleWrites },
        { "instantly_429", up.instantly.rateLimited },
        { "close_requests", up.close.requests },
        { "close_searches", up.searches },
        { "close_lead_gets", up.leadGets },
        { "close_429", up.close.rateLimited },
        { "rate_limited", up.instantly.rateLimited + up.close.rateLimited },
        { "worst_1s", worst1s },
        { "worst_60s", worst60s },
        { "serve_peak_rss_mib", serve.peakRssMiB },
        { "serve_cpu_s", serve.cpuSeconds },
        { "serve_cpu_run_s", serve.cpuSeconds - serveBefore.cpuSeconds },
        { "serve_cpu_per_200_leads_s", cpuPer200 },
        { "redis_cpu_s", redis.cpuSeconds },
        { "sandbox_cpu_s", sandboxUsage.cpuSeconds },
    };
    out << "\nRESULT " << QString::fromStdString(result.dump()) << "\n";
    if (!c.requestsFile.isEmpty()) {
        QFile file(c.requestsFile);
        const auto all = sandbox.requests(0);
        if (all && file.open(QIODevice::WriteOnly))
            file.write(QByteArray::fromStdString(all->dump(1)) + '\n');
    }
    if (!c.jsonFile.isEmpty()) {
        QFile file(c.jsonFile);
        if (file.open(QIODevice::WriteOnly))
            file.write(QByteArray::fromStdString(result.dump(2)) + '\n');
    }
    out.flush();
    return allIn && acknowledged == c.leads ? 0 : 1;
}
