#include "instancelease.h"

#include <QDir>
#include <QFile>
#include <QHostInfo>
#include <QLockFile>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSaveFile>

namespace sluice {

namespace {

/// A consumer name's characters: Redis takes anything, people read logs.
QString cleanName(QString name)
{
    static const QRegularExpression unsafe(QStringLiteral("[^A-Za-z0-9._-]"));
    return name.replace(unsafe, QStringLiteral("-")).left(64);
}

/// The name kept in `path`, made (and written) the first time; empty with `error` set when
/// it cannot be written.
QString keptName(const QString &path, QString &error)
{
    QFile existing(path);
    if (existing.open(QIODevice::ReadOnly)) {
        QString name = cleanName(QString::fromUtf8(existing.readAll()).trimmed());
        if (!name.isEmpty())
            return name;
    }
    const QString host = QHostInfo::localHostName().isEmpty() ? QStringLiteral("host")
                                                              : QHostInfo::localHostName();
    QString name = cleanName(QStringLiteral("%1-%2").arg(host).arg(
        QRandomGenerator::system()->generate(), 8, 16, QLatin1Char('0')));
    QSaveFile out(path);
    if (!out.open(QIODevice::WriteOnly) || out.write(name.toUtf8() + '\n') < 0 || !out.commit()) {
        error = QStringLiteral("cannot write the instance name to '%1': %2")
                    .arg(path, out.errorString());
        return {};
    }
    return name;
}

} // namespace

InstanceLease::~InstanceLease() = default;

Result<std::unique_ptr<InstanceLease>, QString> InstanceLease::take(const QString &dataDir,
                                                                    const QString &explicitName)
{
    const QDir dir(dataDir);
    std::unique_ptr<InstanceLease> lease(new InstanceLease);
    if (!explicitName.trimmed().isEmpty()) {
        const QString name = cleanName(explicitName.trimmed());
        auto lock = std::make_unique<QLockFile>(
            dir.filePath(QStringLiteral("instance-%1.lock").arg(name)));
        lock->setStaleLockTime(0); // only a dead owner's lock is stale, never a slow one's
        if (!lock->tryLock(0))
            return lock->error() == QLockFile::LockFailedError
                ? QStringLiteral("another process in '%1' runs as instance '%2'").arg(dataDir, name)
                : QStringLiteral("cannot lock instance '%2' in '%1'").arg(dataDir, name);
        lease->m_lock = std::move(lock);
        lease->m_name = name;
        return lease;
    }
    for (int k = 0; k < kMaxSlots; ++k) {
        auto lock
            = std::make_unique<QLockFile>(dir.filePath(QStringLiteral("instance-%1.lock").arg(k)));
        lock->setStaleLockTime(0);
        if (!lock->tryLock(0)) {
            if (lock->error() == QLockFile::LockFailedError)
                continue; // a live process holds it
            return QStringLiteral("cannot lock an instance slot in '%1' (%2)")
                .arg(dataDir,
                     lock->error() == QLockFile::PermissionError
                         ? QStringLiteral("permission denied")
                         : QStringLiteral("cannot create files there"));
        }
        QString error;
        const QString name = keptName(dir.filePath(QStringLiteral("instance-%1.id").arg(k)), error);
        if (name.isEmpty())
            return error;
        lease->m_lock = std::move(lock);
        lease->m_name = name;
        lease->m_slot = k;
        return lease;
    }
    return QStringLiteral("%1 processes already run from '%2'").arg(kMaxSlots).arg(dataDir);
}

} // namespace sluice
