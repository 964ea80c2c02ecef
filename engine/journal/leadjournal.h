#pragma once

#include "core/result.h"
#include "redis/rediserror.h"
#include "store/rediskeys.h"

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

#include <functional>

namespace sluice {

class RedisClient;

/// One step of a lead's journal. The queue's own scripts write most of them in the same step
/// as the state change they describe (resources/lua/lib/journal.lua), so a journal never
/// claims what the queue did not do; LeadJournal::append() writes the rest (429 answers,
/// verify, clean-up).
///
/// Kinds: received, queued, looked_up, attempt, delivered, skipped, retry, failed, dead,
/// parked, requeued, discarded (by an operator: detail says who and why), verified, missing,
/// duplicated, deleted.
struct JournalEvent
{
    QString kind;
    qint64 atMs = 0; ///< Unix ms
    QString task;
    QString campaign; ///< campaign name
    QString detail;
    QString instance; ///< the consumer that wrote it, when a dispatcher did
    // Attempts (kind "attempt") only:
    int attempt = 0; ///< 1 for the first request carrying this lead
    int status = 0; ///< HTTP status, 0 when no answer came
    qint64 latencyMs = -1;
    qint64 waitMs = -1; ///< waited for the limiter's slot
    QString breaker; ///< breaker state when the request was permitted
    int batch = 0; ///< leads in the request
    qint64 retryAtMs = 0; ///< kind "retry": not before

    /// The field/value list the journal stores.
    QList<QByteArray> toFields() const;
    static JournalEvent fromFields(const QList<QByteArray> &fieldsAndValues);
    /// The steps one stored event (a JSON array of field/value strings) stands for. The
    /// hot-path scripts store what happened together as one event
    /// (resources/lua/lib/journal.lua): "received" with the entry it was queued as becomes
    /// received + queued, and an outcome carrying its request becomes attempt + outcome.
    /// Empty for something that is not an event.
    static QList<JournalEvent> fromStored(const QByteArray &stored);
    /// One line for people: "attempt 1: HTTP 200 in 43 ms, waited 12 ms for the limiter,
    /// breaker CLOSED, bulk of 37".
    QString summary() const;
    /// An outcome that ends a delivery attempt sequence (delivered, skipped, failed, dead).
    bool isFinal() const;
    /// What people call the step: "Received", "Attempt 2", "Dead letter", "Cleaned up".
    QString stepName() const;
    /// The lead's state when this is its latest step: the kind, or for an attempt
    /// "sending" / "rate limited".
    QString state() const;
};

/// Time since a timeline's first event, short: "+43 ms", "+2.4 s", "+3 min", "+5 h".
QString journalOffsetText(qint64 ms);

/// The journal's name for a lead: its lower-cased, trimmed email, or "close:<lead id>" for a
/// Close lead not yet looked up.
QString journalIdentity(const QString &emailOrCloseLead);

/// All events of one lead in one campaign, oldest first: one timeline.
struct LeadTimeline
{
    QString identity;
    QString campaign;
    QList<JournalEvent> events;

    /// The latest state in words: "delivered", "retry", "dead", "verified", "deleted", ...
    QString state() const;
    QStringList tasks() const; ///< the tasks that carried it, oldest first
};

/// Splits one identity's events into one timeline per campaign (events without a campaign
/// join the timeline of their task's campaign, or stand alone), newest timeline first.
QList<LeadTimeline> splitTimelines(const QString &identity, const QList<JournalEvent> &events);

/// A lead recently in the journal, with its latest event.
struct RecentLead
{
    QString identity;
    JournalEvent latest;
};

/// Reads and appends the journal of one deployment (one key namespace). Asynchronous, on
/// the RedisClient's thread; every callback comes from the event loop.
class LeadJournal
{
public:
    /// `redis` must outlive the journal. A journal that is not `enabled` appends nothing
    /// (ServeOptions::journal off) and still reads what is there.
    LeadJournal(RedisClient *redis, RedisKeys keys, bool enabled = true);

    struct Entry
    {
        QString identity;
        JournalEvent event;
    };
    /// Appends events in order (atomically per 500; an event's task is not indexed, as the
    /// queue's scripts index the tasks they make). `done` (may be empty) gets how many.
    void append(const QList<Entry> &entries,
                std::function<void(Result<int, RedisError>)> done) const;

    /// Timelines for a search: an email (any case), "close:<id>" / a Close lead id "lead_…",
    /// or a task id (every lead of that task, limited to `maxLeads`). Empty when nothing is
    /// known.
    void search(const QString &query, int maxLeads,
                std::function<void(Result<QList<LeadTimeline>, RedisError>)> done) const;
    /// Every event of one identity, oldest first.
    void events(const QString &identity,
                std::function<void(Result<QList<JournalEvent>, RedisError>)> done) const;
    /// The `limit` leads with the newest events, newest first.
    void recent(int limit, std::function<void(Result<QList<RecentLead>, RedisError>)> done) const;

    /// The store the journal lives in, which also holds the delivered set (clean-up forgets
    /// the leads it deletes there, journal on or off).
    RedisClient *redis() const { return m_redis; }
    const RedisKeys &keys() const { return m_keys; }

private:
    void leadsOfTask(const QString &taskId, int maxLeads,
                     std::function<void(Result<QList<LeadTimeline>, RedisError>)> done) const;
    void timelinesOf(const QStringList &identities, const QString &onlyTask,
                     std::function<void(Result<QList<LeadTimeline>, RedisError>)> done) const;

    RedisClient *m_redis;
    RedisKeys m_keys;
    bool m_enabled = true;
};

} // namespace sluice
