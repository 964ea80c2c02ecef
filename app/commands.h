#pragma once

#include <QStringList>

/// Each subcommand of the `sluice` binary. `args` starts with the program name followed by the
/// subcommand's own arguments. Returns the process exit code.
int runSandboxCommand(const QStringList &args);
int runDemoCommand(const QStringList &args);
enum class ServeRole { Listener, Worker };
/// `sluice serve` (listener + dispatchers) or `sluice worker` (dispatchers only).
int runServeCommand(const QStringList &args, ServeRole role);
/// `sluice retry --dead`
int runRetryCommand(const QStringList &args);
/// `sluice runs [show|export|compare|delete]`: the load-test run ledger.
int runRunsCommand(const QStringList &args);

/// Makes SIGINT and SIGTERM quit the running QCoreApplication cleanly (through the event loop,
/// not from inside the signal handler).
void quitOnTerminationSignals();
