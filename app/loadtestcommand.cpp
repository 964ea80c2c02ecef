// `sluice loadtest`: one load test from the shell, with live progress and a verdict.
#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "core/clock.h"
#include "local/localengine.h"
#include "runs/runreport.h"
#include "runs/runsession.h"
#include "sandbox/sandboxserver.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QLoggingCategory>
#include <QTextStream>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <unistd.h>
#include <utility>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

const char kLoadtestHelp[] = R"(Usage: sluice loadtest --leads N [options] [serve options]

Fires N Close-format webhooks at a listener (50 at a time, 30 s client timeout, as
Close and Heroku would), follows every lead until Instantly has it, and judges the run:
every webhook acknowledged in time, p99 acknowledgement, every lead delivered, the send
log within the caps, 429s. Exit code 0 when the run passes, 1 when it fails.

Without --live everything runs in this process against the embedded sandbox (the fake
Instantly and Close, with the real limits) and a private Redis: no set-up needed.

The webhooks are shaped as Close sends them: the task and its lead id, never the lead. The
run's leads are put in the sandbox's Close first, so each one is looked up as in production.

Options:
  --leads N             leads in the run (or give a numeric --stage)
  --stage NAME          stage label: 20, 200, 500, 1000, 2000 or any name
  --target URL          POST the webhooks here instead of this process's own listener
  --campaign NAME       Instantly campaign (default TimeoutTest<timestamp>, created if missing)
  --email-pattern P     lead addresses, with {i} and {timestamp}
                        (default lance+{timestamp}+{i}@whiteboardgeeks.com)
  --concurrency N       webhooks in flight at once (default 50)
  --ack-timeout D       client timeout per webhook (default 30s: the Heroku router's cut)
  --ack-p99 D           the p99 acknowledgement must stay under this (default 1s)
  --max-429 N           429s upstream may serve during the run (default 0)
  --fail-fast           stop sending at the first timeout or non-2xx answer
  --inline-leads        put each lead in its webhook (a test convenience Close never
                        does; implied by --live, whose Close holds no test leads, and
                        needed with --target, whose Close this run cannot fill)
  --verify              afterwards, list the campaign in Instantly and check every lead
                        is there exactly once (through the same limiter and breaker)
  --cleanup             afterwards, delete the run's leads (and its campaign when the run
                        made it) and check none remain
  --json FILE           write the run record as JSON
  --live                use the real Instantly (INSTANTLY_API_KEY) instead of the sandbox
  --verbose             log what the engine does
Every `sluice serve` option applies too (--redis, --rate, --burst-rate, --single, ...).
)";

struct LoadTestArgs
{
    RunDefinition definition;
    bool live = false;
    bool verbose = false;
    bool verify = false;
    bool cleanup = false;
    QString jsonFile;
    QStringList serveArgs;
};

