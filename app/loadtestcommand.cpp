// `sluice loadtest`: one load test from the shell, with live progress and a verdict.
#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "core/clock.h"
#include "core/jsontext.h"
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

#include <cstdio>
#include <unistd.h>
#include <utility>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

FlagSpec loadtestOption(const char *name, FlagType type, const char *value, const char *help)
{
    return FlagSpec::option(QLatin1String(name), type, QLatin1String(value), QLatin1String(help));
}

/// The load test's own flags; every serve flag is taken as well (loadtestFlags()).
FlagTable loadtestOwnFlags()
{
    FlagTable table(
        QStringLiteral("loadtest"),
        QStringLiteral("sluice loadtest --leads N [options] [serve options]"),
        QStringLiteral(
            "Fires N Close-format webhooks at a listener (50 at a time, 30 s client timeout, as\n"
            "Close and Heroku would), follows every lead until Instantly has it, and judges the "
            "run:\n"
            "every webhook acknowledged in time, p99 acknowledgement, every lead delivered, the "
            "send\n"
            "log within the caps, 429s. Exit code 0 when the run passes, 1 when it fails.\n\n"
            "Without --live everything runs in this process against the embedded sandbox (the "
            "fake\n"
            "Instantly and Close, with the real limits) and a private Redis: no set-up needed.\n\n"
            "The webhooks are shaped as Close sends them: the task and its lead id, never the "
            "lead. "
            "The\nrun's leads are put in the sandbox's Close first, so each one is looked up as in "
            "production."));
    table.add({
        loadtestOption("leads", FlagType::Int, "N", "leads in the run (or give a numeric --stage)")
            .withRange(1, 100'000),
        loadtestOption("stage", FlagType::Text, "NAME",
                       "stage label: 20, 200, 500, 1000, 2000 or any name"),
        loadtestOption("target", FlagType::Text, "URL",
                       "POST the webhooks here instead of this process's own listener"),
        loadtestOption("campaign", FlagType::Text, "NAME", "Instantly campaign")
            .withDefaultNote(QStringLiteral("TimeoutTest<timestamp>, created if missing")),
        loadtestOption("email-pattern", FlagType::Text, "P",
                       "lead addresses, with {i} and {timestamp}")
            .withDefaultNote(QStringLiteral("lance+{timestamp}+{i}@whiteboardgeeks.com")),
        loadtestOption("concurrency", FlagType::Int, "N", "webhooks in flight at once")
            .withDefaultNote(QStringLiteral("50")),
        loadtestOption("ack-timeout", FlagType::Duration, "D", "client timeout per webhook")
            .withDurationRange(milliseconds { 1 }, std::chrono::hours { 24 * 365 })
            .withDefaultNote(QStringLiteral("30s, the Heroku router's cut")),
        loadtestOption("ack-p99", FlagType::Duration, "D",
                       "the p99 acknowledgement must stay under this")
            .withDurationRange(milliseconds { 1 }, std::chrono::hours { 24 * 365 })
            .withDefaultNote(QStringLiteral("1s")),
        loadtestOption("max-429", FlagType::Int, "N", "429s upstream may serve during the run")
            .withRange(0, 1e9)
            .withDefaultNote(QStringLiteral("0")),
        FlagSpec::toggle(QStringLiteral("fail-fast"),
                         QStringLiteral("stop sending at the first timeout or non-2xx answer")),
        FlagSpec::toggle(QStringLiteral("inline-leads"),
                         QStringLiteral("put each lead in its webhook (a test convenience Close "
                                        "never does; implied by --live, whose Close holds no test "
                                        "leads, and needed with --target, whose Close this run "
                                        "cannot fill)")),
        FlagSpec::toggle(
            QStringLiteral("verify"),
            QStringLiteral("afterwards, list the campaign in Instantly and check every "
                           "lead is there exactly once (through the same limiter and "
                           "breaker)")),
        FlagSpec::toggle(QStringLiteral("cleanup"),
                         QStringLiteral("afterwards, delete the run's leads (and its campaign when "
                                        "the run made it) and check none remain")),
        loadtestOption("json", FlagType::Text, "FILE", "write the run record as JSON"),
        FlagSpec::toggle(QStringLiteral("live"),
                         QStringLiteral("use the real Instantly (INSTANTLY_API_KEY) instead of the "
                                        "sandbox")),
        FlagSpec::toggle(QStringLiteral("verbose"), QStringLiteral("log what the engine does")),
    });
    table.setFooter(QStringLiteral("Every `sluice serve` option applies too (--redis, --rate, "
                                   "--burst-rate, --single, ...).\n"));
    return table;
}

/// Its own flags and serve's; its listener is on a free loopback port unless --listen says.
FlagTable loadtestFlags()
{
    FlagTable table = loadtestOwnFlags();
    for (FlagSpec spec : serveFlagSpecs(false)) {
        if (spec.name == QLatin1String("listen")) {
            spec.env.clear(); // SLUICE_LISTEN is for serve, not for a load test's own listener
            spec.defaultValue = QStringLiteral("127.0.0.1:0");
        }
        table.add(spec);
    }
    return table;
}

struct LoadTestArgs
{
    RunDefinition definition;
    bool live = false;
    bool verbose = false;
    bool verify = false;
    bool cleanup = false;
    QString jsonFile;
};

Result<LoadTestArgs, QString> loadTestArgsFrom(const FlagValues &v)
{
    LoadTestArgs a;
    const qint64 now = wallClockMs();
    a.definition.id = newRunId(now);
    a.definition.timestamp = QString::number(now / 1000);
    const auto given = [&](const char *name) { return v.given(QLatin1String(name)); };
    const auto text = [&](const char *name) { return v.text(QLatin1String(name)); };
    a.definition.stage = text("stage");
    if (given("target"))
        a.definition.target = QUrl(text("target"), QUrl::StrictMode);
    a.definition.campaign = text("campaign");
    if (given("email-pattern"))
        a.definition.leadTemplate.emailPattern = text("email-pattern");
    if (given("concurrency"))
        a.definition.concurrency = int(v.integer(QStringLiteral("concurrency")));
    if (given("max-429"))
        a.definition.thresholds.max429 = int(v.integer(QStringLiteral("max-429")));
    if (given("ack-timeout"))
        a.definition.thresholds.ackTimeout = v.duration(QStringLiteral("ack-timeout"));
    if (given("ack-p99"))
        a.definition.thresholds.ackP99 = v.duration(QStringLiteral("ack-p99"));
    a.definition.failFast = v.isOn(QStringLiteral("fail-fast"));
    a.definition.inlineLeads = v.isOn(QStringLiteral("inline-leads"));
    a.live = v.isOn(QStringLiteral("live"));
    a.verbose = v.isOn(QStringLiteral("verbose"));
    a.verify = v.isOn(QStringLiteral("verify"));
    a.cleanup = v.isOn(QStringLiteral("cleanup"));
    a.jsonFile = text("json");
    int leads = int(v.integer(QStringLiteral("leads")));
    if (!given("leads")) {
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
    if (auto problem = a.definition.problem())
        return *problem;
    return a;
}

} // namespace

int runLoadTestCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    auto flags = loadtestFlags().parse(args.mid(1), env);
    if (flags.ok() && flags->helpRequested()) {
        out << loadtestOwnFlags().helpText();
        return 0;
    }
    const auto parsed = flags.ok() ? loadTestArgsFrom(flags.value())
                                   : Result<LoadTestArgs, QString>(flags.error());
    if (!parsed.ok()) {
        err << "sluice loadtest: " << parsed.error() << "\n";
        return 2;
    }
    LoadTestArgs a = parsed.value();
    FlagValues values = flags.value();
    if (!a.live) {
        values.setFallback(QStringLiteral("namespace"), QStringLiteral("sandbox"));
        values.setFallback(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sandbox"));
    }
    const auto serve = serveOptionsFrom(values);
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
            || file.write(jsonBytes(toJson(r), 2) + '\n') < 0) {
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
