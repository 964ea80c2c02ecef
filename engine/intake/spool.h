#pragma once

#include <QByteArray>
#include <QFile>
#include <QLockFile>
#include <QString>

#include <deque>
#include <memory>

namespace sluice {

/// A durable FIFO of text lines in a local file: the intake's fallback while Redis is down.
///
/// append() returns only after the line is on disk (write + fsync), so an answer given after
/// it survives a crash. Lines leave from the front with popFront() once their consumer is
/// done; the position of the first pending line is kept atomically in `<path>.offset`
/// (QSaveFile), and the file is emptied when nothing is pending. A crash between finishing a
/// line and recording it replays that line, so consumers must be idempotent.
///
/// A line torn by a crash in the middle of append() (no final newline) was never
/// acknowledged: open() cuts it off. Lines must not contain '\n'. One thread; not thread-safe.
///
/// One writer per file: open() takes `<path>.lock` (a QLockFile, freed when the process exits
/// or dies) and fails while another process holds it. So processes sharing a data directory
/// each keep their own spool, and a spool whose lock is free belongs to nobody alive: any
/// process may adopt its lines (IntakeServer does) and then remove() it.
class Spool
{
public:
    explicit Spool(QString path);
    ~Spool();
    Spool(const Spool &) = delete;
    Spool &operator=(const Spool &) = delete;

    /// Creates the directory and file if needed and reads the pending lines. False (with
    /// errorString()) when the file cannot be used; append() then tries to open it again.
    bool open();
    bool isOpen() const { return m_file.isOpen(); }

    /// Appends one line (without its '\n') and fsyncs. False when it is not certainly stored;
    /// a partial write is cut off again.
    bool append(const QByteArray &line);

    bool isEmpty() const { return m_lines.empty(); }
    qsizetype depth() const { return qsizetype(m_lines.size()); }
    /// The oldest pending line; only when !isEmpty().
    const QByteArray &front() const { return m_lines.front(); }
    const std::deque<QByteArray> &pending() const { return m_lines; }
    /// Drops the oldest line and records that durably. False when the record could not be
    /// written: the line is gone from memory but comes back after a restart.
    bool popFront();

    /// Deletes the file and its offset (after its lines were adopted elsewhere) and closes.
    void remove();

    QString path() const { return m_path; }
    QString offsetPath() const { return m_path + QStringLiteral(".offset"); }
    QString errorString() const { return m_error; }

private:
    bool fail(const QString &what);
    bool writeOffset(qint64 offset);

    QString m_path;
    QFile m_file;
    std::unique_ptr<QLockFile> m_lock;
    std::deque<QByteArray> m_lines;
    qint64 m_offset = 0; ///< file position of the first pending line
    QString m_error;
};

} // namespace sluice
