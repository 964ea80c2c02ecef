#include "spool.h"

#include <QDir>
#include <QFileInfo>
#include <QSaveFile>

#include <fcntl.h>
#include <unistd.h>

namespace sluice {

namespace {

/// Makes a new directory entry durable (the file's own fsync does not cover it).
void syncDirectory(const QString &dir)
{
    const int fd = ::open(QFile::encodeName(dir).constData(), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return;
    ::fsync(fd);
    ::close(fd);
}

} // namespace

Spool::Spool(QString path)
    : m_path(std::move(path))
{ }

Spool::~Spool() = default;

bool Spool::fail(const QString &what)
{
    m_error = what;
    return false;
}

bool Spool::open()
{
    if (m_file.isOpen())
        return true;
    if (m_path.isEmpty())
        return fail(QStringLiteral("no spool file is configured"));
    const QFileInfo info(m_path);
    const QString dir = info.absolutePath();
    if (!QDir().mkpath(dir))
        return fail(QStringLiteral("cannot create the spool directory %1").arg(dir));
    if (!m_lock) {
        auto lock = std::make_unique<QLockFile>(m_path + QStringLiteral(".lock"));
        lock->setStaleLockTime(0); // stale only when its process is gone
        if (!lock->tryLock(0))
            return fail(QStringLiteral("the spool %1 is in use by another process").arg(m_path));
        m_lock = std::move(lock);
    }
    const bool existed = info.exists();
    m_file.setFileName(m_path);
    if (!m_file.open(QIODevice::ReadWrite | QIODevice::Append | QIODevice::Unbuffered))
        return fail(
            QStringLiteral("cannot open the spool %1: %2").arg(m_path, m_file.errorString()));
    if (!existed)
        syncDirectory(dir);

    qint64 offset = 0;
    QFile offsetFile(offsetPath());
    if (offsetFile.open(QIODevice::ReadOnly))
        offset = offsetFile.readAll().trimmed().toLongLong();
    const qint64 size = m_file.size();
    if (offset < 0 || offset > size)
        offset = 0; // emptied, and the crash came before the offset was reset
    m_file.seek(offset);
    const QByteArray rest = m_file.read(size - offset);
    const qsizetype complete = rest.lastIndexOf('\n') + 1;
    if (complete < rest.size()) {
        // A torn last line: its append() never returned true, so nobody was told "stored".
        if (!m_file.resize(offset + complete)) {
            m_file.close();
            return fail(QStringLiteral("cannot cut a torn line off the spool %1: %2")
                            .arg(m_path, m_file.errorString()));
        }
    }
    m_lines.clear();
    qsizetype start = 0;
    while (start < complete) {
        const qsizetype end = rest.indexOf('\n', start);
        m_lines.push_back(rest.mid(start, end - start));
        start = end + 1;
    }
    m_offset = offset;
    m_error.clear();
    return true;
}

bool Spool::append(const QByteArray &line)
{
    Q_ASSERT(!line.contains('\n'));
    if (!m_file.isOpen() && !open())
        return false;
    const qint64 before = m_file.size();
    QByteArray out;
    out.reserve(line.size() + 1);
    out += line;
    out += '\n';
    const qint64 written = m_file.write(out);
    if (written != out.size() || ::fsync(m_file.handle()) != 0) {
        const QString why = m_file.errorString();
        m_file.resize(before);
        return fail(QStringLiteral("cannot write the spool %1: %2").arg(m_path, why));
    }
    m_lines.push_back(line);
    return true;
}

bool Spool::writeOffset(qint64 offset)
{
    QSaveFile file(offsetPath());
    if (!file.open(QIODevice::WriteOnly))
        return fail(QStringLiteral("cannot write %1: %2").arg(offsetPath(), file.errorString()));
    file.write(QByteArray::number(offset) + '\n');
    if (!file.commit())
        return fail(QStringLiteral("cannot write %1: %2").arg(offsetPath(), file.errorString()));
    return true;
}

void Spool::remove()
{
    m_file.close();
    QFile::remove(m_path);
    QFile::remove(offsetPath());
    m_lines.clear();
    m_offset = 0;
    m_lock.reset(); // unlocks, deleting the lock file
}

bool Spool::popFront()
{
    if (m_lines.empty())
        return true;
    m_offset += m_lines.front().size() + 1;
    m_lines.pop_front();
    if (!m_lines.empty())
        return writeOffset(m_offset);
    // Nothing pending: empty the file first, then the offset. A crash in between leaves an
    // offset beyond the end, which open() reads as 0.
    if (!m_file.resize(0))
        return fail(
            QStringLiteral("cannot empty the spool %1: %2").arg(m_path, m_file.errorString()));
    m_offset = 0;
    return writeOffset(0);
}

} // namespace sluice
