// `sluice verify --run ID [--repair]` and `sluice cleanup --run ID [--dry-run]`: a run from the
// ledger checked against (or removed from) the Instantly it was sent to.
#include "await.h"
#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "local/localengine.h"
#include "runs/runledger.h"
#include "runs/runreport.h"
#include "runs/runsession.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QTextStream>

using namespace sluice;

namespace {

/// `verify` or `cleanup`: --run, its own switch, and the worker's flags (the Redis, the
/// Instantly URL and budget the check goes through).
FlagTable runCheckFlags(bool verify)
{
    FlagTable table(
        verify ? QStringLiteral("verify") : QStringLiteral("cleanup"),
        verify ? QStringLiteral("sluice verify --run ID [--repair] [serve options]")
               : QStringLiteral("sluice cleanup --run ID [--dry-run] [serve options]"),
        verify ? QStringLiteral(
            "Lists the run's campaign in Instantly (through the shared limiter and breaker) and\n"
            "classifies every lead of the run: present, missing, duplicated; and any extra lead "
            "in\nthe campaign. --repair queues the missing leads again (a running `sluice serve` "
            "or\n`sluice worker` delivers them). The result is saved in the run's ledger record.")
               : QStringLiteral(
                   "Deletes the run's leads from its campaign (by id, in bulk), lists again and "
                   "reports how\nmany remain (must be 0), and deletes the campaign when the run "
                   "created it and nothing\nelse is in it. --dry-run only shows what would go."));
    table.add(FlagSpec::option(QStringLiteral("run"), FlagType::Text, QStringLiteral("ID"),
                               QStringLiteral("the run, as `sluice runs` lists it (required)")));
    if (verify)
        table.add(FlagSpec::toggle(QStringLiteral("repair"),
                                   QStringLiteral("queue the missing leads again")));
    else
        table.add(FlagSpec::toggle(QStringLiteral("dry-run"),
                                   QStringLiteral("only show what would be deleted")));
    table.add(serveFlagSpecs(true));
    table.setFooter(
        verify ? QStringLiteral("Exit status: 0 every lead is there exactly once; 1 not, or "
                                "Instantly or Redis failed; 2 bad usage.\n")
               : QStringLiteral("Exit status: 0 none remain; 1 some remain, or Instantly or "
                                "Redis failed; 2 bad usage.\n"));
    return table;
}

} // namespace

int runRunCheckCommand(const QStringList &args, const QString &command)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const bool verify = command == QLatin1String("verify");
    const FlagTable flags = runCheckFlags(verify);
    const auto values = flags.parse(args.mid(1), QProcessEnvironment::systemEnvironment());
    if (values.ok() && values->helpRequested()) {
        out << flags.helpText();
        return 0;
    }
    const auto parsed = values.ok() ? serveOptionsFrom(values.value(), true)
                                    : Result<ServeOptions, QString>(values.error());
    if (!parsed.ok()) {
        err << "sluice " << command << ": " << parsed.error() << "\n";
        return 2;
    }
    const QString runId = values->text(QStringLiteral("run")).trimmed();
    if (runId.isEmpty()) {
        err << "sluice " << command << ": say which run: --run ID (`sluice runs` lists them)\n";
        return 2;
    }
    const bool repair = verify && values->isOn(QStringLiteral("repair"));
    const bool dryRun = !verify && values->isOn(QStringLiteral("dry-run"));
    installLogHandler(LogStyle::Text);
    QLoggingCategory::setFilterRules(QStringLiteral("*.info=false"));

    ServeOptions o = parsed.value();
    LocalEngineOptions options;
    options.serve = o;
    options.listen = false;
    options.deliver = false;
    options.dataDir = o.dataDir.isEmpty() ? defaultDataDir() : o.dataDir;
    // The key is only needed once the run is known; a placeholder lets the engine start.
    const bool haveKey = !options.serve.instantlyApiKey.isEmpty();
    if (!haveKey)
        options.serve.instantlyApiKey = QStringLiteral("unset");
    LocalEngine engine(options);
    if (auto problem = engine.start()) {
        err << "sluice " << command << ": " << *problem << "\n";
        return 1;
    }
    RunLedger ledger(engine.redis(), engine.keys());
    auto loaded
        = await<Result<RunRecord, LedgerError>>([&](auto done) { ledger.load(runId, done); });
    if (!loaded.ok()) {
        err << "sluice " << command << ": " << loaded.error().describe() << "\n";
        return 1;
    }
    const RunRecord record = loaded.value();
    const auto refusal = recheckRefusal(record, options.serve.instantlyUrl);
    if (refusal && refusal->kind == RecheckRefusal::Kind::LeadsGone) {
        err << "sluice " << command << ": " << refusal->message << "\n";
        return 1;
    }
    if (!haveKey) {
        err << "sluice " << command << ": INSTANTLY_API_KEY is not set\n";
        return 2;
    }
    if (refusal) {
        err << "sluice " << command << ": " << refusal->message << "\n";
        return 2;
    }

    RunSession session(engine.runSessionServices());
    const RunOutcome outcome = await<RunOutcome>([&](auto done) {
        QObject::connect(&session, &RunSession::finished, &session, done);
        if (verify)
            session.verify(record, repair);
        else
            session.cleanUp(record, dryRun ? CleanupMode::DryRun : CleanupMode::Delete);
    });
    int code = 0;
    if (verify) {
        const VerifyReport &report = *outcome.verified;
        out << formatVerifyResult(record, report);
        if (!report.error.isEmpty())
            err << "sluice verify: " << report.error << "\n";
        code = report.clean() ? 0 : 1;
    } else {
        const CleanupReport &report = *outcome.cleaned;
        out << formatCleanupResult(record, report);
        if (!report.error.isEmpty())
            err << "sluice cleanup: " << report.error << "\n";
        code = report.error.isEmpty() && (dryRun || report.remaining == 0) ? 0 : 1;
    }
    if (outcome.saveError) {
        err << "sluice " << command << ": " << formatResultNotSaved(*outcome.saveError) << "\n";
        code = 1;
    }
    out.flush();
    engine.stop();
    return code;
}
