// `sluice loadtest`: one load test from the shell, with live progress and a verdict.
#include "await.h"
#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "core/clock.h"
#include "delivery/localengine.h"
#include "runs/cleaner.h"
#include "runs/loadtest.h"
#include "runs/runledger.h"
#include "runs/verifier.h"
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

VerifyReport verifyRun(LocalEngine &engine, const RunDefinition &definition)
{
    Verifier verifier(engine.instantly());
    verifier.setJournal(engine.journal());
    return await<VerifyReport>([&](auto done) {
        QObject::connect(&verifier, &Verifier::finished, &verifier, done);
        verifier.start(definition);
    });
}

CleanupReport cleanUpRun(LocalEngine &engine, const RunRecord &record)
{
    Cleaner cleaner(engine.instantly());
    cleaner.setJournal(engine.journal());
    return await<CleanupReport>([&](auto done) {
        QObject::connect(&cleaner, &Cleaner::finished, &cleaner, done);
        cleaner.start(record, CleanupMode::Delete);
    });
}

QString seconds(qint64 ms)
{
    return ms < 0 ? QStringLiteral("?")
                  : QString::number(double(ms) / 1000.0, 'f', 1) + QLatin1Char('s');
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
    a.definition.mode = options.serve.mode == ServeOptions::Mode::Single ? QStringLiteral("single")
                                                                         : QStringLiteral("bulk");
    if (a.live && !a.definition.inlineLeads) {
        a.definition.inlineLeads = true;
        out << "live: the webhooks carry their leads (--inline-leads): your Close does not hold "
               "the run's test leads"
            << Qt::endl;
    }
    LoadTestServices services = engine.loadTestServices();
    if (!a.definition.target.isEmpty())
        services.seedCloseLeads = nullptr; // the target's Close is not ours to fill

    LoadTestRun run(a.definition, services);
    if (auto problem = run.problem()) {
        err << "sluice loadtest: " << *problem << "\n";
        return 2;
    }
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    out << "run " << a.definition.id << ": " << a.definition.leads << " leads to '"
        << a.definition.campaign << "' via "
        << (a.definition.target.isEmpty() ? engine.listenerUrl().toString()
                                          : a.definition.target.toString())
        << (a.live ? " (LIVE Instantly)" : " (sandbox)") << ", " << a.definition.mode << " mode, "
        << a.definition.concurrency << " concurrent" << Qt::endl;
    qint64 lastLine = -10'000;
    bool predicted = false;
    QObject::connect(&run, &LoadTestRun::progressChanged, &run, [&](const LoadTestProgress &p) {
        if (!predicted && run.record().predictedMs > 0) {
            predicted = true;
            out << "predicted duration: " << seconds(run.record().predictedMs) << " at "
                << QString::number(engine.loadTestServices().effectivePerSecond, 'f', 1)
                << " requests/s" << Qt::endl;
        }
        if (!tty && p.elapsedMs - lastLine < 2000)
            return;
        lastLine = p.elapsedMs;
        const int percent = p.total > 0 ? 100 * p.settled / p.total : 0;
        const QString line = QStringLiteral("[%1%] %2 sent %3/%4, delivered %5, %6 leads/s, ETA %7")
                                 .arg(percent, 3)
                                 .arg(RunRecord::stateName(p.state), -10)
                                 .arg(p.sent)
                                 .arg(p.total)
                                 .arg(p.delivered)
                                 .arg(p.drainPerSecond, 0, 'f', 1)
                                 .arg(seconds(p.etaMs));
        if (tty)
            out << '\r' << line.leftJustified(78) << Qt::flush;
        else
            out << line << Qt::endl;
    });
    QObject::connect(&run, &LoadTestRun::finished, &run, [] { QCoreApplication::quit(); });
    quitOnTerminationSignals();
    run.start();
    QCoreApplication::exec();
    if (!run.isDone())
        run.abort(QStringLiteral("interrupted"));
    if (tty)
        out << '\n';

    RunRecord r = run.record();
    const bool observable = run.progress().deliveryObservable;
    if (a.verify && r.stopReason.isEmpty()) {
        out << "verifying in Instantly..." << Qt::endl;
        r.state = RunRecord::State::Verifying;
        r.verify = verifyRun(engine, r.definition);
    }
    if (a.cleanup) {
        out << "cleaning up..." << Qt::endl;
        r.state = RunRecord::State::CleaningUp;
        r.cleanup = cleanUpRun(engine, r);
    }
    r.state = r.stopReason.isEmpty() ? RunRecord::State::Finished : RunRecord::State::Aborted;
    r.instantlyUrl = options.serve.instantlyUrl.toString();
    r.embeddedSandbox = options.sandbox;
    judgeRecord(r, observable);
    RunLedger ledger(engine.redis(), engine.keys());
    const auto saved
        = await<Result<RunSaveOutcome, LedgerError>>([&](auto done) { ledger.save(r, done); });
    out << "\nrun " << r.definition.id << ": " << (r.passed ? "PASS" : "FAIL") << "\n";
    out << QStringLiteral("  acknowledged %1/%2 in %3, %4 webhooks/s; ack p50 %5 ms, p99 %6 ms, "
                          "max %7 ms\n")
               .arg(r.acknowledged)
               .arg(r.definition.leads)
               .arg(seconds(r.lastAckMs - r.firstSentMs))
               .arg(r.acceptedPerSecond, 0, 'f', 0)
               .arg(double(r.ack.p50) / 1000.0, 0, 'f', 1)
               .arg(double(r.ack.p99) / 1000.0, 0, 'f', 1)
               .arg(double(r.ack.max) / 1000.0, 0, 'f', 1);
    out << QStringLiteral("  delivered %1 (+%2 already there) in %3 (predicted %4); %5 upstream "
                          "requests, %6 429s, %7 breaker trips\n")
               .arg(r.delivered)
               .arg(r.skipped)
               .arg(seconds(r.deliveredMs - r.firstSentMs))
               .arg(seconds(r.predictedMs))
               .arg(r.upstreamRequests)
               .arg(r.upstream429)
               .arg(r.breakerTrips);
    if (r.verify) {
        out << QStringLiteral(
                   "  verify: %1 listed, %2 present, %3 missing, %4 duplicated, %5 extra%6\n")
                   .arg(r.verify->listed)
                   .arg(r.verify->present)
                   .arg(r.verify->missing.size())
                   .arg(r.verify->duplicated.size())
                   .arg(r.verify->extra.size())
                   .arg(r.verify->error.isEmpty() ? QString()
                                                  : QStringLiteral(" (%1)").arg(r.verify->error));
    }
    if (r.cleanup) {
        out << QStringLiteral("  cleanup: %1 found, %2 deleted, %3 remaining%4%5\n")
                   .arg(r.cleanup->found)
                   .arg(r.cleanup->deleted)
                   .arg(r.cleanup->remaining)
                   .arg(r.cleanup->campaignNote.isEmpty()
                            ? QString()
                            : QStringLiteral("; campaign ") + r.cleanup->campaignNote)
                   .arg(r.cleanup->error.isEmpty() ? QString()
                                                   : QStringLiteral(" (%1)").arg(r.cleanup->error));
    }
    for (const RunCheck &c : r.checks)
        out << "  " << (c.passed ? "PASS " : "FAIL ") << c.name << ": " << c.detail << "\n";
    if (saved.ok())
        out << "  saved in the run ledger: sluice runs show " << r.definition.id
            << (options.serve.ns == QLatin1String("default")
                    ? QString()
                    : QStringLiteral(" --namespace ") + options.serve.ns)
            << "\n";
    else
        err << "sluice loadtest: the run was not saved in the ledger: " << saved.error().describe()
            << "\n";
    if (!a.jsonFile.isEmpty()) {
        QFile file(a.jsonFile);
        if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)
            || file.write(QByteArray::fromStdString(toJson(r).dump(2)) + '\n') < 0) {
            err << "sluice loadtest: cannot write " << a.jsonFile << ": " << file.errorString()
                << "\n";
            engine.stop();
            return 1;
        }
        out << "  record written to " << a.jsonFile << "\n";
    }
    out.flush();
    engine.stop(std::chrono::seconds { 10 });
    return r.passed ? 0 : 1;
}
