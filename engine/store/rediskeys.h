#pragma once

#include <QByteArray>
#include <QString>

namespace sluice {

/// Every Redis key Sluice uses, under one namespace (`sluice:<ns>:`), so several deployments
/// can share a Redis and a test can use a fresh namespace. The one place key names are made.
struct RedisKeys
{
    QByteArray prefix; ///< "sluice:<ns>:"

    explicit RedisKeys(const QString &ns = QStringLiteral("default"))
        : prefix("sluice:" + ns.toUtf8() + ':')
    { }

    /// Stream of QueuedLead entries; consumer group `dispatchers`.
    QByteArray leads() const { return prefix + "leads"; }
    static QByteArray dispatcherGroup() { return "dispatchers"; }
    /// Sorted set of QueuedLead entries waiting for a retry, scored by not-before Unix ms.
    QByteArray retries() const { return prefix + "retries"; }
    /// Stream of dead-lettered QueuedLead entries (plus `reason`, `dead_ms`).
    QByteArray deadLetters() const { return prefix + "dead"; }
    /// Hash: the dead letters' counts per reason code, memoised with the stream's length and
    /// last id (resources/lua/dead_counts.lua); rebuilt from deadLetters() whenever in doubt.
    QByteArray deadLetterCounts() const { return prefix + "dead-counts"; }
    /// Capped stream of discarded dead letters: each entry as it was, plus `dead_entry`,
    /// `discarded_by`, `discarded_why`, `discarded_ms`. Nothing is deleted without a trace.
    QByteArray discardedDeadLetters() const { return prefix + "dead-discarded"; }
    /// Hash of one batch's progress (see TaskProgress).
    QByteArray task(const QString &taskId) const { return prefix + "task:" + taskId.toUtf8(); }
    /// Sorted set of task ids by creation time, for listings and retention.
    QByteArray tasks() const { return prefix + "tasks"; }
    /// String: Close event id -> task id, with a TTL (duplicate deliveries are dropped). A
    /// direct batch's Idempotency-Key is kept here too, as "direct:<key>", so the two can
    /// never collide with each other's ids.
    QByteArray closeEvent(const QString &eventId) const
    {
        return prefix + "event:" + eventId.toUtf8();
    }
    /// String: Close task id -> the Sluice task that queued it, with the task retention. Set by
    /// the intake script for a webhook and for a backfill alike, so one Close task is queued
    /// once however it arrives.
    QByteArray closeTask(const QString &closeTaskId) const
    {
        return prefix + "close-task:" + closeTaskId.toUtf8();
    }
    /// Sorted set of "<campaign id>|<lower-cased email>" already delivered, scored by the
    /// Unix ms of the delivery: replays become no-ops for the retention
    /// (DispatcherOptions::deliveredRetention), then the member is trimmed (schema 2).
    QByteArray delivered() const { return prefix + "delivered-at"; }
    /// Schema 1's delivered set (no expiry). Migrated into delivered() at start; still read,
    /// so a lead an older instance delivers during a rolling upgrade stays a no-op.
    QByteArray legacyDelivered() const { return prefix + "delivered"; }
    /// String: the schema version of this namespace's data (SchemaGate). Absent: version 1.
    QByteArray schema() const { return prefix + "schema"; }
    /// String with a TTL: the instance migrating the data to the current schema.
    QByteArray schemaLock() const { return prefix + "schema-lock"; }
    /// Set of campaign names with parked leads (the campaign was not found in Instantly).
    QByteArray parked() const { return prefix + "parked"; }
    /// Stream of one campaign's parked QueuedLead entries (plus reason, code, parked_ms).
    QByteArray parkedLeads(const QString &campaign) const
    {
        return prefix + "parked:" + campaign.toUtf8();
    }
    /// String with a TTL: the instance that looks for the parked campaigns this minute.
    QByteArray parkedCheck() const { return prefix + "parked-check"; }
    /// Hash: exact campaign name -> Instantly campaign id (cache shared by all instances).
    QByteArray campaigns() const { return prefix + "campaigns"; }
    QByteArray limiter() const { return prefix + "limiter"; }
    /// Prefix of the Close API's budgets, one per endpoint group (CloseGate): lookups of
    /// leads, which no real webhook carries.
    QByteArray closeLimiter() const { return prefix + "limiter:close"; }
    QByteArray breaker() const { return prefix + "breaker"; }
    /// Stream of every upstream request (SendAudit).
    QByteArray audit() const { return prefix + "audit"; }
    /// String: one load-test run's RunRecord as JSON (the run ledger).
    QByteArray run(const QString &runId) const { return prefix + "run:" + runId.toUtf8(); }
    /// Sorted set of run ids by creation time (Unix ms).
    QByteArray runs() const { return prefix + "runs"; }
    /// String with a short TTL, renewed by a live consumer on each maintenance tick: its
    /// heartbeat (dispatch_takeover.lua takes over a consumer's entries once it is gone).
    QByteArray alive(const QString &consumer) const
    {
        return prefix + "alive:" + consumer.toUtf8();
    }
    /// Sorted set: instance name -> when it last said it was alive (Redis time, Unix ms). Its
    /// count sizes each instance's share of the budget while Redis is away.
    QByteArray instances() const { return prefix + "instances"; }
    /// Prefix of the alerts' keys (resources/lua/alerts_evaluate.lua): per kind a string (the
    /// firing event's JSON while it fires) and a hash "<kind>:asserting" (instance -> Unix ms
    /// it last said the condition holds); "log", a capped stream of every firing and resolved
    /// event; "ack", a hash kind -> who acknowledged the firing alert, and when (JSON).
    QByteArray alerts() const { return prefix + "alerts:"; }
    QByteArray alert(const QByteArray &kind) const { return alerts() + kind; }
    QByteArray alertLog() const { return alerts() + "log"; }
    QByteArray alertAcks() const { return alerts() + "ack"; }
    /// Hash: instance -> its latest forecast and figures as JSON (with `at`, Unix ms), for
    /// `sluice status`; AlertCenter writes its own field at every evaluation and drops fields
    /// of instances silent for long.
    QByteArray statuses() const { return prefix + "status"; }
    /// String with a TTL: the instance that probes whether a self-made pause can end.
    QByteArray probe() const { return prefix + "probe"; }
    /// Hash of dispatching controls shared by all instances: `paused` (the reason),
    /// `paused_cause` (PauseCause), `paused_ms`, `remaining_in_plan`.
    QByteArray control() const { return prefix + "control"; }
    /// Stream of one lead's journal events; identity = lower-cased email or "close:<id>".
    /// resources/lua/lib/journal.lua derives these names from `prefix` as well; a task's
    /// identities are in its hash, field "leads" (a JSON array).
    QByteArray journal(const QString &identity) const
    {
        return prefix + "journal:" + identity.toUtf8();
    }
    /// Sorted set of identities by their latest event (Unix ms).
    QByteArray journalRecent() const { return prefix + "journal:recent"; }
};

} // namespace sluice