Result<LoadTestArgs, QString> parseArgs(const QStringList &args)
{
    LoadTestArgs a;
    const qint64 now = wallClockMs();
    a.definition.id = newRunId(now);
    a.definition.timestamp = QString::number(now / 1000);
    int leads = -1;
    bool listenGiven = false;
    for (qsizetype i = 0; i < args.size(); ++i) {
        QString arg = args[i];
        QString value;
        bool hasValue = false;
        const qsizetype eq = arg.indexOf(QLatin1Char('='));
        if (arg.startsWith(QLatin1String("--")) && eq > 0) {
            value = arg.mid(eq + 1);
            arg = arg.left(eq);
            hasValue = true;
        }
        auto next = [&]() -> std::optional<QString> {
            if (hasValue)
                return value;
            if (i + 1 >= args.size())
                return std::nullopt;
            return args[++i];
        };
        static const char *const valued[]
            = { "--leads",       "--stage",       "--target",  "--campaign", "--email-pattern",
                "--concurrency", "--ack-timeout", "--ack-p99", "--max-429",  "--json" };
        const bool takesValue = std::any_of(std::begin(valued), std::end(valued),
                                            [&](const char *f) { return arg == QLatin1String(f); });
        if (takesValue) {
            const auto v = next();
            if (!v)
                return QStringLiteral("%1 needs a value").arg(arg);
            bool ok = true;
            if (arg == QLatin1String("--leads")) {
                leads = v->toInt(&ok);
                if (!ok || leads < 1 || leads > 100'000)
                    return QStringLiteral("--leads: '%1' is not a number from 1 to 100000").arg(*v);
            } else if (arg == QLatin1String("--stage")) {
                a.definition.stage = *v;
            } else if (arg == QLatin1String("--target")) {
                a.definition.target = QUrl(*v, QUrl::StrictMode);
            } else if (arg == QLatin1String("--campaign")) {
                a.definition.campaign = *v;
            } else if (arg == QLatin1String("--email-pattern")) {
                a.definition.leadTemplate.emailPattern = *v;
            } else if (arg == QLatin1String("--concurrency")) {
                a.definition.concurrency = v->toInt(&ok);
                if (!ok)
                    return QStringLiteral("--concurrency: '%1' is not a number").arg(*v);
            } else if (arg == QLatin1String("--max-429")) {
                a.definition.thresholds.max429 = v->toInt(&ok);
                if (!ok || a.definition.thresholds.max429 < 0)
                    return QStringLiteral("--max-429: '%1' is not a count").arg(*v);
            } else if (arg == QLatin1String("--json")) {
                a.jsonFile = *v;
            } else {
                const auto d = parseDuration(*v);
                if (!d || d->count() < 1)
                    return QStringLiteral("%1: '%2' is not a duration like 500ms, 30s or 1m")
                        .arg(arg, *v);
                (arg == QLatin1String("--ack-timeout") ? a.definition.thresholds.ackTimeout
                                                       : a.definition.thresholds.ackP99)
                    = *d;
            }
            continue;
        }
        if (arg == QLatin1String("--fail-fast") && !hasValue) {
            a.definition.failFast = true;
        } else if (arg == QLatin1String("--inline-leads") && !hasValue) {
            a.definition.inlineLeads = true;
        } else if (arg == QLatin1String("--live") && !hasValue) {
            a.live = true;
        } else if (arg == QLatin1String("--verbose") && !hasValue) {
            a.verbose = true;
        } else if (arg == QLatin1String("--verify") && !hasValue) {
            a.verify = true;
        } else if (arg == QLatin1String("--cleanup") && !hasValue) {
            a.cleanup = true;
        } else {
            listenGiven = listenGiven || arg == QLatin1String("--listen");
            a.serveArgs.append(args[i]);
        }
    }
    if (leads < 0) {
        bool numeric = false;
        leads = a.definition.stage.toInt(&numeric);
        if (!numeric)
            return QStringLiteral("say how many leads: --leads N (or a numeric --stage)");
    }
    a.definition.leads = leads;
    if (a.definition.stage.isEmpty())
        a.definition.stage = QString::number(leads);
    if (a.definition.campaign.isEmpty())
        a.definition.campaign = QStringLiteral("TimeoutTest") + a.definition.timestamp;
    if (!listenGiven)
        a.serveArgs << QStringLiteral("--listen") << QStringLiteral("127.0.0.1:0");
    if (auto problem = a.definition.problem())
        return *problem;
    return a;
}

} // namespace

int runLoadTestCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (args.contains(QStringLiteral("--help")) || args.contains(QStringLiteral("-h"))) {
        out << kLoadtestHelp;
        return 0;
    }
    const auto parsed = parseArgs(args.mid(1));
    if (!parsed.ok()) {
        err << "sluice loadtest: " << parsed.error() << "\n";
        return 2;
    }
    LoadTestArgs a = parsed.value();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (!a.live && !a.serveArgs.contains(QStringLiteral("--namespace"))
        && !env.contains(QStringLiteral("SLUICE_NAMESPACE")))
        env.insert(QStringLiteral("SLUICE_NAMESPACE"), QStringLiteral("sandbox"));
    if (!a.live)
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sandbox"));
    const auto serve = parseServeOptions(a.serveArgs, env);
    if (!serve.ok()) {
        err << "sluice loadtest: " << serve.error() << "\n";
        return 2;
    }
    installLogHandler(LogStyle::Text);
    if (!a.verbose)
        QLoggingCategory::setFilterRules(QStringLiteral("*.info=false\n*.debug=false"));
    if (a.live && serve->instantlyApiKey.isEmpty()) {
        err << "sluice loadtest: --live needs INSTANTLY_API_KEY\n";
        return 2;
    }

    LocalEngineOptions options;
    options.serve = serve.value();
    // With a target, that target's engine delivers; this process only fires and follows.
    options.listen = a.definition.target.isEmpty();
    options.deliver = a.definition.target.isEmpty();
    options.sandbox = !a.live;
    options.dataDir = options.serve.dataDir.isEmpty() ? defaultDataDir() : options.serve.dataDir;
    LocalEngine engine(options);
    if (auto problem = engine.start()) {
        err << "sluice loadtest: " << *problem << "\n";
        return 1;
    }
    a.definition.mode = deliveryModeName(options.serve.dispatcher.mode);
    if (a.live && !a.definition.inlineLeads) {
        a.definition.inlineLeads = true;
        out << liveInlineLeadsNote() << Qt::endl;
    }
    RunSessionServices services = engine.runSessionServices();
    if (!a.definition.target.isEmpty())
        services.run.seedCloseLeads = nullptr; // the target's Close is not ours to fill

    RunSession session(services);
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    qint64 lastLine = -10'000;
    bool predicted = false;
    bool lineOpen = false; // a tty progress line waits for its line end
    RunRecord::State step = RunRecord::State::Created;
    QObject::connect(&session, &RunSession::progressChanged, &session, [&](const RunProgress &p) {
        if (p.state == RunRecord::State::Verifying || p.state == RunRecord::State::CleaningUp) {
            if (p.state != step) {
                step = p.state;
                if (std::exchange(lineOpen, false))
                    out << '\n';
                out << formatStepLine(p.state) << Qt::endl;
            }
            return;
        }
        if (!predicted && p.run.predictedMs > 0) {
            predicted = true;
            out << formatPrediction(p.run.predictedMs, engine.loadTestServices().effectivePerSecond)
                << Qt::endl;
        }
        if (!tty && p.run.elapsedMs - lastLine < 2000)
            return;
        lastLine = p.run.elapsedMs;
        const QString line = formatProgressLine(p.run);
        if (tty) {
            out << '\r' << line.leftJustified(78) << Qt::flush;
            lineOpen = true;
        } else {
            out << line << Qt::endl;
        }
    });
    std::optional<RunOutcome> outcome;
    QObject::connect(&session, &RunSession::finished, &session, [&](const RunOutcome &o) {
        outcome = o;
        QCoreApplication::quit();
    });
    RunSteps steps;
    steps.verify = a.verify;
    steps.cleanup = a.cleanup;
    if (auto problem = session.start(a.definition, steps)) {
        err << "sluice loadtest: " << *problem << "\n";
        return 2;
    }
    out << formatRunStart(a.definition,
                          a.definition.target.isEmpty() ? engine.listenerUrl().toString()
                                                        : a.definition.target.toString(),
                          a.live)
        << Qt::endl;
    quitOnTerminationSignals();
    QCoreApplication::exec();
    if (!outcome) {
        // Interrupted: stop sending and waiting, then clean up (when asked), judge and save
        // what the run did.
        session.abort(QStringLiteral("interrupted"));
        QCoreApplication::exec();
    }
    if (lineOpen)
        out << '\n';
    if (!outcome) {
        err << "sluice loadtest: interrupted again; the run was not saved in the ledger\n";
        engine.stop();
        return 1;
    }

    const RunRecord &r = outcome->record;
    out << formatRunSummary(r);
    if (outcome->saved)
        out << formatSavedLine(r.definition.id, options.serve.dispatcher.keyNamespace);
    else if (outcome->saveError)
        err << "sluice loadtest: " << formatNotSaved(*outcome->saveError) << "\n";
    if (!a.jsonFile.isEmpty()) {
        QFile file(a.jsonFile);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)
            || file.write(QByteArray::fromStdString(toJson(r).dump(2)) + '\n') < 0) {
            err << "sluice loadtest: cannot write " << a.jsonFile << ": " << file.errorString()
                << "\n";
            engine.stop();
            return 1;
        }
        out << formatRecordWritten(a.jsonFile);
    }
    out.flush();
    engine.stop(std::chrono::seconds { 10 });
    return r.passed ? 0 : 1;
}
