#pragma once

#include "close/closetask.h"
#include "core/result.h"
#include "store/rediskeys.h"

#include <QDateTime>
#include <QObject>
#include <QPointer>
#include <QStringList>

#include <chrono>
#include <functional>
#include <vector>

namespace sluice {

class CloseClient;
class RedisClient;

/// One Close task the backfill would queue (or found already queued).
struct BackfillItem
{
    QString closeTaskId;
    QString closeLeadId;
    QString campaign; ///< the task text after "Instantly:", trimmed (campaignOfTaskText())
    QDateTime created; ///< the task's date_created, UTC
    QString sluiceTaskId; ///< already seen: the Sluice task that queued it
};

/// What `sluice backfill` found: Close's lead tasks since a time, sorted into those to queue,
/// those Sluice has already queued (by webhook or an earlier backfill), those that are not
/// ours, and those that are ours but unusable (with why).
struct BackfillPlan
{
    QDateTime since;
    int listed = 0; ///< lead tasks Close listed
    int notOurs = 0; ///< text not starting with "Instantly:"
    std::vector<BackfillItem> toQueue; ///< oldest first
    std::vector<BackfillItem> alreadySeen;
    QStringList refused; ///< "task_…: why", for tasks that are ours but cannot be queued
};

/// What applying a plan did.
struct BackfillOutcome
{
    int queued = 0;
    /// Queued meanwhile by someone else (a webhook arriving, another backfill): not again.
    int skipped = 0;
    QStringList failed; ///< "task_…: why"; empty when every item was stored or skipped
    QStringList sluiceTaskIds; ///< of the items queued now
};

/// Sorts listed tasks (pure): ours by campaignOfTaskText(), a valid lead and task id; the
/// rest counted or refused. `toQueue` holds every one of ours; the seen check is separate.
BackfillPlan sortBackfillTasks(const std::vector<CloseTask> &tasks, const QDateTime &since);

/// The start of a backfill: an ISO 8601 date or date-time ("2026-12-07T06:00:00Z"; without an
/// offset, UTC) or a duration back from `now` ("90m", "6h", "2d"). Not in the future; the
/// error says what is wrong.
Result<QDateTime, QString> parseBackfillSince(const QString &text, const QDateTime &now);

struct BackfillOptions
{
    /// How long the Close-task markers (and task hashes) live: the intake's retention, so a
    /// backfill and a webhook keep the same memory of a task.
    std::chrono::seconds retention { std::chrono::hours { 24 * 7 } };
    bool journal = true; ///< write each lead's "received" step, as the intake does
};

/// The way back after Sluice was down longer than Close's retries, or Close paused the
/// webhook subscription: lists the Close tasks created since a time (through the client's
/// gate, like the lookups), drops those Sluice has already queued (RedisKeys::closeTask), and
/// queues the rest with the intake's own script (intake_enqueue.lua), so they get task ids,
/// journal entries and the same Close lookup at dispatch. The script writes the Close-task
/// marker for webhooks and backfills alike: one Close task is queued once, whichever comes
/// first, and a second backfill queues nothing. Lives on its owner's thread.
class Backfill : public QObject
{
    Q_OBJECT
public:
    /// `close` and `redis` must outlive this object.
    Backfill(CloseClient *close, RedisClient *redis, RedisKeys keys, BackfillOptions options = {},
             QObject *parent = nullptr);

    using PlanDone = std::function<void(Result<BackfillPlan, QString>)>;
    using ApplyDone = std::function<void(Result<BackfillOutcome, QString>)>;
    /// Lists and sorts; nothing is written. The error says what failed (Close or Redis).
    void plan(const QDateTime &since, PlanDone done);
    /// Queues `plan.toQueue`, each through the intake script; the script refuses a task queued
    /// meanwhile (counted as skipped).
    void apply(const BackfillPlan &plan, ApplyDone done);

    /// The intake script's name (resources/lua/).
    static QString enqueueScript();

private:
    CloseClient *m_close;
    QPointer<RedisClient> m_redis;
    RedisKeys m_keys;
    BackfillOptions m_options;
};

} // namespace sluice
