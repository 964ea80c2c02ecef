#include "closestore.h"
#include "stdstrings.h"

#include <QCryptographicHash>
#include <QHash>
#include <QSet>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>

namespace sluice {

using json = nlohmann::json;

namespace {

using sandboxtext::qs;

/// Only these keys, or a 400 naming the first stranger.
std::optional<QString> onlyKeys(const json &object, std::initializer_list<const char *> allowed,
                                const QString &where)
{
    for (auto it = object.begin(); it != object.end(); ++it) {
        const bool known = std::any_of(allowed.begin(), allowed.end(),
                                       [&](const char *key) { return it.key() == key; });
        if (!known)
            return QStringLiteral("%1: '%2' is not supported by the sandbox")
                .arg(where, qs(it.key()));
    }
    return std::nullopt;
}

/// The ids a lead-id condition names, in either documented form: `reference` (for ID fields)
/// or `term` (fixed values).
std::optional<QString> conditionIds(const json &condition, std::vector<std::string> *ids)
{
    if (!condition.is_object() || !condition.contains("type") || !condition["type"].is_string())
        return QStringLiteral("condition must be an object with a type");
    const std::string type = condition["type"];
    const char *listKey = nullptr;
    if (type == "reference") {
        if (auto bad = onlyKeys(condition, { "type", "reference_type", "object_ids" },
                                QStringLiteral("reference condition")))
            return bad;
        if (condition.value("reference_type", json()) != "lead")
            return QStringLiteral("reference condition on the lead id needs reference_type "
                                  "\"lead\"");
        listKey = "object_ids";
    } else if (type == "term") {
        if (auto bad = onlyKeys(condition, { "type", "values" }, QStringLiteral("term condition")))
            return bad;
        listKey = "values";
    } else {
        return QStringLiteral("condition type '%1' is not supported on the lead id (use "
                              "'reference' or 'term')")
            .arg(qs(type));
    }
    const json list = condition.value(listKey, json());
    if (!list.is_array())
        return QStringLiteral("%1 must be an array").arg(QLatin1String(listKey));
    for (const json &id : list) {
        if (!id.is_string())
            return QStringLiteral("%1 must be an array of strings").arg(QLatin1String(listKey));
        ids->push_back(id.get<std::string>());
    }
    return std::nullopt;
}

/// Accepts exactly: an `and` of an `object_type` query for lead and a `field_condition` on the
/// lead's `id` (in either order). Fills `ids`; returns what is wrong otherwise.
std::optional<QString> leadIdsQuery(const json &query, std::vector<std::string> *ids)
{
    if (!query.is_object() || query.value("type", json()) != "and")
        return QStringLiteral("query must be an 'and' query");
    if (auto bad = onlyKeys(query, { "type", "queries" }, QStringLiteral("and query")))
        return bad;
    const json queries = query.value("queries", json());
    if (!queries.is_array() || queries.size() != 2)
        return QStringLiteral("the 'and' query must hold an object_type query and one "
                              "field_condition on the lead id");
    bool sawType = false, sawCondition = false;
    for (const json &q : queries) {
        if (!q.is_object() || !q.contains("type") || !q["type"].is_string())
            return QStringLiteral("every query needs a type");
        const std::string type = q["type"];
        if (type == "object_type" && !sawType) {
            if (auto bad = onlyKeys(q, { "type", "object_type" }, QStringLiteral("object_type")))
                return bad;
            if (q.value("object_type", json()) != "lead")
                return QStringLiteral("only object_type 'lead' is supported by the sandbox");
            sawType = true;
        } else if (type == "field_condition" && !sawCondition) {
            if (auto bad
                = onlyKeys(q, { "type", "field", "condition" }, QStringLiteral("field_condition")))
                return bad;
            const json field = q.value("field", json());
            if (field
                != json { { "type", "regular_field" },
                          { "object_type", "lead" },
                          { "field_name", "id" } })
                return QStringLiteral("only the field {\"type\": \"regular_field\", "
                                      "\"object_type\": \"lead\", \"field_name\": \"id\"} is "
                                      "supported by the sandbox");
            if (auto bad = conditionIds(q.value("condition", json()), ids))
                return bad;
            sawCondition = true;
        } else {
            return QStringLiteral("query type '%1' is not supported here by the sandbox")
                .arg(qs(type));
        }
    }
    return std::nullopt;
}

QByteArray fingerprint(const std::vector<std::string> &ids)
{
    QCryptographicHash hash(QCryptographicHash::Sha1);
    for (const std::string &id : ids) {
        hash.addData(QByteArrayView(id.data(), qsizetype(id.size())));
        hash.addData(QByteArrayView("\n"));
    }
    return hash.result().toHex().left(16);
}

/// Opaque to clients; here "sbx1:<offset>:<fingerprint of the query's ids>".
std::string makeCursor(qsizetype offset, const QByteArray &print)
{
    const QByteArray raw = "sbx1:" + QByteArray::number(offset) + ':' + print;
    return raw.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals)
        .toStdString();
}

std::optional<qsizetype> readCursor(const std::string &cursor, const QByteArray &print)
{
    const QByteArray raw
        = QByteArray::fromBase64(QByteArray::fromStdString(cursor),
                                 QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals);
    const QList<QByteArray> parts = raw.split(':');
    if (parts.size() != 3 || parts[0] != "sbx1" || parts[2] != print)
        return std::nullopt;
    bool ok = false;
    const qsizetype offset = parts[1].toLongLong(&ok);
    if (!ok || offset < 0)
        return std::nullopt;
    return offset;
}

json pick(const json &lead, const json &fields)
{
    json out = { { "__object_type", "lead" } };
    for (const json &field : fields) {
        const std::string name = field.get<std::string>();
        if (lead.contains(name))
            out[name] = lead[name];
    }
    return out;
}

} // namespace

