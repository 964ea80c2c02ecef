// `sluice verify --run ID [--repair]` and `sluice cleanup --run ID [--dry-run]`: a run from the
// ledger checked against (or removed from) the Instantly it was sent to.
#include "await.h"
#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "delivery/localengine.h"
#include "runs/cleaner.h"
#include "runs/loadtest.h"
#include "runs/runledger.h"
#include "runs/verifier.h"

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
    RunRecord record = loaded.value();
    if (record.embeddedSandbox) {
        err << "sluice " << command << ": run " << runId
            << " went to the sandbox embedded in the process that ran it, and its leads ended "
               "with that process. Use `sluice loadtest --verify --cleanup`, or run the test "
               "against a `sluice sandbox` with --instantly-url.\n";
        return 1;
    }
    if (!haveKey) {
        err << "sluice " << command << ": INSTANTLY_API_KEY is not set\n";
        return 2;
    }
    if (!record.instantlyUrl.isEmpty() && QUrl(record.instantlyUrl) != options.serve.instantlyUrl) {
        err << "sluice " << command << ": run " << runId << " went to " << record.instantlyUrl
            << ", not " << options.serve.instantlyUrl.toString() << "; give --instantly-url "
            << record.instantlyUrl << "\n";
        return 2;
    }

    int code = 0;
    if (verify) {
        Verifier verifier(engine.instantly());
        verifier.setJournal(engine.journal());
        const VerifyReport report = await<VerifyReport>([&](auto done) {
            QObject::connect(&verifier, &Verifier::finished, &verifier, done);
            std::optional<RepairTarget> target;
            if (repair)
                target = RepairTarget { engine.redis(), engine.keys() };
            verifier.start(record.definition, target);
        });
        record.verify = report;
        out << QStringLiteral("run %1, campaign '%2': %3 listed, %4 present, %5 missing, %6 "
                              "duplicated, %7 extra\n")
                   .arg(runId, record.definition.campaign)
                   .arg(report.listed)
                   .arg(report.present)
                   .arg(report.missing.size())
                   .arg(report.duplicated.size())
                   .arg(report.extra.size());
        for (const QString &e : report.missing)
            out << "  missing     " << e << "\n";
        for (const QString &e : report.duplicated)
            out << "  duplicated  " << e << "\n";
        if (report.repaired > 0)
            out << "  queued again: " << report.repaired
                << " (a running serve or worker delivers them; verify again after)\n";
        if (!report.error.isEmpty())
            err << "sluice verify: " << report.error << "\n";
        code = report.clean() ? 0 : 1;
    } else {
        Cleaner cleaner(engine.instantly());
        cleaner.setJournal(engine.journal());
        const CleanupReport report = await<CleanupReport>([&](auto done) {
            QObject::connect(&cleaner, &Cleaner::finished, &cleaner, done);
            cleaner.start(record, dryRun ? CleanupMode::DryRun : CleanupMode::Delete);
        });
        out << QStringLiteral("run %1, campaign '%2': %3 of the run's leads found%4, %5 "
                              "remaining\n")
                   .arg(runId, record.definition.campaign)
                   .arg(report.found)
                   .arg(dryRun ? QStringLiteral(" (dry run: nothing deleted)")
                               : QStringLiteral(", %1 deleted").arg(report.deleted))
                   .arg(report.remaining);
        if (!report.campaignNote.isEmpty())
            out << "  campaign: " << report.campaignNote << "\n";
        if (!report.error.isEmpty())
            err << "sluice cleanup: " << report.error << "\n";
        if (!dryRun)
            record.cleanup = report;
        code = report.error.isEmpty() && (dryRun || report.remaining == 0) ? 0 : 1;
    }
    judgeRecord(record);
    const auto saved
        = await<Result<RunSaveOutcome, LedgerError>>([&](auto done) { ledger.save(record, done); });
    if (!saved.ok()) {
        err << "sluice " << command << ": the result was not saved: " << saved.error().describe()
            << "\n";
        code = 1;
    }
    out.flush();
    engine.stop();
    return code;
}
