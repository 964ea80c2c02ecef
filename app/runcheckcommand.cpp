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

const char kVerifyHelp[] = R"(Usage: sluice verify --run ID [--repair] [serve options]

Lists the run's campaign in Instantly (through the shared limiter and breaker) and
classifies every lead of the run: present, missing, duplicated; and any extra lead in
the campaign. --repair queues the missing leads again (a running `sluice serve` or
`sluice worker` delivers them). The result is saved in the run's ledger record.
Exit code 0 when every lead is there exactly once.
)";

const char kCleanupHelp[] = R"(Usage: sluice cleanup --run ID [--dry-run] [serve options]

Deletes the run's leads from its campaign (by id, in bulk), lists again and reports how
many remain (must be 0), and deletes the campaign when the run created it and nothing
else is in it. --dry-run only shows what would go. Exit code 0 when none remain.
)";

} // namespace

int runRunCheckCommand(const QStringList &args, const QString &command)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const bool verify = command == QLatin1String("verify");
    if (args.contains(QStringLiteral("--help")) || args.contains(QStringLiteral("-h"))) {
        out << (verify ? kVerifyHelp : kCleanupHelp);
        return 0;
    }
    QStringList rest = args.mid(1);
    QString runId;
    const qsizetype at = rest.indexOf(QStringLiteral("--run"));
    if (at >= 0 && at + 1 < rest.size()) {
        runId = rest.at(at + 1);
        rest.remove(at, 2);
    }
    const bool repair = verify && rest.removeAll(QStringLiteral("--repair")) > 0;
    const bool dryRun = !verify && rest.removeAll(QStringLiteral("--dry-run")) > 0;
    if (runId.isEmpty()) {
        err << "sluice " << command << ": say which run: --run ID (`sluice runs` lists them)\n";
        return 2;
    }
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (!env.contains(QStringLiteral("INSTANTLY_API_KEY")))
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QString()); // checked below, per run
    const auto parsed = parseServeOptions(rest, env, true);
    if (!parsed.ok()) {
        err << "sluice " << command << ": " << parsed.error() << "\n";
        return 2;
    }
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
