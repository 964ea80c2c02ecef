#include "leadjournal.h"

#include "core/jsontext.h"
#include "core/lead.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QDateTime>
#include <QHash>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>

namespace sluice {

namespace {

const QString kAppend = QStringLiteral("journal_append");
/// Events per journal_append call: each call holds Redis for its whole length.
constexpr qsizetype kAppendChunk = 500;

QByteArray num(qint64 n)
{
    return QByteArray::number(n);
}

QString clockTime(qint64 ms)
{
    return QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss.zzz"));
}

} // namespace

QList<QByteArray> JournalEvent::toFields() const
{
    QList<QByteArray> out { "kind", kind.toUtf8(), "at", num(atMs) };
    auto text = [&](const char *name, const QString &value) {
        if (!value.isEmpty())
            out << name << value.toUtf8();
    };
    text("task", task);
    text("campaign", campaign);
    text("detail", detail);
    text("instance", instance);
    if (attempt > 0) {
        out << "attempt" << num(attempt) << "status" << num(status) << "latency_ms"
            << num(latencyMs) << "wait_ms" << num(waitMs) << "breaker" << breaker.toUtf8()
            << "batch" << num(batch);
    }
    if (retryAtMs > 0)
        out << "retry_at" << num(retryAtMs);
    return out;
}

JournalEvent JournalEvent::fromFields(const QList<QByteArray> &fields)
{
    JournalEvent e;
    for (qsizetype i = 0; i + 1 < fields.size(); i += 2) {
        const QByteArray &f = fields[i];
        const QByteArray &v = fields[i + 1];
        if (f == "kind")
            e.kind = QString::fromUtf8(v);
        else if (f == "at")
            e.atMs = v.toLongLong();
        else if (f == "task")
            e.task = QString::fromUtf8(v);
        else if (f == "campaign")
            e.campaign = QString::fromUtf8(v);
        else if (f == "detail")
            e.detail = QString::fromUtf8(v);
        else if (f == "instance")
            e.instance = QString::fromUtf8(v);
        else if (f == "attempt")
            e.attempt = v.toInt();
        else if (f == "status")
            e.status = v.toInt();
        else if (f == "latency_ms")
            e.latencyMs = v.toLongLong();
        else if (f == "wait_ms")
            e.waitMs = v.toLongLong();
        else if (f == "breaker")
            e.breaker = QString::fromUtf8(v);
        else if (f == "batch")
            e.batch = v.toInt();
        else if (f == "retry_at")
            e.retryAtMs = v.toLongLong();
    }
    return e;
}

QList<JournalEvent> JournalEvent::fromStored(const QByteArray &stored)
{
    const nlohmann::json array = parseJson(stored);
    if (!array.is_array())
        return {};
    QList<QByteArray> fieldsAndValues;
    for (const nlohmann::json &item : array)
        fieldsAndValues << (item.is_string() ? QByteArray::fromStdString(item.get<std::string>())
                                             : jsonBytes(item));
    JournalEvent e = fromFields(fieldsAndValues);
    QByteArray entry;
    for (qsizetype i = 0; i + 1 < fieldsAndValues.size(); i += 2)
        if (fieldsAndValues[i] == "entry")
            entry = fieldsAndValues[i + 1];
    if (e.kind == u"received" && !entry.isEmpty()) {
        JournalEvent queued = e;
        queued.kind = QStringLiteral("queued");
        queued.atMs = std::max(e.atMs, entry.left(entry.indexOf('-')).toLongLong());
        queued.detail = QStringLiteral("stream entry ") + QString::fromLatin1(entry);
        return { e, queued };
    }
    if (e.kind != u"attempt" && e.attempt > 0) {
        JournalEvent attempt = e;
        attempt.kind = QStringLiteral("attempt");
        attempt.detail.clear();
        attempt.retryAtMs = 0;
        JournalEvent outcome = e;
        outcome.attempt = 0;
        outcome.status = 0;
        outcome.latencyMs = -1;
        outcome.waitMs = -1;
        outcome.breaker.clear();
        outcome.batch = 0;
        return { attempt, outcome };
    }
    return { e };
}

QString JournalEvent::summary() const
{
    if (kind == u"attempt") {
        QString s = QStringLiteral("attempt %1: ").arg(attempt);
        s += status > 0 ? QStringLiteral("HTTP %1").arg(status) : QStringLiteral("no answer");
        if (latencyMs >= 0)
            s += QStringLiteral(" in %1 ms").arg(latencyMs);
        if (waitMs >= 0)
            s += QStringLiteral(", waited %1 ms for the limiter").arg(waitMs);
        if (!breaker.isEmpty())
            s += QStringLiteral(", breaker %1").arg(breaker);
        if (batch > 1)
            s += QStringLiteral(", bulk of %1").arg(batch);
        else if (batch == 1)
            s += QStringLiteral(", alone in its request");
        if (!detail.isEmpty())
            s += QStringLiteral(": ") + detail;
        return s;
    }
    if (kind == u"delivered")
        return detail.isEmpty() ? QStringLiteral("created in the campaign") : detail;
    if (kind == u"skipped")
        return detail.isEmpty() ? QStringLiteral("already in the campaign: nothing sent twice")
                                : detail;
    if (kind == u"retry")
        return QStringLiteral("retry not before %1: %2").arg(clockTime(retryAtMs), detail);
    return detail;
}

bool JournalEvent::isFinal() const
{
    return kind == u"delivered" || kind == u"skipped" || kind == u"failed" || kind == u"dead"
        || kind == u"discarded";
}

QString JournalEvent::stepName() const
{
    static const QHash<QString, QString> names {
        { QStringLiteral("received"), QStringLiteral("Received") },
        { QStringLiteral("queued"), QStringLiteral("Queued") },
        { QStringLiteral("looked_up"), QStringLiteral("Looked up in Close") },
        { QStringLiteral("delivered"), QStringLiteral("Delivered") },
        { QStringLiteral("skipped"), QStringLiteral("Skipped") },
        { QStringLiteral("retry"), QStringLiteral("Retry scheduled") },
        { QStringLiteral("failed"), QStringLiteral("Failed") },
        { QStringLiteral("dead"), QStringLiteral("Dead letter") },
        { QStringLiteral("parked"), QStringLiteral("Parked") },
        { QStringLiteral("requeued"), QStringLiteral("Queued again") },
        { QStringLiteral("discarded"), QStringLiteral("Discarded by an operator") },
        { QStringLiteral("verified"), QStringLiteral("Verified") },
        { QStringLiteral("missing"), QStringLiteral("Missing") },
        { QStringLiteral("duplicated"), QStringLiteral("Duplicated") },
        { QStringLiteral("deleted"), QStringLiteral("Cleaned up") },
    };
    if (kind == u"attempt")
        return QStringLiteral("Attempt %1").arg(attempt);
    return names.value(kind, kind);
}

QString journalOffsetText(qint64 ms)
{
    if (ms < 1000)
        return QStringLiteral("+%1 ms").arg(ms);
    if (ms < 120'000)
        return QStringLiteral("+%1 s").arg(double(ms) / 1000.0, 0, 'f', 1);
    if (ms < 7'200'000)
        return QStringLiteral("+%1 min").arg(ms / 60'000);
    return QStringLiteral("+%1 h").arg(ms / 3'600'000);
}

QString journalIdentity(const QString &emailOrCloseLead)
{
    QString t = emailOrCloseLead.trimmed();
    if (t.startsWith(u"close:"))
        return t;
    if (t.startsWith(u"lead_"))
        return QStringLiteral("close:") + t;
    return normalizedEmail(t);
}

QString JournalEvent::state() const
{
    if (kind == u"attempt")
        return status == 429 ? QStringLiteral("rate limited") : QStringLiteral("sending");
    return kind;
}

QString LeadTimeline::state() const
{
    return events.isEmpty() ? QString() : events.constLast().state();
}

QStringList LeadTimeline::tasks() const
{
    QStringList out;
    for (const JournalEvent &e : events)
        if (!e.task.isEmpty() && !out.contains(e.task))
            out << e.task;
    return out;
}

QList<LeadTimeline> splitTimelines(const QString &identity, const QList<JournalEvent> &events)
{
    QHash<QString, QString> campaignOfTask;
    for (const JournalEvent &e : events)
        if (!e.task.isEmpty() && !e.campaign.isEmpty())
            campaignOfTask.insert(e.task, e.campaign);
    QList<LeadTimeline> out;
    QHash<QString, qsizetype> index;
    for (const JournalEvent &e : events) {
        const QString campaign = e.campaign.isEmpty() ? campaignOfTask.value(e.task) : e.campaign;
        auto it = index.constFind(campaign);
        if (it == index.constEnd()) {
            it = index.insert(campaign, out.size());
            out.append(LeadTimeline { identity, campaign, {} });
        }
        out[*it].events.append(e);
    }
    for (LeadTimeline &t : out)
        std::stable_sort(
            t.events.begin(), t.events.end(),
            [](const JournalEvent &a, const JournalEvent &b) { return a.atMs < b.atMs; });
    std::stable_sort(out.begin(), out.end(), [](const LeadTimeline &a, const LeadTimeline &b) {
        return a.events.constLast().atMs > b.events.constLast().atMs;
    });
    return out;
}

LeadJournal::LeadJournal(RedisClient *redis, RedisKeys keys, bool enabled)
    : m_redis(redis)
    , m_keys(std::move(keys))
    , m_enabled(enabled)
{ }

void LeadJournal::append(const QList<Entry> &entries,
                         std::function<void(Result<int, RedisError>)> done) const
{
    if (entries.isEmpty() || !m_enabled) {
        if (done)
            m_redis->command({ "PING" }, [done](RedisResult) { done(0); });
        return;
    }
    // Only writers need the script, not the console's and the shell's readers; registering
    // it again sends nothing.
    m_redis->loadScript(kAppend, bundledLuaScript(kAppend));
    struct Join
    {
        int calls = 0;
        int appended = 0;
        std::optional<RedisError> error;
        std::function<void(Result<int, RedisError>)> done;
    };
    auto join = std::make_shared<Join>();
    join->done = std::move(done);
    for (qsizetype first = 0; first < entries.size(); first += kAppendChunk) {
        QList<QByteArray> args { m_keys.prefix, "0" };
        for (qsizetype i = first; i < std::min(entries.size(), first + kAppendChunk); ++i) {
            const Entry &e = entries[i];
            const QList<QByteArray> fields = e.event.toFields();
            args << e.identity.toUtf8() << num(e.event.atMs) << num(fields.size());
            args.append(fields);
        }
        ++join->calls;
        m_redis->evalScript(kAppend, {}, args, [join](RedisResult r) {
            if (r.ok())
                join->appended += int(r.value().integer());
            else if (!join->error)
                join->error = r.error();
            if (--join->calls > 0 || !join->done)
                return;
            if (join->error)
                join->done(*join->error);
            else
                join->done(join->appended);
        });
    }
}

void LeadJournal::events(const QString &identity,
                         std::function<void(Result<QList<JournalEvent>, RedisError>)> done) const
{
    m_redis->command({ "LRANGE", m_keys.journal(identity), "0", "-1" }, [done](RedisResult r) {
        if (!r.ok()) {
            done(r.error());
            return;
        }
        QList<JournalEvent> out;
        for (const RedisReply &stored : r.value().elements())
            out << JournalEvent::fromStored(stored.bytes());
        done(out);
    });
}

void LeadJournal::timelinesOf(
    const QStringList &identities, const QString &onlyTask,
    std::function<void(Result<QList<LeadTimeline>, RedisError>)> done) const
{
    if (identities.isEmpty()) {
        m_redis->command({ "PING" }, [done](RedisResult) { done(QList<LeadTimeline> {}); });
        return;
    }
    struct Join
    {
        int pending = 0;
        QHash<QString, QList<JournalEvent>> events;
        std::optional<RedisError> error;
    };
    auto join = std::make_shared<Join>();
    join->pending = int(identities.size());
    for (const QString &identity : identities) {
        events(identity,
               [join, identity, identities, onlyTask,
                done](Result<QList<JournalEvent>, RedisError> r) {
                   if (r.ok())
                       join->events.insert(identity, r.value());
                   else if (!join->error)
                       join->error = r.error();
                   if (--join->pending > 0)
                       return;
                   if (join->error) {
                       done(*join->error);
                       return;
                   }
                   QList<LeadTimeline> out;
                   for (const QString &id : identities)
                       for (LeadTimeline &t : splitTimelines(id, join->events.value(id)))
                           if (onlyTask.isEmpty() || t.tasks().contains(onlyTask))
                               out.append(std::move(t));
                   done(out);
               });
    }
}

void LeadJournal::leadsOfTask(
    const QString &taskId, int maxLeads,
    std::function<void(Result<QList<LeadTimeline>, RedisError>)> done) const
{
    m_redis->command({ "HGET", m_keys.task(taskId), "leads" },
                     [self = *this, taskId, maxLeads, done](RedisResult leads) {
                         if (!leads.ok()) {
                             done(leads.error());
                             return;
                         }
                         QStringList ids;
                         const QByteArray raw = leads.value().bytes();
                         const nlohmann::json list = parseJson(raw);
                         if (list.is_array()) // "{}" for none: Lua's cjson cannot tell
                             for (const nlohmann::json &id : list)
                                 if (id.is_string() && ids.size() < std::max(1, maxLeads))
                                     ids << QString::fromStdString(id.get<std::string>());
                         self.timelinesOf(ids, taskId, done);
                     });
}

void LeadJournal::search(const QString &query, int maxLeads,
                         std::function<void(Result<QList<LeadTimeline>, RedisError>)> done) const
{
    const QString q = query.trimmed();
    if (q.isEmpty()) {
        timelinesOf({}, {}, std::move(done));
        return;
    }
    const QString identity = journalIdentity(q);
    // An identity first; what is not one (a task id has no '@') is looked up as a task.
    m_redis->command({ "EXISTS", m_keys.journal(identity) },
                     [self = *this, q, identity, maxLeads, done](RedisResult r) {
                         if (!r.ok()) {
                             done(r.error());
                             return;
                         }
                         if (r.value().integer() == 1) {
                             self.timelinesOf({ identity }, {}, done);
                             return;
                         }
                         self.leadsOfTask(q, maxLeads, done);
                     });
}

void LeadJournal::recent(int limit,
                         std::function<void(Result<QList<RecentLead>, RedisError>)> done) const
{
    m_redis->command({ "ZREVRANGE", m_keys.journalRecent(), "0", num(std::max(1, limit) - 1) },
                     [self = *this, done](RedisResult r) {
                         if (!r.ok()) {
                             done(r.error());
                             return;
                         }
                         const std::vector<RedisReply> &members = r.value().elements();
                         if (members.empty()) {
                             done(QList<RecentLead> {});
                             return;
                         }
                         auto out = std::make_shared<QList<RecentLead>>();
                         auto pending = std::make_shared<int>(int(members.size()));
                         auto failed = std::make_shared<std::optional<RedisError>>();
                         out->resize(qsizetype(members.size()));
                         for (size_t i = 0; i < members.size(); ++i) {
                             const QString identity = QString::fromUtf8(members[i].bytes());
                             (*out)[qsizetype(i)].identity = identity;
                             self.m_redis->command(
                                 { "LINDEX", self.m_keys.journal(identity), "-1" },
                                 [out, pending, failed, i, done](RedisResult last) {
                                     if (!last.ok() && !*failed)
                                         *failed = last.error();
                                     else if (last.ok() && last.value().isString()) {
                                         const QList<JournalEvent> steps
                                             = JournalEvent::fromStored(last.value().bytes());
                                         if (!steps.isEmpty())
                                             (*out)[qsizetype(i)].latest = steps.constLast();
                                     }
                                     if (--*pending > 0)
                                         return;
                                     if (*failed)
                                         done(**failed);
                                     else
                                         done(*out);
                                 });
                         }
                     });
}

} // namespace sluice
