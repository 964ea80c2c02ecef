#pragma once

#include <QStringList>

/// Each subcommand of the `sluice` binary. `args` starts with the program name followed by the
/// subcommand's own arguments. Returns the process exit code.
int runSandboxCommand(const QStringList &args);
int runDemoCommand(const QStringList &args);
enum class ServeRole { Listener, Worker };
/// `sluice serve` (listener + dispatchers) or `sluice worker` (dispatchers only).
int runServeCommand(const QStringList &args, ServeRole role);
/// `sluice loadtest`: a load test with a verdict (exit 0 on pass, 1 on fail).
int runLoadTestCommand(const QStringList &args);
/// `sluice` with no command, or `sluice gui`: the console (needs a display).
int runGuiCommand(int &argc, char **argv, const QStringList &args);
/// `sluice verify --run ID [--repair]` or `sluice cleanup --run ID [--dry-run]`.
int runRunCheckCommand(const QStringList &args, const QString &command);
/// `sluice retry --dead [--reason CODE | --id ENTRY...]`
int runRetryCommand(const QStringList &args);
/// `sluice dead list|discard`: the dead letters by reason, and discarding them with a trace.
int runDeadCommand(const QStringList &args);
/// `sluice pause --why TEXT` and `sluice resume`: the fleet's dispatching.
int runPauseCommand(const QStringList &args);
int runResumeCommand(const QStringList &args);
/// `sluice status [--json]`: the fleet's queue, forecasts and firing alerts, from Redis.
int runStatusCommand(const QStringList &args);
/// `sluice runs [show|export|compare|delete]`: the load-test run ledger.
int runRunsCommand(const QStringList &args);

/// `sluice backfill --since TIME [--yes] [--json]`: queue Close tasks whose webhooks were lost.
int runBackfillCommand(const QStringList &args);

/// `sluice lead QUERY`: a lead's timelines from the lead journal.
int runLeadCommand(const QStringList &args);

/// Makes SIGINT and SIGTERM quit the running QCoreApplication cleanly (through the event loop,
/// not from inside the signal handler).
void quitOnTerminationSignals();
