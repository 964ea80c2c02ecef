#pragma once

// Load-test runs for tests: a definition with a fresh id, and running one to its end.
#include "core/clock.h"
#include "runs/loadtest.h"
#include "runs/run.h"

#include <QSignalSpy>

namespace sluice::test {

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
