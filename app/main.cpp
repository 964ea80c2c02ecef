// The `sluice` binary: picks a subcommand; everything else lives in the engine and the UI.
#include "commands.h"

#include <QCoreApplication>
#include <QTextStream>

namespace {

const char kUsage[] = R"(Usage: sluice <command> [options]

Sluice takes Close CRM webhooks and delivers the leads to Instantly campaigns,
within Instantly's rate limits, without losing or duplicating a lead.

Commands:
  gui         The operator console (the default): live charts, load tests.
  sandbox     Run the fake Instantly v2 and Close APIs on loopback (rate limits,
              fault injection, request log, control API under /_sandbox/).
  demo        Exercise the Instantly client against a sandbox (embedded, or the
              one at --instantly-url) and print what each call did.
  serve       Headless: the webhook listener and the dispatchers.
  worker      Headless: dispatchers only (scale out against one Redis).
  dead        `sluice dead list [--reason CODE]`: dead letters per reason, with
              what to do about each; `sluice dead discard ... --why TEXT --yes`
              drops some for good (kept in a trace, with who and why).
  retry       `sluice retry --dead [--reason CODE | --id ENTRY]`: requeue
              dead-lettered leads.
  pause       `sluice pause --why TEXT`: stop the fleet's dispatching.
  resume      `sluice resume`: let the fleet dispatch again.
  status      `sluice status`: the queue, each instance's forecast and the
              alerts firing now, read from Redis.
  loadtest    Fire N webhooks, follow every lead into Instantly, judge the run
              (in-process against the sandbox unless --live).
  verify      `sluice verify --run ID [--repair]`: check a run's leads in Instantly.
  cleanup     `sluice cleanup --run ID [--dry-run]`: delete a run's leads.
  runs        The load-test run ledger: list runs, show one, export them as
              JSON or CSV, compare two, delete one (`sluice runs --help`).
  lead        `sluice lead EMAIL|TASK`: a lead's timeline, from the webhook to
              Instantly (every attempt, retry, verify and clean-up).
  backfill    `sluice backfill --since TIME [--yes]`: queue the Close "Instantly:"
              tasks created since TIME that Sluice never saw (shows them first).

Options:
  -h, --help     Show this help; `sluice <command> --help` shows a command's options.
  -v, --version  Show the version.

Without a command (or with `gui`), Sluice opens the operator console in sandbox mode;
`sluice gui --help` shows its options.
)";

} // namespace

int main(int argc, char *argv[])
{
    QStringList args;
    for (int i = 0; i < argc; ++i)
        args.append(QString::fromLocal8Bit(argv[i]));
    const QString command = args.value(1);
    QStringList rest = args;
    if (rest.size() > 1)
        rest.removeAt(1);

    static const QStringList engineCommands {
        QStringLiteral("sandbox"), QStringLiteral("demo"),     QStringLiteral("serve"),
        QStringLiteral("worker"),  QStringLiteral("retry"),    QStringLiteral("loadtest"),
        QStringLiteral("runs"),    QStringLiteral("verify"),   QStringLiteral("cleanup"),
        QStringLiteral("lead"),    QStringLiteral("dead"),     QStringLiteral("pause"),
        QStringLiteral("resume"),  QStringLiteral("backfill"), QStringLiteral("status")
    };
    if (engineCommands.contains(command)) {
        QCoreApplication app(argc, argv);
        QCoreApplication::setApplicationName(QStringLiteral("sluice"));
        QCoreApplication::setApplicationVersion(QStringLiteral(SLUICE_VERSION));
        if (command == QLatin1String("sandbox"))
            return runSandboxCommand(rest);
        if (command == QLatin1String("demo"))
            return runDemoCommand(rest);
        if (command == QLatin1String("retry"))
            return runRetryCommand(rest);
        if (command == QLatin1String("dead"))
            return runDeadCommand(rest);
        if (command == QLatin1String("pause"))
            return runPauseCommand(rest);
        if (command == QLatin1String("resume"))
            return runResumeCommand(rest);
        if (command == QLatin1String("status"))
            return runStatusCommand(rest);
        if (command == QLatin1String("loadtest"))
            return runLoadTestCommand(rest);
        if (command == QLatin1String("runs"))
            return runRunsCommand(rest);
        if (command == QLatin1String("lead"))
            return runLeadCommand(rest);
        if (command == QLatin1String("backfill"))
            return runBackfillCommand(rest);
        if (command == QLatin1String("verify") || command == QLatin1String("cleanup"))
            return runRunCheckCommand(rest, command);
        return runServeCommand(
            rest, command == QLatin1String("worker") ? ServeRole::Worker : ServeRole::Listener);
    }
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (command == QLatin1String("--version") || command == QLatin1String("-v")) {
        out << "sluice " << SLUICE_VERSION << Qt::endl;
        return 0;
    }
    if (command == QLatin1String("--help") || command == QLatin1String("-h")) {
        out << kUsage;
        return 0;
    }
    if (command == QLatin1String("gui"))
        return runGuiCommand(argc, argv, rest);
    const bool helpOrVersion = command == QLatin1String("--help") || command == QLatin1String("-h")
        || command == QLatin1String("--version") || command == QLatin1String("-v");
    if (command.isEmpty() || (command.startsWith(QLatin1String("--")) && !helpOrVersion))
        return runGuiCommand(argc, argv, args); // `sluice`, `sluice --live --redis ...`
    err << "sluice: unknown command '" << command << "'\n\n" << kUsage;
    return 2;
}
