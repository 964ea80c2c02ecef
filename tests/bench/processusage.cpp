#include "processusage.h"

#include <QByteArray>
#include <QFile>
#include <QList>
#include <QString>

#include <unistd.h>

namespace sluice::bench {

ProcessUsage processUsage(qint64 pid)
{
    ProcessUsage usage;
    if (pid <= 0)
        return usage;
    QFile status(QStringLiteral("/proc/%1/status").arg(pid));
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!status.open(QIODevice::ReadOnly) || !stat.open(QIODevice::ReadOnly))
        return usage;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmHWM:"))
            usage.peakRssMiB = line.mid(6).trimmed().split(' ').value(0).toDouble() / 1024.0;
    }
    // Fields after the command name (which may hold spaces): state is field 3, utime 14,
    // stime 15.
    const QByteArray text = stat.readAll();
    const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
    const double ticks = double(sysconf(_SC_CLK_TCK));
    usage.cpuSeconds = (fields.value(11).toDouble() + fields.value(12).toDouble()) / ticks;
    usage.ok = true;
    return usage;
}

} // namespace sluice::bench
