#pragma once

// Load-test runs for tests: the engine they run on (embedded sandbox, a test's redis-server),
// a definition with a fresh id, and running one to its end.
#include "core/clock.h"
#include "local/localengine.h"
#include "runs/loadtest.h"
#include "runs/run.h"

#include <QSignalSpy>

namespace sluice::test {

/// A LocalEngine on `redisUrl` with the embedded sandbox (and its own signature key), the
/// listener on a free port and a 50 ms coalescing window, so runs finish quickly.
inline LocalEngineOptions sandboxEngineOptions(const QString &redisUrl, const QString &ns,
                                               const QString &dataDir)
{
    LocalEngineOptions options;
    options.serve.redisUrl = redisUrl;
    options.serve.dispatcher.keyNamespace = ns;
    options.serve.listenPort = 0;
    options.serve.dispatcher.coalescingWindow = std::chrono::milliseconds { 50 };
    options.sandbox = true;
    options.dataDir = dataDir;
    return options;
}

inline RunDefinition runDefinition(int leads, const QString &campaign, int concurrency = 10)
{
    RunDefinition d;
    d.id = newRunId(wallClockMs());
    d.timestamp = QString::number(wallClockMs());
    d.leads = leads;
    d.stage = QString::number(leads);
    d.campaign = campaign;
    d.concurrency = concurrency;
    return d;
}

/// Starts `run` and waits for finished(); false when it did not finish in time.
inline bool runToEnd(LoadTestRun &run, int timeoutMs = 60'000)
{
    QSignalSpy finished(&run, &LoadTestRun::finished);
    run.start();
    return finished.wait(timeoutMs);
}

} // namespace sluice::test
