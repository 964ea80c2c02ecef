#include "commands.h"

#include "config/flagtable.h"
#include "core/secret.h"
#include "sandbox/sandboxserver.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QProcessEnvironment>
#include <QTextStream>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

FlagSpec sandboxOption(const char *name, FlagType type, const char *valueName, const char *help)
{
    return FlagSpec::option(QLatin1String(name), type, QLatin1String(valueName),
                            QLatin1String(help));
}

/// A probability, 0..1.
FlagSpec rateOption(const char *name, const char *help)
{
    return sandboxOption(name, FlagType::Double, "P", help).withRange(0, 1);
}

FlagTable sandboxFlags()
{
    FlagTable table(
        QStringLiteral("sandbox"), QStringLiteral("sluice sandbox [options]"),
        QStringLiteral(
            "Fake Instantly v2 and Close APIs on loopback, held to the vendors' documented rules\n"
            "(docs/sandbox-rules.md): Instantly's workspace rate limit, Close's per-group limits,\n"
            "fault injection. Control API: /_sandbox/{stats,requests,leads,faults,limits,outage,\n"
            "blocklist,plan,behaviour,close/leads,close/limits,close/faults,reset} with the same\n"
            "bearer key."));
    const CloseGroupLimit close;
    const SandboxOptions sandbox;
    table.add({
        sandboxOption("host", FlagType::Text, "ADDRESS", "address to bind")
            .withDefault(QStringLiteral("127.0.0.1")),
        sandboxOption("port", FlagType::Int, "PORT", "port to bind; 0 picks a free one")
            .withDefault(QStringLiteral("18080"))
            .withRange(0, 65535),
        // A chosen key is a secret; the default one is public (it is in the README).
        sandboxOption("api-key", FlagType::Text, "KEY", "Instantly bearer key to accept")
            .withDefaultNote(QStringLiteral("'sandbox'"))
            .asSecret(),
        sandboxOption("close-api-key", FlagType::List, "KEY",
                      "Close API key to accept as the Basic-auth user; repeat it for several "
                      "keys of one organisation")
            .withDefaultNote(QStringLiteral("'sandbox'"))
            .asSecret(),
        sandboxOption("preset", FlagType::Choice, "NAME",
                      "Instantly limits: plan (this team's 10/s and 600/min) or documented "
                      "(Instantly's documented 100/s and 6,000/min)")
            .withChoices({ QStringLiteral("plan"), QStringLiteral("documented") })
            .withDefault(QStringLiteral("plan")),
        sandboxOption("per-second", FlagType::Int, "N",
                      "workspace limit per second (overrides --preset)")
            .withDefaultNote(QStringLiteral("the preset's, %1").arg(sandbox.perSecond)),
        sandboxOption("per-minute", FlagType::Int, "N",
                      "workspace limit per minute (overrides --preset)")
            .withDefaultNote(QStringLiteral("the preset's, %1").arg(sandbox.perMinute)),
        sandboxOption("blocklist", FlagType::List, "ENTRY",
                      "workspace blocklist entry, an email or a domain; repeatable"),
        sandboxOption("remaining-in-plan", FlagType::Int, "N",
                      "leads the Instantly plan still allows")
            .withDefault(QString::number(sandbox.remainingInPlan)),
        sandboxOption("same-campaign-duplicates", FlagType::Choice, "create|skip",
                      "the same email sent again to one campaign with the skip flags off")
            .withChoices({ QStringLiteral("create"), QStringLiteral("skip") })
            .withDefault(QStringLiteral("create")),
        sandboxOption("close-per-key", FlagType::Int, "N",
                      "Close limit per API key and endpoint group, requests/s")
            .withDefault(QString::number(close.perKey)),
        sandboxOption("close-per-org", FlagType::Int, "N",
                      "Close limit per organisation and endpoint group, requests/s")
            .withDefault(QString::number(close.perOrg)),
        sandboxOption("close-latency-ms", FlagType::Int, "MS", "latency added to Close answers")
            .withRange(0, 3'600'000),
        sandboxOption("search-refused-status", FlagType::Int, "STATUS",
                      "answer every Close search with this status: 400, 403 or 404"),
        FlagSpec::toggle(QStringLiteral("retry-after"),
                         QStringLiteral("send Retry-After with 429s (Instantly does not promise "
                                        "it)")),
        sandboxOption("latency-ms", FlagType::Int, "MS", "latency added to every answer")
            .withRange(0, 3'600'000),
        rateOption("error-rate", "probability of a 500, 0..1"),
        rateOption("hang-rate", "probability of a hang, 0..1"),
        sandboxOption("hang-ms", FlagType::Int, "MS", "how long a hang lasts before a 504")
            .withDefault(QStringLiteral("120000"))
            .withRange(0, 3'600'000),
        rateOption("body-error-rate", "probability of a 200 with an error body, 0..1"),
        rateOption("apply-drop-rate",
                   "probability that a request takes effect and the connection is then closed "
                   "without an answer, 0..1"),
        rateOption("apply-hang-rate",
                   "probability that a request takes effect and its answer is then held for "
                   "--hang-ms, 0..1"),
        sandboxOption("outage", FlagType::List, "START:DURATION",
                      "an outage window (503s): START_MS:DURATION_MS from start-up; repeatable"),
        sandboxOption("seed", FlagType::Int, "N", "seed for the fault dice")
            .withDefault(QStringLiteral("1"))
            .withRange(0, 4'294'967'295.0),
        FlagSpec::toggle(QStringLiteral("quiet"),
                         QStringLiteral("do not print one line per request")),
    });
    return table;
}

} // namespace

int runSandboxCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const FlagTable flags = sandboxFlags();
    // The sandbox reads no variables: what it fakes is given on its command line only.
    const auto parsed = flags.parse(args.mid(1), QProcessEnvironment());
    if (!parsed.ok()) {
        err << "sluice sandbox: " << parsed.error() << "\n";
        return 2;
    }
    const FlagValues &v = parsed.value();
    if (v.helpRequested()) {
        out << flags.helpText();
        return 0;
    }

    SandboxOptions options;
    if (v.text(QStringLiteral("preset")).toLower() == QLatin1String("documented"))
        options = SandboxOptions::documentedInstantlyLimits();
    if (v.given(QStringLiteral("api-key")))
        options.apiKey = v.text(QStringLiteral("api-key"));
    const QStringList closeKeys = v.list(QStringLiteral("close-api-key"));
    if (!closeKeys.isEmpty()) {
        options.closeApiKey = closeKeys.first();
        options.moreCloseApiKeys = closeKeys.mid(1);
    }
    options.blocklist = v.list(QStringLiteral("blocklist"));
    options.sameCampaignDuplicates
        = sameCampaignDuplicatesFromString(
              v.text(QStringLiteral("same-campaign-duplicates")).toLower())
              .value_or(options.sameCampaignDuplicates);
    options.sendRetryAfter = v.isOn(QStringLiteral("retry-after"));
    const int port = int(v.integer(QStringLiteral("port")));
    if (v.given(QStringLiteral("per-second")))
        options.perSecond = int(v.integer(QStringLiteral("per-second")));
    if (v.given(QStringLiteral("per-minute")))
        options.perMinute = int(v.integer(QStringLiteral("per-minute")));
    options.faults.latency = milliseconds { v.integer(QStringLiteral("latency-ms")) };
    options.faults.errorRate = v.number(QStringLiteral("error-rate"));
    options.faults.hangRate = v.number(QStringLiteral("hang-rate"));
    options.faults.hangDuration = milliseconds { v.integer(QStringLiteral("hang-ms")) };
    options.faults.bodyErrorRate = v.number(QStringLiteral("body-error-rate"));
    options.faults.applyDropRate = v.number(QStringLiteral("apply-drop-rate"));
    options.faults.applyHangRate = v.number(QStringLiteral("apply-hang-rate"));
    options.seed = quint32(v.integer(QStringLiteral("seed")));
    options.remainingInPlan = v.integer(QStringLiteral("remaining-in-plan"));
    const int closePerKey = int(v.integer(QStringLiteral("close-per-key")));
    const int closePerOrg = int(v.integer(QStringLiteral("close-per-org")));
    for (const QString &group : SandboxServer::closeEndpointGroups())
        options.closeLimits[group] = CloseGroupLimit { closePerKey, closePerOrg };
    options.closeFaults.latency = milliseconds { v.integer(QStringLiteral("close-latency-ms")) };
    options.closeFaults.searchRefusedStatus
        = int(v.integer(QStringLiteral("search-refused-status")));
    if (auto problem = options.problem()) {
        err << "sluice sandbox: " << *problem << "\n";
        return 2;
    }
    std::vector<std::pair<milliseconds, milliseconds>> outages;
    for (const QString &spec : v.list(QStringLiteral("outage"))) {
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
    const QHostAddress host(v.text(QStringLiteral("host")));
    if (host.isNull()) {
        err << "sluice sandbox: --host '" << v.text(QStringLiteral("host"))
            << "' is not an IP address\n";
        return 2;
    }

    SandboxServer sandbox(options);
    for (const auto &[start, duration] : outages)
        sandbox.addOutage(start, duration);
    if (sandbox.start(host, quint16(port)) == 0) {
        err << "sluice sandbox: cannot listen on " << host.toString() << ":" << port
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
        << "  Close limits per endpoint group: " << closePerKey << "/s per key, " << closePerOrg
        << "/s per organisation\n"
        << "  control API: /_sandbox/stats, /_sandbox/requests, /_sandbox/faults, ...\n"
        << "Ctrl-C stops it." << Qt::endl;

    if (!v.isOn(QStringLiteral("quiet"))) {
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