StoreReply closeError(int status, const QString &message, const QString &field)
{
    json fieldErrors = json::object();
    if (!field.isEmpty())
        fieldErrors[field.toStdString()] = message.toStdString();
    return jsonReply(status,
                     json { { "error", message.toStdString() },
                            { "errors", json::array() },
                            { "field-errors", std::move(fieldErrors) } });
}

struct CloseStore::Impl
{
    quint64 nextSeq = 1;
    std::map<quint64, json> leads; ///< by the order they were first stored
    QHash<QString, quint64> seqById;
};

CloseStore::CloseStore()
    : d(std::make_unique<Impl>())
{ }
CloseStore::~CloseStore() = default;

StoreReply CloseStore::putLeads(const json &in)
{
    const json leads = in.is_array() ? in : json::array({ in });
    for (const json &lead : leads) {
        if (!lead.is_object() || !lead.contains("id") || !lead["id"].is_string()
            || lead["id"].get<std::string>().empty())
            return closeError(400,
                              QStringLiteral("a Close lead must be an object with a string "
                                             "'id'"));
    }
    for (const json &lead : leads) {
        const QString id = qs(lead["id"].get<std::string>());
        const auto it = d->seqById.constFind(id);
        if (it != d->seqById.constEnd()) {
            d->leads[it.value()] = lead;
            continue;
        }
        const quint64 seq = d->nextSeq++;
        d->seqById.insert(id, seq);
        d->leads.emplace(seq, lead);
    }
    return jsonReply(200, json { { "stored", leads.size() } });
}

void CloseStore::clear()
{
    d = std::make_unique<Impl>();
}

int CloseStore::leadCount() const
{
    return int(d->leads.size());
}

StoreReply CloseStore::getLead(const QString &id, const QStringList &fields) const
{
    const auto it = d->seqById.constFind(id);
    if (it == d->seqById.constEnd())
        return closeError(404, QStringLiteral("Lead not found"));
    const json &lead = d->leads.at(it.value());
    if (fields.isEmpty())
        return jsonReply(200, lead);
    json out = json::object();
    for (const QString &field : fields) {
        const std::string name = field.trimmed().toStdString();
        if (lead.contains(name))
            out[name] = lead[name];
    }
    return jsonReply(200, std::move(out));
}

StoreReply CloseStore::search(const json &body) const
{
    if (!body.is_object())
        return closeError(400, QStringLiteral("body must be a JSON object"));
    if (auto bad
        = onlyKeys(body, { "query", "_limit", "cursor", "_fields" }, QStringLiteral("search body")))
        return closeError(400, *bad);
    if (!body.contains("query"))
        return closeError(400, QStringLiteral("This field is required."), QStringLiteral("query"));
    std::vector<std::string> ids;
    if (auto bad = leadIdsQuery(body["query"], &ids))
        return closeError(400, *bad, QStringLiteral("query"));

    int limit = kDefaultSearchLimit;
    if (body.contains("_limit")) {
        const json &l = body["_limit"];
        if (!l.is_number_integer() || l.get<qint64>() < 1 || l.get<qint64>() > kMaxSearchLimit)
            return closeError(
                400,
                QStringLiteral("_limit must be an integer between 1 and %1").arg(kMaxSearchLimit),
                QStringLiteral("_limit"));
        limit = l.get<int>();
    }
    json fields;
    if (body.contains("_fields")) {
        const json &f = body["_fields"];
        bool ok = f.is_object();
        for (auto it = f.begin(); ok && it != f.end(); ++it) {
            ok = it->is_array()
                && std::all_of(it->begin(), it->end(), [](const json &n) { return n.is_string(); });
        }
        if (!ok)
            return closeError(400,
                              QStringLiteral("_fields must map object types to lists of field "
                                             "names, e.g. {\"lead\": [\"id\", \"contacts\"]}"),
                              QStringLiteral("_fields"));
        if (f.contains("lead"))
            fields = f["lead"];
    }

    const QByteArray print = fingerprint(ids);
    qsizetype offset = 0;
    if (body.contains("cursor") && !body["cursor"].is_null()) {
        const auto read = body["cursor"].is_string()
            ? readCursor(body["cursor"].get<std::string>(), print)
            : std::nullopt;
        if (!read)
            return closeError(400, QStringLiteral("Invalid cursor"), QStringLiteral("cursor"));
        offset = *read;
    }

    // Matches in the order the leads were stored; ids that do not exist are simply absent.
    std::vector<quint64> matches;
    QSet<quint64> seen;
    for (const std::string &id : ids) {
        const auto it = d->seqById.constFind(qs(id));
        if (it != d->seqById.constEnd() && !seen.contains(it.value())) {
            seen.insert(it.value());
            matches.push_back(it.value());
        }
    }
    std::sort(matches.begin(), matches.end());

    json data = json::array();
    const qsizetype end = std::min<qsizetype>(qsizetype(matches.size()), offset + limit);
    for (qsizetype i = offset; i < end; ++i) {
        const json &lead = d->leads.at(matches[size_t(i)]);
        data.push_back(fields.is_array()
                           ? pick(lead, fields)
                           : json { { "__object_type", "lead" }, { "id", lead["id"] } });
    }
    const json cursor = end < qsizetype(matches.size()) ? json(makeCursor(end, print)) : json();
    return jsonReply(200, json { { "data", std::move(data) }, { "cursor", cursor } });
}

} // namespace sluice
