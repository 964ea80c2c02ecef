#pragma once

#include <QtGlobal>

namespace sluice::bench {

/// Peak resident set (VmHWM) and CPU seconds (utime + stime) of a process, from /proc.
struct ProcessUsage
{
    bool ok = false;
    double peakRssMiB = 0;
    double cpuSeconds = 0;
};

/// `ok` is false when `pid` is not positive or /proc has no such process.
ProcessUsage processUsage(qint64 pid);

} // namespace sluice::bench
