#include "closetaskstore.h"

#include "closestore.h"
#include "stdstrings.h"

#include <QDateTime>
#include <QHash>
#include <QRegularExpression>
#include <QSet>
#include <QUuid>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>

namespace sluice {

using json = nlohmann::json;

/// One task in the sandbox's Close. Outside the anonymous namespace: Impl, which has external
/// linkage, holds these (GCC's -Wsubobject-linkage fires once a unity build includes this file).
struct SandboxCloseTask
{
    json object; ///< as GET /api/v1/task/ returns it
    QDateTime created;
    quint64 seq = 0;
};

namespace {

using sandboxtext::qs;

/// The task types the Close task docs name ([C-tasks]; the stored page is cut off after
/// `voicemail`, so later types are unknown to the sandbox).
const QStringList &closeTaskTypes()
{
    static const QStringList types { QStringLiteral("lead"),
                                     QStringLiteral("incoming_email"),
                                     QStringLiteral("email_followup"),
                                     QStringLiteral("missed_call"),
                                     QStringLiteral("answered_detached_call"),
                                     QStringLiteral("voicemail") };
    return types;
}

/// A date ("2026-12-07", midnight UTC) or an ISO 8601 date-time with optional fraction and
/// offset; a time without an offset is UTC. The sandbox's own reading, not Sluice's client's.
std::optional<QDateTime> taskStoreTime(const QString &text)
{
    static const QRegularExpression shape(QStringLiteral(
        R"(^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?)?$)"));
    const QRegularExpressionMatch m = shape.match(text);
    if (!m.hasMatch())
        return std::nullopt;
    const QDate date = QDate::fromString(m.captured(1), Qt::ISODate);
    if (!date.isValid())
        return std::nullopt;
    QTime time(0, 0);
    if (m.hasCaptured(2)) {
        QString hms = m.captured(2);
        if (hms.size() == 5)
            hms += QStringLiteral(":00");
        time = QTime::fromString(hms, QStringLiteral("HH:mm:ss"));
        if (!time.isValid())
            return std::nullopt;
        if (m.hasCaptured(3))
            time = time.addMSecs(m.captured(3).leftJustified(6, QLatin1Char('0')).toInt() / 1000);
    }
    QDateTime at(date, time, Qt::UTC);
    const QString zone = m.captured(4);
    if (!zone.isEmpty() && zone != QLatin1String("Z")) {
        const int h = zone.mid(1, 2).toInt(), min = zone.mid(4, 2).toInt();
        if (h > 23 || min > 59)
            return std::nullopt;
        at = at.addSecs(qint64(zone.startsWith(QLatin1Char('-')) ? 1 : -1) * (h * 3600 + min * 60));
    }
    return at;
}

std::string taskStoreTimeText(const QDateTime &at)
{
    return at.toUTC().toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss.zzz000+00:00")).toStdString();
}

} // namespace

struct CloseTaskStore::Impl
{
    quint64 nextSeq = 1;
    std::map<quint64, SandboxCloseTask> tasks; ///< by creation order
    QHash<QString, quint64> seqById;
};

CloseTaskStore::CloseTaskStore()
    : d(std::make_unique<Impl>())
{ }
CloseTaskStore::~CloseTaskStore() = default;

void CloseTaskStore::clear()
{
    d = std::make_unique<Impl>();
}

int CloseTaskStore::taskCount() const
{
    return int(d->tasks.size());
}

StoreReply CloseTaskStore::putTasks(const json &in, const LeadName &leadName)
{
    const json list = in.is_array() ? in : json::array({ in });
    if (list.empty())
        return closeError(400, QStringLiteral("no task to store"));
    static const QRegularExpression idShape(QStringLiteral("^task_[A-Za-z0-9_-]{1,123}$"));
    std::vector<SandboxCloseTask> made;
    QSet<QString> ids;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (size_t i = 0; i < list.size(); ++i) {
        const json &t = list[i];
        const QString where = QStringLiteral("task %1: ").arg(i);
        if (!t.is_object())
            return closeError(400, where + QStringLiteral("must be an object"));
        for (auto it = t.begin(); it != t.end(); ++it) {
            static const std::vector<std::string> known { "id", "lead_id", "text", "date_created",
                                                          "is_complete" };
            if (std::find(known.begin(), known.end(), it.key()) == known.end())
                return closeError(400,
                                  where
                                      + QStringLiteral("'%1' is not a field the sandbox "
                                                       "stores")
                                            .arg(qs(it.key())));
        }
        if (!t.contains("lead_id") || !t["lead_id"].is_string())
            return closeError(400, where + QStringLiteral("lead_id is required"),
                              QStringLiteral("lead_id"));
        const QString leadId = qs(t["lead_id"].get<std::string>());
        const auto name = leadName(leadId);
        if (!name)
            return closeError(400, where + QStringLiteral("no Close lead '%1'").arg(leadId),
                              QStringLiteral("lead_id"));
        if (!t.contains("text") || !t["text"].is_string())
            return closeError(400, where + QStringLiteral("text must be a string"),
                              QStringLiteral("text"));
        QDateTime created = now;
        if (t.contains("date_created")) {
            const auto parsed = t["date_created"].is_string()
                ? taskStoreTime(qs(t["date_created"].get<std::string>()))
                : std::nullopt;
            if (!parsed)
                return closeError(400,
                                  where
                                      + QStringLiteral("date_created is not an ISO 8601 "
                                                       "date-time"),
                                  QStringLiteral("date_created"));
            created = *parsed;
        }
        QString id = QStringLiteral("task_") + QUuid::createUuid().toString(QUuid::Id128);
        if (t.contains("id")) {
            id = t["id"].is_string() ? qs(t["id"].get<std::string>()) : QString();
            if (!idShape.match(id).hasMatch())
                return closeError(400,
                                  where
                                      + QStringLiteral("id must look like task_<letters "
                                                       "and digits>"),
                                  QStringLiteral("id"));
        }
        if (d->seqById.contains(id) || ids.contains(id))
            return closeError(400, where + QStringLiteral("a task '%1' exists").arg(id),
                              QStringLiteral("id"));
        ids.insert(id);
        const bool complete = t.value("is_complete", false) == true;
        const std::string createdText = taskStoreTimeText(created);
        SandboxCloseTask task;
        task.created = created;
        task.object = {
            { "id", id.toStdString() },
            { "_type", "lead" },
            { "lead_id", leadId.toStdString() },
            { "lead_name", name->toStdString() },
            { "text", t["text"] },
            { "date", created.date().toString(Qt::ISODate).toStdString() },
            { "is_complete", complete },
            { "assigned_to", nullptr },
            { "object_type", nullptr },
            { "object_id", nullptr },
            { "organization_id", "orga_sandbox" },
            { "date_created", createdText },
            { "date_updated", createdText },
        };
        made.push_back(std::move(task));
    }
    json stored = json::array();
    for (SandboxCloseTask &task : made) {
        task.seq = d->nextSeq++;
        d->seqById.insert(qs(task.object["id"].get<std::string>()), task.seq);
        stored.push_back(task.object);
        d->tasks.emplace(task.seq, std::move(task));
    }
    return jsonReply(200, json { { "stored", stored.size() }, { "tasks", std::move(stored) } });
}

StoreReply CloseTaskStore::deleteTask(const QString &id)
{
    const auto it = d->seqById.constFind(id);
    if (it == d->seqById.constEnd())
        return closeError(404, QStringLiteral("Task not found"));
    d->tasks.erase(it.value());
    d->seqById.erase(it);
    return jsonReply(200, json::object());
}

StoreReply CloseTaskStore::list(const QUrlQuery &raw) const
{
    // Close's servers read a query string as a form does: a bare '+' is a space, so
    // "+00:00" must travel as %2B00:00.
    const QUrlQuery query(
        raw.query(QUrl::FullyEncoded).replace(QLatin1Char('+'), QLatin1String("%20")));
    static const QStringList supported {
        QStringLiteral("_type"),
        QStringLiteral("_type__in"),
        QStringLiteral("lead_id"),
        QStringLiteral("id"),
        QStringLiteral("id__in"),
        QStringLiteral("is_complete"),
        QStringLiteral("date_created__gt"),
        QStringLiteral("date_created__gte"),
        QStringLiteral("date_created__lt"),
        QStringLiteral("date_created__lte"),
        QStringLiteral("_order_by"),
        QStringLiteral("_skip"),
        QStringLiteral("_limit"),
        QStringLiteral("_fields"),
    };
    std::map<QString, QString> p;
    for (const auto &[name, value] : query.queryItems(QUrl::FullyDecoded)) {
        if (!supported.contains(name))
            return closeError(
                400,
                QStringLiteral("'%1' is not a task filter the sandbox supports").arg(name.left(64)),
                name.left(64));
        if (p.count(name))
            return closeError(400, QStringLiteral("'%1' is given twice").arg(name), name);
        p[name] = value;
    }
    auto has = [&p](const char *name) { return p.count(QLatin1String(name)) > 0; };
    auto get = [&p](const char *name) { return p[QLatin1String(name)]; };

    // _type: "lead" when absent; "all"; or one known type. _type__in: a comma list of types.
    QSet<QString> types { QStringLiteral("lead") };
    if (has("_type") && has("_type__in"))
        return closeError(400, QStringLiteral("give _type or _type__in, not both"),
                          QStringLiteral("_type"));
    if (has("_type")) {
        const QString type = get("_type");
        if (type == QLatin1String("all"))
            types = QSet<QString>(closeTaskTypes().begin(), closeTaskTypes().end());
        else if (closeTaskTypes().contains(type))
            types = { type };
        else
            return closeError(400, QStringLiteral("'%1' is not a task type").arg(type.left(64)),
                              QStringLiteral("_type"));
    }
    if (has("_type__in")) {
        types.clear();
        for (const QString &type : get("_type__in").split(QLatin1Char(','))) {
            if (!closeTaskTypes().contains(type))
                return closeError(400, QStringLiteral("'%1' is not a task type").arg(type.left(64)),
                                  QStringLiteral("_type__in"));
            types.insert(type);
        }
    }
    std::optional<bool> complete;
    if (has("is_complete")) {
        const QString v = get("is_complete").toLower();
        if (v == QLatin1String("true") || v == QLatin1String("1"))
            complete = true;
        else if (v == QLatin1String("false") || v == QLatin1String("0"))
            complete = false;
        else
            return closeError(400, QStringLiteral("is_complete must be true or false"),
                              QStringLiteral("is_complete"));
    }
    struct Bound
    {
        const char *name;
        std::optional<QDateTime> at;
    };
    Bound bounds[] = { { "date_created__gt", {} },
                       { "date_created__gte", {} },
                       { "date_created__lt", {} },
                       { "date_created__lte", {} } };
    for (Bound &b : bounds) {
        if (!has(b.name))
            continue;
        b.at = taskStoreTime(get(b.name));
        if (!b.at)
            return closeError(400,
                              QStringLiteral("%1: '%2' is not an ISO 8601 date or date-time")
                                  .arg(QLatin1String(b.name), get(b.name).left(64)),
                              QLatin1String(b.name));
    }
    QString orderBy = QStringLiteral("date_created");
    if (has("_order_by")) {
        orderBy = get("_order_by");
        static const QStringList orders { QStringLiteral("date"), QStringLiteral("-date"),
                                          QStringLiteral("date_created"),
                                          QStringLiteral("-date_created") };
        if (!orders.contains(orderBy))
            return closeError(400,
                              QStringLiteral("_order_by must be date or date_created, with an "
                                             "optional leading '-'"),
                              QStringLiteral("_order_by"));
    }
    auto whole = [&](const char *name, int fallback, int low, int high) -> std::optional<int> {
        if (!has(name))
            return fallback;
        bool ok = false;
        const qint64 v = get(name).toLongLong(&ok);
        if (!ok || v < low || v > high)
            return std::nullopt;
        return int(v);
    };
    const auto skip = whole("_skip", 0, 0, std::numeric_limits<int>::max());
    if (!skip)
        return closeError(400, QStringLiteral("_skip must be a whole number, 0 or more"),
                          QStringLiteral("_skip"));
    const auto limit = whole("_limit", kDefaultLimit, 1, kMaxLimit);
    if (!limit)
        return closeError(
            400, QStringLiteral("_limit must be a whole number from 1 to %1").arg(kMaxLimit),
            QStringLiteral("_limit"));
    QSet<QString> idsIn;
    if (has("id__in"))
        for (const QString &id : get("id__in").split(QLatin1Char(',')))
            idsIn.insert(id);
    QStringList fields;
    if (has("_fields"))
        fields = get("_fields").split(QLatin1Char(','), Qt::SkipEmptyParts);

    std::vector<const SandboxCloseTask *> matches;
    for (const auto &[seq, task] : d->tasks) {
        const json &o = task.object;
        if (!types.contains(qs(o["_type"].get<std::string>())))
            continue;
        if (has("lead_id") && qs(o["lead_id"].get<std::string>()) != get("lead_id"))
            continue;
        const QString id = qs(o["id"].get<std::string>());
        if ((has("id") && id != get("id")) || (has("id__in") && !idsIn.contains(id)))
            continue;
        if (complete && o["is_complete"].get<bool>() != *complete)
            continue;
        const QDateTime &c = task.created;
        if ((bounds[0].at && !(c > *bounds[0].at)) || (bounds[1].at && !(c >= *bounds[1].at))
            || (bounds[2].at && !(c < *bounds[2].at)) || (bounds[3].at && !(c <= *bounds[3].at)))
            continue;
        matches.push_back(&task);
    }
    const bool descending = orderBy.startsWith(QLatin1Char('-'));
    const bool byDay = orderBy.endsWith(QLatin1String("date"));
    std::stable_sort(matches.begin(), matches.end(),
                     [descending, byDay](const SandboxCloseTask *a, const SandboxCloseTask *b) {
                         const auto key = [byDay](const SandboxCloseTask *t) {
                             return byDay ? QDateTime(t->created.date(), QTime(0, 0), Qt::UTC)
                                          : t->created;
                         };
                         return descending ? key(b) < key(a) : key(a) < key(b);
                     });
    json data = json::array();
    const size_t from = std::min(matches.size(), size_t(*skip));
    const size_t to = std::min(matches.size(), from + size_t(*limit));
    for (size_t i = from; i < to; ++i) {
        const json &o = matches[i]->object;
        if (fields.isEmpty()) {
            data.push_back(o);
            continue;
        }
        json picked = json::object();
        for (const QString &field : fields) {
            const std::string name = field.trimmed().toStdString();
            if (o.contains(name))
                picked[name] = o[name];
        }
        data.push_back(std::move(picked));
    }
    return jsonReply(200,
                     json { { "data", std::move(data) }, { "has_more", to < matches.size() } });
}

} // namespace sluice
