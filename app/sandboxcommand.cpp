#include "commands.h"

#include "core/secret.h"
#include "sandbox/sandboxserver.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDateTime>
#include <QTextStream>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

/// Reads a number option; on a bad value prints why and returns nullopt.
template<typename T>
std::optional<T> number(const QCommandLineParser &parser, const QString &name, T fallback,
                        QTextStream &err)
{
    if (!parser.isSet(name))
        return fallback;
    bool ok = false;
    const QString text = parser.value(name);
    T value {};
    if constexpr (std::is_floating_point_v<T>)
        value = T(text.toDouble(&ok));
    else
        value = T(text.toLongLong(&ok));
    if (!ok) {
        err << "sluice sandbox: --" << name << " expects a number, got '" << text << "'\n";
        return std::nullopt;
    }
    return value;
}

} // namespace

int runSandboxCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "Fake Instantly v2 and Close APIs on loopback, held to the vendors' documented rules "
        "(docs/sandbox-rules.md): Instantly's workspace rate limit, Close's per-group limits, "
        "fault injection. Control API: /_sandbox/{stats,requests,leads,faults,limits,outage,"
        "blocklist,plan,behaviour,close/leads,close/limits,close/faults,reset} with the same "
        "bearer key."));
    parser.addHelpOption();
    parser.addOptions({
        { QStringLiteral("host"), QStringLiteral("Address to bind (default 127.0.0.1)."),
          QStringLiteral("address"), QStringLiteral("127.0.0.1") },
        { QStringLiteral("port"),
          QStringLiteral("Port to bind; 0 picks a free one (default 18080)."),
          QStringLiteral("port"), QStringLiteral("18080") },
        { QStringLiteral("api-key"),
          QStringLiteral("Instantly bearer key to accept (default 'sandbox')."),
          QStringLiteral("key") },
        { QStringLiteral("close-api-key"),
          QStringLiteral("Close API key to accept as the Basic-auth user (default 'sandbox'); "
                         "repeat it for several keys of one organisation."),
          QStringLiteral("key") },
        { QStringLiteral("preset"),
          QStringLiteral("Instantly limits: 'plan' (this team's 10/s and 600/min, the default) "
                         "or 'documented' (Instantly's documented 100/s and 6,000/min)."),
          QStringLiteral("name") },
        { QStringLiteral("per-second"),
          QStringLiteral("Workspace limit per second (default 10; overrides --preset)."),
          QStringLiteral("n") },
        { QStringLiteral("per-minute"),
          QStringLiteral("Workspace limit per minute (default 600; overrides --preset)."),
          QStringLiteral("n") },
        { QStringLiteral("blocklist"),
          QStringLiteral("Workspace blocklist entry, an email or a domain; repeatable."),
          QStringLiteral("entry") },
        { QStringLiteral("remaining-in-plan"),
          QStringLiteral("Leads the Instantly plan still allows (default 100000)."),
          QStringLiteral("n") },
        { QStringLiteral("same-campaign-duplicates"),
          QStringLiteral("The same email sent again to one campaign with the skip flags off: "
                         "'create' (default) or 'skip'."),
          QStringLiteral("create|skip") },
        { QStringLiteral("close-per-key"),
          QStringLiteral("Close limit per API key and endpoint group, requests/s (default 20)."),
          QStringLiteral("n") },
        { QStringLiteral("close-per-org"),
          QStringLiteral("Close limit per organisation and endpoint group, requests/s "
                         "(default 60)."),
          QStringLiteral("n") },
        { QStringLiteral("close-latency-ms"), QStringLiteral("Latency added to Close answers."),
          QStringLiteral("ms") },
        { QStringLiteral("search-refused-status"),
          QStringLiteral("Answer every Close search with this status: 400, 403 or 404."),
          QStringLiteral("status") },
        { QStringLiteral("retry-after"),
          QStringLiteral("Send Retry-After with 429s (Instantly does not promise it).") },
        { QStringLiteral("latency-ms"), QStringLiteral("Latency added to every answer."),
          QStringLiteral("ms") },
        { QStringLiteral("error-rate"), QStringLiteral("Probability of a 500, 0..1."),
          QStringLiteral("p") },
        { QStringLiteral("hang-rate"), QStringLiteral("Probability of a hang, 0..1."),
          QStringLiteral("p") },
        { QStringLiteral("hang-ms"),
          QStringLiteral("How long a hang lasts before a 504 (default 120000)."),
          QStringLiteral("ms") },
        { QStringLiteral("body-error-rate"),
          QStringLiteral("Probability of a 200 with an error body, 0..1."), QStringLiteral("p") },
        { QStringLiteral("apply-drop-rate"),
          QStringLiteral("Probability that a request takes effect and the connection is then "
                         "closed without an answer, 0..1."),
          QStringLiteral("p") },
        { QStringLiteral("apply-hang-rate"),
          QStringLiteral("Probability that a request takes effect and its answer is then held "
                         "for --hang-ms, 0..1."),
          QStringLiteral("p") },
        { QStringLiteral("outage"),
          QStringLiteral(
              "An outage window (503s): START_MS:DURATION_MS from start-up; repeatable."),
          QStringLiteral("start:duration") },
        { QStringLiteral("seed"), QStringLiteral("Seed for the fault dice (default 1)."),
          QStringLiteral("n") },
        { QStringLiteral("quiet"), QStringLiteral("Do not print one line per request.") },
    });
    if (!parser.parse(args)) {
        err << "sluice sandbox: " << parser.errorText() << "\n";
        return 2;
    }
    if (parser.isSet(QStringLiteral("help"))) {
        out << commandHelpText(parser.helpText(), QStringLiteral("sandbox"));
        return 0;
    }
    if (!parser.positionalArguments().isEmpty()) {
        err << "sluice sandbox: unexpected argument '" << parser.positionalArguments().first()
            << "'\n";
        return 2;
    }

    SandboxOptions options;
    const QString preset = parser.value(QStringLiteral("preset"));
    if (preset == QLatin1String("documented")) {
        options = SandboxOptions::documentedInstantlyLimits();
    } else if (!preset.isEmpty() && preset != QLatin1String("plan")) {
        err << "sluice sandbox: --preset expects 'plan' or 'documented', got '" << preset << "'\n";
        return 2;
    }
    if (parser.isSet(QStringLiteral("api-key")))
        options.apiKey = parser.value(QStringLiteral("api-key"));
    const QStringList closeKeys = parser.values(QStringLiteral("close-api-key"));
    if (!closeKeys.isEmpty()) {
        options.closeApiKey = closeKeys.first();
        options.moreCloseApiKeys = closeKeys.mid(1);
    }
    options.blocklist = parser.values(QStringLiteral("blocklist"));
    if (parser.isSet(QStringLiteral("same-campaign-duplicates"))) {
        const QString text = parser.value(QStringLiteral("same-campaign-duplicates"));
        const auto behaviour = sameCampaignDuplicatesFromString(text);
        if (!behaviour) {
            err << "sluice sandbox: --same-campaign-duplicates expects 'create' or 'skip', got '"
                << text << "'\n";
            return 2;
        }
        options.sameCampaignDuplicates = *behaviour;
    }
    options.sendRetryAfter = parser.isSet(QStringLiteral("retry-after"));
    const auto port = number<int>(parser, QStringLiteral("port"), 18080, err);
    const auto perSecond
        = number<int>(parser, QStringLiteral("per-second"), options.perSecond, err);
    const auto perMinute
        = number<int>(parser, QStringLiteral("per-minute"), options.perMinute, err);
    const auto latency = number<qint64>(parser, QStringLiteral("latency-ms"), 0, err);
    const auto errorRate = number<double>(parser, QStringLiteral("error-rate"), 0.0, err);
    const auto hangRate = number<double>(parser, QStringLiteral("hang-rate"), 0.0, err);
    const auto hangMs = number<qint64>(parser, QStringLiteral("hang-ms"), 120'000, err);
    const auto bodyErrorRate = number<double>(parser, QStringLiteral("body-error-rate"), 0.0, err);
    const auto applyDropRate = number<double>(parser, QStringLiteral("apply-drop-rate"), 0.0, err);
    const auto applyHangRate = number<double>(parser, QStringLiteral("apply-hang-rate"), 0.0, err);
    const auto seed = number<qint64>(parser, QStringLiteral("seed"), 1, err);
    const auto remainingInPlan
        = number<qint64>(parser, QStringLiteral("remaining-in-plan"), options.remainingInPlan, err);
    const CloseGroupLimit closeDefaults;
    const auto closePerKey
        = number<int>(parser, QStringLiteral("close-per-key"), closeDefaults.perKey, err);
    const auto closePerOrg
        = number<int>(parser, QStringLiteral("close-per-org"), closeDefaults.perOrg, err);
    const auto closeLatency = number<qint64>(parser, QStringLiteral("close-latency-ms"), 0, err);
    const auto searchRefused = number<int>(parser, QStringLiteral("search-refused-status"), 0, err);
    if (!port || !perSecond || !perMinute || !latency || !errorRate || !hangRate || !hangMs
        || !bodyErrorRate || !applyDropRate || !applyHangRate || !seed || !remainingInPlan
        || !closePerKey || !closePerOrg || !closeLatency || !searchRefused)
        return 2;
    if (*port < 0 || *port > 65535) {
        err << "sluice sandbox: --port must be between 0 and 65535\n";
        return 2;
    }
    options.perSecond = *perSecond;
    options.perMinute = *perMinute;
    options.faults.latency = milliseconds { *latency };
    options.faults.errorRate = *errorRate;
    options.faults.hangRate = *hangRate;
    options.faults.hangDuration = milliseconds { *hangMs };
    options.faults.bodyErrorRate = *bodyErrorRate;
    options.faults.applyDropRate = *applyDropRate;
    options.faults.applyHangRate = *applyHangRate;
    options.seed = quint32(*seed);
    options.remainingInPlan = *remainingInPlan;
    for (const QString &group : SandboxServer::closeEndpointGroups())
        options.closeLimits[group] = CloseGroupLimit { *closePerKey, *closePerOrg };
    options.closeFaults.latency = milliseconds { *closeLatency };
    options.closeFaults.searchRefusedStatus = *searchRefused;
    if (auto problem = options.problem()) {
        err << "sluice sandbox: " << *problem << "\n";
        return 2;
    }
    std::vector<std::pair<milliseconds, milliseconds>> outages;
    for (const QString &spec : parser.values(QStringLiteral("outage"))) {
        const QStringList parts = spec.split(QLatin1Char(':'));
        bool okStart = false, okDuration = false;
        const qint64 start = parts.value(0).toLongLong(&okStart);
        const qint64 duration = parts.value(1).toLongLong(&okDuration);
        if (parts.size() != 2 || !okStart || !okDuration || start < 0 || duration <= 0) {
            err << "sluice sandbox: --outage expects START_MS:DURATION_MS with START_MS >= 0 and "
                   "DURATION_MS > 0, got '"
                << spec << "'\n";
            return 2;
        }
        outages.emplace_back(milliseconds { start }, milliseconds { duration });
    }
    const QHostAddress host(parser.value(QStringLiteral("host")));
    if (host.isNull()) {
        err << "sluice sandbox: --host '" << parser.value(QStringLiteral("host"))
            << "' is not an IP address\n";
        return 2;
    }

    SandboxServer sandbox(options);
    for (const auto &[start, duration] : outages)
        sandbox.addOutage(start, duration);
    if (sandbox.start(host, quint16(*port)) == 0) {
        err << "sluice sandbox: cannot listen on " << host.toString() << ":" << *port
            << " (in use, or not an address of this machine)\n";
        return 1;
    }
    if (!host.isLoopback())
        err << "sluice sandbox: warning: listening on " << host.toString()
            << ", which is not loopback; anyone who can reach it can use the fake APIs\n";
    // The default key is public (it is in the README); a chosen one is shown masked.
    const QString keyShown
        = options.apiKey == QLatin1String("sandbox") ? options.apiKey : maskSecret(options.apiKey);
    out << "Sluice sandbox listening on " << sandbox.baseUrl().toString() << "\n"
        << "  Instantly v2 at /api/v2/..., bearer key: " << keyShown << "\n"
        << "  Close at /api/v1/lead/{id}/ and /api/v1/data/search/, Basic-auth user: "
        << (options.closeApiKey == QLatin1String("sandbox") ? options.closeApiKey
                                                            : maskSecret(options.closeApiKey))
        << (options.moreCloseApiKeys.isEmpty()
                ? QString()
                : QStringLiteral(" (+%1 more keys)").arg(options.moreCloseApiKeys.size()))
        << "\n"
        << "  workspace limit: " << options.perSecond << "/s and " << options.perMinute << "/min\n"
        << "  Close limits per endpoint group: " << *closePerKey << "/s per key, " << *closePerOrg
        << "/s per organisation\n"
        << "  control API: /_sandbox/stats, /_sandbox/requests, /_sandbox/faults, ...\n"
        << "Ctrl-C stops it." << Qt::endl;

    if (!parser.isSet(QStringLiteral("quiet"))) {
        QObject::connect(&sandbox, &SandboxServer::requestServed, &sandbox,
                         [&out](const SandboxLogEntry &e) {
                             out << QDateTime::fromMSecsSinceEpoch(e.wallTimeMs, Qt::UTC)
                                        .toString(Qt::ISODateWithMs)
                                 << ' ' << e.method << ' ' << e.path << ' ' << e.status << ' '
                                 << e.latencyMs << "ms" << Qt::endl;
                         });
    }
    quitOnTerminationSignals();
    const int code = QCoreApplication::exec();
    const int admitted = int(std::count_if(sandbox.requestLog().begin(), sandbox.requestLog().end(),
                                           [](const SandboxLogEntry &e) { return e.admitted; }));
    out << "Sluice sandbox stopped: " << sandbox.requestLog().size() << " requests, " << admitted
        << " admitted; worst 1 s window " << sandbox.worstWindow(milliseconds { 1000 })
        << ", worst 60 s window " << sandbox.worstWindow(milliseconds { 60'000 }) << Qt::endl;
    return code;
}

QString commandHelpText(const QString &parserHelp, const QString &command)
{
    QString help = parserHelp;
    const qsizetype end = help.indexOf(QLatin1Char('\n'));
    const QString first = help.left(end);
    const qsizetype options = first.indexOf(QLatin1String(" ["));
    if (first.startsWith(QLatin1String("Usage: ")) && options > 0)
        help.replace(0, options, QStringLiteral("Usage: sluice ") + command);
    return help;
}
