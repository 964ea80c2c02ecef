#pragma once

#include <QByteArray>
#include <QList>
#include <QString>

#include <optional>

namespace sluice {

struct IntakeRequest;
struct RedisKeys;

/// One accepted request, ready to store: the arguments of intake_enqueue.lua, and what a
/// spool line holds while Redis is down (so a replay stores exactly what was acknowledged).
struct IntakeBatch
{
    QString taskId;
    QString campaign;
    QString source; ///< "close" | "direct" | "backfill"
    /// The dedupe id: the Close event id, or "direct:<Idempotency-Key>"; empty for none.
    QString dedupeId;
    /// The Close task it comes from ("task_…"; RedisKeys::closeTask), empty for none.
    QString closeTaskId;
    qint64 createdMs = 0; ///< Unix ms
    /// How it arrived, for each lead's journal ("Close webhook ev_…, signature valid").
    QString note;
    /// QueuedLead::toFields() of each stream entry, in order.
    QList<QList<QByteArray>> entries;
    /// The lead journal's name (journalIdentity()) of each entry, in the same order: known
    /// when the request is parsed, worked out from the fields for a spooled line.
    QList<QByteArray> identities;

    /// The entries of a parsed request (one per inline lead, or one Close lookup).
    static IntakeBatch fromRequest(const IntakeRequest &request, const QString &taskId,
                                   const QString &dedupeId, qint64 createdMs);

    /// KEYS of intake_enqueue.lua.
    QList<QByteArray> scriptKeys(const RedisKeys &keys) const;
    /// ARGV of intake_enqueue.lua.
    /// Without `journal`, no lead gets a journal identity, so the script writes none.
    QList<QByteArray> scriptArgs(const RedisKeys &keys, qint64 retentionSeconds,
                                 bool journal = true) const;

    /// One JSON line (no newline inside) for the spool, and back. nullopt for a line that is
    /// not a batch.
    QByteArray toJsonLine() const;
    static std::optional<IntakeBatch> fromJsonLine(const QByteArray &line);
};

/// A new task id: 16 random bytes from the system's CSPRNG as 32 lowercase hex digits
/// (unguessable, since the status endpoint answers anyone who knows one; URL-safe).
QString newTaskId();

} // namespace sluice
