// Benchmark driver (not part of the suite): posts N distinct Close webhooks at a running
// `sluice serve` over C concurrent keep-alive connections, waits until every lead is in the
// sandbox, and prints the pipeline's numbers as a Markdown table (and one JSON line).
// tests/bench/bench_pipeline.sh starts redis-server, the sandbox and serve around it; see there.
#include "core/windowstats.h"
#include "runs/webhookfirer.h"

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

#include <unistd.h>

#include <algorithm>
#include <optional>
#include <vector>

using namespace sluice;
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
    QString jsonFile;
    QString requestsFile; ///< the sandbox's whole request log, for a closer look

    /// Leads per second the limiter paces at: the tighter cap times the safety factor.
    double pacedRate() const
    {
        return std::min(double(perSecond), perMinute / 60.0) * safetyFactor;
    }
};

/// Waits for one reply on an event loop (QTest::qWaitFor would add up to 10 ms per call).
/// Returns the HTTP status (0 when none) and fills `body`.
int await(QNetworkReply *reply, QByteArray *body = nullptr, int timeoutMs = 10'000)
{
    if (!reply->isFinished()) {
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
        loop.exec();
    }
    if (!reply->isFinished())
        reply->abort();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (body)
        *body = reply->readAll();
    reply->deleteLater();
    return status;
}

class Sandbox
{
public:
    Sandbox(QNetworkAccessManager *http, const Config &config)
        : m_http(http)
        , m_config(config)
    { }

    /// `pathAndQuery` like "/_sandbox/requests?after=3".
    QNetworkRequest request(const QString &pathAndQuery) const
    {
        QNetworkRequest r(m_config.sandbox.resolved(QUrl(pathAndQuery)));
        r.setRawHeader("Authorization", "Bearer " + m_config.apiKey);
        r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        return r;
    }

    std::optional<json> get(const QString &path, int timeoutMs = 10'000) const
    {
        QByteArray body;
        if (await(m_http->get(request(path)), &body, timeoutMs) != 200)
            return std::nullopt;
        return json::parse(body.constBegin(), body.constEnd(), nullptr, false);
    }

    /// Creates the campaign the webhooks name, as Instantly's API does (a draft with a
    /// schedule), unless one by that name exists.
    bool ensureCampaign() const
    {
        const auto found = get(QStringLiteral("/api/v2/campaigns?limit=100&search=")
                               + QString::fromUtf8(QUrl::toPercentEncoding(m_config.campaign)));
        if (found && found->contains("items")) {
            for (const json &c : (*found)["items"]) {
                if (c.value("name", "") == m_config.campaign.toStdString())
                    return true;
            }
        }
        const json campaign = {
            { "name", m_config.campaign.toStdString() },
            { "campaign_schedule",
              { { "schedules",
                  json::array({ { { "name", "Bench" },
                                  { "timing", { { "from", "09:00" }, { "to", "17:00" } } },
                                  { "days", { { "1", true }, { "2", true } } },
                                  { "timezone", "America/Danmarkshavn" } } }) } } }, // UTC all year
        };
        return await(m_http->post(request(QStringLiteral("/api/v2/campaigns")),
                                  QByteArray::fromStdString(campaign.dump())))
            == 200;
    }

    /// The sandbox's request log after `afterSeq`.
    std::optional<json> requests(quint64 afterSeq) const
    {
        auto log = get(QStringLiteral("/_sandbox/requests?after=%1").arg(afterSeq), 60'000);
        if (!log || !log->contains("items"))
            return std::nullopt;
        return (*log)["items"];
    }

private:
    QNetworkAccessManager *m_http;
    const Config &m_config;
};

/// A Close "task.lead created" webhook carrying its lead inline (no Close lookup), distinct
/// per index and per run so nothing is dropped as a duplicate.
QByteArray webhook(const std::string &run, int i, const QString &campaign)
{
    const std::string n = run + "_" + std::to_string(i);
    const json body = {
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
        { "lead",
          { { "id", "lead_" + n },
            { "display_name", "Bench Company " + n },
            { "contacts",
              json::array(
                  { { { "name", "Bench Lead" + std::to_string(i) },
                      { "emails",
                        json::array({ { { "email", "bench" + n + "@example.com" } } }) } } }) } } },
    };
    return QByteArray::fromStdString(body.dump());
}

/// Peak resident set (VmHWM) and CPU seconds (utime + stime) of a process, from /proc.
struct ProcessUsage
{
    bool ok = false;
    double peakRssMiB = 0;
    double cpuSeconds = 0;
};

ProcessUsage processUsage(qint64 pid)
{
    ProcessUsage usage;
    if (pid <= 0)
        return usage;
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!status.open(QIODevice::ReadOnly) || !stat.open(QIODevice::ReadOnly))
        return usage;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmHWM:"))
            usage.peakRssMiB = line.mid(6).trimmed().split(' ').value(0).toDouble() / 1024.0;
    }
    // Fields after the command name (which may hold spaces): state is field 3, utime 14,
    // stime 15.
    const QByteArray text = stat.readAll();
    const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
    const double ticks = double(sysconf(_SC_CLK_TCK));
    usage.cpuSeconds = (fields.value(11).toDouble() + fields.value(12).toDouble()) / ticks;
    usage.ok = true;
    return usage;
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

bool isLeadWrite(const json &entry)
{
    const std::string path = entry.value("path", "");
    return entry.value("method", "") == "POST"
        && (path == "/api/v2/leads" || path == "/api/v2/leads/add");
}

std::optional<Config> parseArguments(const QCoreApplication &app)
{
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Posts N distinct Close webhooks to a running `sluice serve`, waits until every lead "
        "is in the sandbox and prints the pipeline's numbers. Normally run by "
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
    bool ok[8] = {};
    c.leads = parser.value(QStringLiteral("leads")).toInt(&ok[0]);
    c.concurrency = parser.value(QStringLiteral("concurrency")).toInt(&ok[1]);
    c.perSecond = parser.value(QStringLiteral("per-second")).toInt(&ok[2]);
    c.perMinute = parser.value(QStringLiteral("per-minute")).toInt(&ok[3]);
    c.safetyFactor = parser.value(QStringLiteral("safety-factor")).toDouble(&ok[4]);
    ok[5] = ok[6] = ok[7] = true;
    if (parser.isSet(QStringLiteral("serve-pid")))
        c.servePid = parser.value(QStringLiteral("serve-pid")).toLongLong(&ok[5]);
    if (parser.isSet(QStringLiteral("redis-pid")))
        c.redisPid = parser.value(QStringLiteral("redis-pid")).toLongLong(&ok[6]);
    if (parser.isSet(QStringLiteral("sandbox-pid")))
        c.sandboxPid = parser.value(QStringLiteral("sandbox-pid")).toLongLong(&ok[7]);
    if (parser.isSet(QStringLiteral("timeout")))
        c.timeoutS = parser.value(QStringLiteral("timeout")).toInt();
    c.jsonFile = parser.value(QStringLiteral("json"));
    c.requestsFile = parser.value(QStringLiteral("requests-out"));
    if (!std::all_of(std::begin(ok), std::end(ok), [](bool b) { return b; }) || c.leads <= 0
        || c.concurrency <= 0 || c.perSecond <= 0 || c.perMinute <= 0 || c.safetyFactor <= 0) {
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
        if (await(http.get(QNetworkRequest(url)), nullptr, 2000) == 200)
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
    Sandbox sandbox(&http, c);

    if (!waitHealthy(http, c.intake)) {
        err() << "bench_pipeline: " << c.intake.toString()
              << "/healthz did not answer 200 within 30 s\n";
        return 1;
    }
    if (!sandbox.ensureCampaign()) {
        err() << "bench_pipeline: cannot create the campaign in the sandbox at "
              << c.sandbox.toString() << "\n";
        return 1;
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

    const std::string run = std::to_string(QDateTime::currentMSecsSinceEpoch());
    std::vector<FireRequest> requests;
    requests.reserve(size_t(c.leads));
    for (int i = 0; i < c.leads; ++i)
        requests.push_back({ webhook(run, i, c.campaign), {} });
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
    int upstream = 0, leadWrites = 0, limited = 0, failed = 0;
    qint64 firstUpstreamMs = -1, lastLeadInMs = -1;
    std::vector<milliseconds> admittedTimes;
    std::map<std::string, int> byEndpoint;
    for (const json &e : *log) {
        if (e.value("path", "").rfind("/api/", 0) != 0)
            continue;
        ++upstream;
        ++byEndpoint[e.value("method", "") + " " + e.value("path", "")];
        const int status = e.value("status", 0);
        const qint64 at = e.value("time_ms", qint64(0)) - startWallMs;
        limited += status == 429 ? 1 : 0;
        failed += (status >= 500 || status == 0) ? 1 : 0;
        if (firstUpstreamMs < 0)
            firstUpstreamMs = at;
        if (e.value("admitted", false))
            admittedTimes.push_back(milliseconds { e.value("time_ms", qint64(0)) });
        if (isLeadWrite(e)) {
            ++leadWrites;
            if (status >= 200 && status < 300)
                lastLeadInMs = std::max(lastLeadInMs, at + e.value("latency_ms", qint64(0)));
        }
    }
    std::sort(admittedTimes.begin(), admittedTimes.end());
    const int worst1s = maxInAnyWindow(admittedTimes, milliseconds { 1000 });
    const int worst60s = maxInAnyWindow(admittedTimes, milliseconds { 60'000 });

    // Every lead exactly once?
    int distinct = 0;
    if (const auto leads = sandbox.get(QStringLiteral("/_sandbox/leads"), 60'000)) {
        QSet<QString> emails;
        const std::string mark = "bench" + run + "_";
        for (const json &lead : leads->value("items", json::array())) {
            const std::string email = lead.value("email", "");
            if (email.rfind(mark, 0) == 0)
                emails.insert(QString::fromStdString(email));
        }
        distinct = int(emails.size());
    }

    const bool allIn = leadsIn >= c.leads && lastLeadInMs >= 0;
    const double allInS = allIn ? double(lastLeadInMs) / 1000.0 : -1;
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
    QString endpointText;
    for (const auto &[endpoint, count] : byEndpoint) {
        if (!endpointText.isEmpty())
            endpointText += QStringLiteral(", ");
        endpointText += QStringLiteral("%1 %2").arg(count).arg(QString::fromStdString(endpoint));
    }

    out << "\n### " << c.mode << " mode: " << c.leads << " leads, " << c.concurrency
        << " concurrent clients\n\n";
    out << "| measure | value | target |\n|---|---|---|\n";
    out << "| webhooks acknowledged (2xx) | " << acknowledged << " of " << c.leads << " ("
        << statusText << ") | all |\n";
    out << "| ack latency p50 / p95 / p99 / max | " << ms(latency.p50) << " / " << ms(latency.p95)
        << " / " << ms(latency.p99) << " / " << ms(latency.max) << " ms | |\n";
    out << "| webhooks accepted per second | " << qRound(acceptedPerSecond) << " (all " << c.leads
        << " in " << fixed(fireSeconds, 3) << " s) | (wrk section) |\n";
    out << "| first webhook → first upstream request | " << fixed(firstUpstreamMs / 1000.0, 3)
        << " s | |\n";
    if (!single) {
        out << "| first webhook → all leads in the sandbox | "
            << (allIn ? fixed(allInS, 3) + QStringLiteral(" s") : QStringLiteral("not all in"))
            << " | ≤ 10 s: " << verdict(allIn && allInS <= 10.0) << " |\n";
    } else {
        out << "| first webhook → all leads in the sandbox | "
            << (allIn ? fixed(allInS, 3) + QStringLiteral(" s") : QStringLiteral("not all in"))
            << " | |\n";
        out << "| expected N ÷ rate | " << c.leads << " ÷ " << fixed(c.pacedRate(), 2)
            << "/s = " << fixed(expectedS, 3) << " s (cap " << c.perSecond << "/s × safety "
            << c.safetyFactor << "; at the raw cap: " << fixed(c.leads / double(c.perSecond), 1)
            << " s) | |\n";
        out << "| deviation from N ÷ rate | " << (deviationPct >= 0 ? "+" : "")
            << fixed(deviationPct, 2)
            << " % | within ±3 %: " << verdict(allIn && std::abs(deviationPct) <= 3.0) << " |\n";
    }
    out << "| leads in the sandbox (distinct emails) | " << leadsIn << " (" << distinct << ") | "
        << c.leads << ", none twice: " << verdict(leadsIn == c.leads && distinct == c.leads)
        << " |\n";
    out << "| upstream requests used | " << upstream << " (" << endpointText << "; " << limited
        << " × 429, " << failed << " failed) | |\n";
    out << "| worst 1 s / 60 s window of the sandbox's log | " << worst1s << " / " << worst60s
        << " | ≤ " << c.perSecond << " / ≤ " << c.perMinute << ": "
        << verdict(worst1s <= c.perSecond && worst60s <= c.perMinute) << " |\n";
    out << "| 429s the sandbox served | " << limited << " | 0: " << verdict(limited == 0) << " |\n";
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
    out.flush();

    const json result = {
        { "mode", c.mode.toStdString() },
        { "leads", c.leads },
        { "concurrency", c.concurrency },
        { "acknowledged", acknowledged },
        { "ack_p50_ms", latency.p50 / 1000.0 },
        { "ack_p95_ms", latency.p95 / 1000.0 },
        { "ack_p99_ms", latency.p99 / 1000.0 },
        { "ack_max_ms", latency.max / 1000.0 },
        { "accepted_per_s", acceptedPerSecond },
        { "first_upstream_s", firstUpstreamMs / 1000.0 },
        { "all_in_s", allInS },
        { "observed_all_in_s", observedAllInMs / 1000.0 },
        { "expected_s", single ? expectedS : 0.0 },
        { "deviation_pct", single ? deviationPct : 0.0 },
        { "leads_in_sandbox", leadsIn },
        { "distinct_leads", distinct },
        { "upstream_requests", upstream },
        { "lead_write_requests", leadWrites },
        { "rate_limited", limited },
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
