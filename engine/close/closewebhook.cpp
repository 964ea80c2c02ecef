#include "closewebhook.h"

#include "close/closelead.h"

#include <QHash>
#include <QRegularExpression>

#include "close/jsontypename.h"
#include "core/jsontext.h"

#include <nlohmann/json.hpp>

#include <limits>

namespace sluice {

using json = nlohmann::json;

namespace {

constexpr QLatin1String kTaskPrefix("Instantly:");
constexpr qsizetype kQuoteLength = 60; // how much of a user value an error message repeats
constexpr qsizetype kMaxParserMessage = 240;

QString webhookQString(const std::string &s)
{
    return QString::fromStdString(s);
}

/// A user value repeated in a message: quoted, and cut short when long.
QString quoted(const QString &value)
{
    if (value.size() <= kQuoteLength)
        return QLatin1Char('"') + value + QLatin1Char('"');
    return QLatin1Char('"') + value.left(kQuoteLength) + QStringLiteral("…\"");
}

/// `path.key`, or `path["odd key"]` when the key is not a plain identifier.
QString memberPath(const QString &path, const std::string &key)
{
    static const QRegularExpression plain(QStringLiteral("^[A-Za-z_][A-Za-z0-9_]*$"));
    const QString k = webhookQString(key);
    if (plain.match(k).hasMatch())
        return path.isEmpty() ? k : path + QLatin1Char('.') + k;
    return path + QLatin1Char('[') + webhookQString(jsonText(json(key))) + QLatin1Char(']');
}

QString indexPath(const QString &path, size_t index)
{
    return path + QLatin1Char('[') + QString::number(index) + QLatin1Char(']');
}

bool hasControlCharacter(const QString &s)
{
    for (QChar c : s) {
        if (c.category() == QChar::Other_Control)
            return true;
    }
    return false;
}

/// Checks a string's size in UTF-8 bytes against the limit.
std::optional<IntakeError> checkLength(const std::string &s, const QString &field,
                                       const IntakeLimits &limits)
{
    if (s.size() > size_t(limits.maxFieldLength))
        return IntakeError { field,
                             QStringLiteral("is %1 bytes long; at most %2 are accepted")
                                 .arg(s.size())
                                 .arg(limits.maxFieldLength) };
    return std::nullopt;
}

enum class Presence { Required, Optional };

/// Reads obj[key] as a string within the length limit. An optional member that is absent or
/// null reads as nullopt; a required one is an error.
Result<std::optional<QString>, IntakeError> readString(const json &obj, const char *key,
                                                       const QString &field, Presence presence,
                                                       const IntakeLimits &limits)
{
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
        if (presence == Presence::Required)
            return IntakeError { field, QStringLiteral("is required") };
        return std::optional<QString>();
    }
    if (!it->is_string())
        return IntakeError { field, QStringLiteral("must be a string, not ") + jsonTypeName(*it) };
    const auto &s = it->get_ref<const std::string &>();
    if (auto tooLong = checkLength(s, field, limits))
        return *tooLong;
    return std::optional<QString>(webhookQString(s));
}

/// Why `body` is not UTF-8, with the byte offset; nullopt when it is. Rejects overlong forms,
/// surrogates and code points above U+10FFFF, like the Unicode standard's table 3-7.
std::optional<QString> utf8Problem(const QByteArray &body)
{
    const auto *p = reinterpret_cast<const unsigned char *>(body.constData());
    const qsizetype n = body.size();
    qsizetype i = 0;
    while (i < n) {
        const unsigned char b = p[i];
        if (b < 0x80) {
            ++i;
            continue;
        }
        int extra = 0;
        unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
        if (b >= 0xC2 && b <= 0xDF) {
            extra = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            extra = 2;
            if (b == 0xE0)
                lo = 0xA0;
            else if (b == 0xED)
                hi = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            extra = 3;
            if (b == 0xF0)
                lo = 0x90;
            else if (b == 0xF4)
                hi = 0x8F;
        } else {
            return QStringLiteral("is not valid UTF-8: byte 0x%1 at offset %2 cannot start a "
                                  "character")
                .arg(uint(b), 2, 16, QLatin1Char('0'))
                .arg(i);
        }
        for (int k = 1; k <= extra; ++k) {
            const bool inRange = i + k < n
                && (k == 1 ? (p[i + k] >= lo && p[i + k] <= hi)
                           : (p[i + k] >= 0x80 && p[i + k] <= 0xBF));
            if (!inRange)
                return QStringLiteral("is not valid UTF-8: the character starting at offset %1 "
                                      "is truncated or malformed")
                    .arg(i);
        }
        i += extra + 1;
    }
    return std::nullopt;
}

/// How deep arrays and objects nest, scanning brackets outside strings; stops at the first
/// byte that goes past `maxDepth` and returns its offset.
std::optional<qsizetype> tooDeepAt(const QByteArray &body, int maxDepth)
{
    int depth = 0;
    bool inString = false;
    bool escaped = false;
    for (qsizetype i = 0; i < body.size(); ++i) {
        const char c = body.at(i);
        if (inString) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                inString = false;
            continue;
        }
        switch (c) {
        case '"':
            inString = true;
            break;
        case '[':
        case '{':
            if (++depth > maxDepth)
                return i;
            break;
        case ']':
        case '}':
            if (depth > 0)
                --depth;
            break;
        default:
            break;
        }
    }
    return std::nullopt;
}

/// Lead ids as Close issues them ("lead_" and an opaque token); also keeps the id safe to put
/// in a URL path for the lookup.
bool isCloseLeadId(const QString &id)
{
    static const QRegularExpression pattern(QStringLiteral("^lead_[A-Za-z0-9_-]{1,123}$"));
    return pattern.match(id).hasMatch();
}

/// A campaign name as the intake accepts it: trimmed, not empty, one line.
std::optional<QString> campaignProblem(const QString &name)
{
    if (name.isEmpty())
        return QStringLiteral("names no campaign");
    if (hasControlCharacter(name))
        return QStringLiteral("has a line break or control character in the campaign name");
    return std::nullopt;
}

} // namespace

bool isCloseTaskId(const QString &id)
{
    static const QRegularExpression pattern(QStringLiteral("^task_[A-Za-z0-9_-]{1,123}$"));
    return pattern.match(id).hasMatch();
}

Result<std::optional<QString>, QString> campaignOfTaskText(const QString &text)
{
    const QString taskText = text.trimmed();
    if (!taskText.startsWith(kTaskPrefix, Qt::CaseInsensitive))
        return std::optional<QString>();
    const QString campaign = taskText.mid(kTaskPrefix.size()).trimmed();
    if (const auto problem = campaignProblem(campaign))
        return QString(*problem + QStringLiteral(": expected \"Instantly: <campaign name>\""));
    return std::optional<QString>(campaign);
}

namespace {

/// The lead id of a Close event: event.data.lead_id, else event.lead_id.
Result<QString, IntakeError> readLeadId(const json &event, const IntakeLimits &limits)
{
    const json *data
        = event.contains("data") && event["data"].is_object() ? &event["data"] : nullptr;
    QString field;
    std::optional<QString> id;
    if (data && data->contains("lead_id") && !(*data)["lead_id"].is_null()) {
        field = QStringLiteral("event.data.lead_id");
        auto read = readString(*data, "lead_id", field, Presence::Required, limits);
        if (!read)
            return read.error();
        id = *read.value();
    } else if (event.contains("lead_id") && !event["lead_id"].is_null()) {
        field = QStringLiteral("event.lead_id");
        auto read = readString(event, "lead_id", field, Presence::Required, limits);
        if (!read)
            return read.error();
        id = *read.value();
    } else {
        return IntakeError { QStringLiteral("event.data.lead_id"),
                             QStringLiteral("is required (and there is no event.lead_id either)") };
    }
    if (!isCloseLeadId(*id))
        return IntakeError { field,
                             QStringLiteral(
                                 "%1 is not a Close lead id (\"lead_\" followed by letters, "
                                 "digits, '_' or '-')")
                                 .arg(quoted(*id)) };
    return *id;
}

/// Best-effort lead id for an ignored event, for the log only.
QString peekLeadId(const json &event)
{
    for (const json *obj : { event.contains("data") ? &event["data"] : nullptr, &event }) {
        if (obj && obj->is_object() && obj->contains("lead_id") && (*obj)["lead_id"].is_string())
            return webhookQString((*obj)["lead_id"].get<std::string>());
    }
    return {};
}

QString prefixed(const QString &prefix, const QString &field)
{
    if (field.isEmpty())
        return prefix;
    if (field.startsWith(QLatin1Char('[')))
        return prefix + field;
    return prefix + QLatin1Char('.') + field;
}

Result<IntakeRequest, IntakeError> parseCloseWebhook(const json &root, const IntakeLimits &limits)
{
    IntakeRequest request;
    request.source = IntakeSource::CloseWebhook;

    auto subscription = readString(root, "subscription_id", QStringLiteral("subscription_id"),
                                   Presence::Optional, limits);
    if (!subscription)
        return subscription.error();
    request.subscriptionId = subscription.value().value_or(QString());

    const json &event = root["event"];
    if (!event.is_object())
        return IntakeError { QStringLiteral("event"),
                             QStringLiteral("must be an object, not ") + jsonTypeName(event) };

    auto eventId = readString(event, "id", QStringLiteral("event.id"), Presence::Required, limits);
    if (!eventId)
        return eventId.error();
    if (eventId.value()->trimmed().isEmpty())
        return IntakeError { QStringLiteral("event.id"), QStringLiteral("must not be empty") };
    request.eventId = *eventId.value();

    auto objectType = readString(event, "object_type", QStringLiteral("event.object_type"),
                                 Presence::Required, limits);
    if (!objectType)
        return objectType.error();
    auto action
        = readString(event, "action", QStringLiteral("event.action"), Presence::Required, limits);
    if (!action)
        return action.error();

    request.closeLeadId = peekLeadId(event);
    if (*objectType.value() != QLatin1String("task.lead")
        || *action.value() != QLatin1String("created")) {
        request.ignoredReason = QStringLiteral("event %1/%2 is not a new lead task "
                                               "(task.lead/created)")
                                    .arg(quoted(*objectType.value()), quoted(*action.value()));
        return request;
    }

    if (!event.contains("data") || event["data"].is_null())
        return IntakeError { QStringLiteral("event.data"),
                             QStringLiteral("is required for task.lead") };
    const json &data = event["data"];
    if (!data.is_object())
        return IntakeError { QStringLiteral("event.data"),
                             QStringLiteral("must be an object, not ") + jsonTypeName(data) };

    auto text
        = readString(data, "text", QStringLiteral("event.data.text"), Presence::Required, limits);
    if (!text)
        return text.error();
    const auto campaign = campaignOfTaskText(*text.value());
    if (!campaign)
        return IntakeError { QStringLiteral("event.data.text"), campaign.error() };
    if (!campaign.value()) {
        request.ignoredReason = QStringLiteral("task text %1 does not start with \"Instantly:\"")
                                    .arg(quoted(text.value()->trimmed()));
        return request;
    }
    request.campaignName = *campaign.value();
    for (const json *holder : { &data, &event }) {
        const char *key = holder == &data ? "id" : "object_id";
        const auto id = holder->find(key);
        if (id != holder->end() && id->is_string()) {
            const QString taskId = webhookQString(id->get<std::string>());
            if (isCloseTaskId(taskId)) {
                request.closeTaskId = taskId;
                break;
            }
        }
    }

    auto leadId = readLeadId(event, limits);
    if (!leadId)
        return leadId.error();
    request.closeLeadId = leadId.value();

    const auto inlineLead = root.find("lead");
    if (inlineLead == root.end() || inlineLead->is_null()) {
        request.needsLeadLookup = true;
        return request;
    }
    if (!inlineLead->is_object())
        return IntakeError { QStringLiteral("lead"),
                             QStringLiteral("must be an object (a Close lead), not ")
                                 + jsonTypeName(*inlineLead) };
    const auto inlineId = inlineLead->find("id");
    if (inlineId != inlineLead->end() && !inlineId->is_null()) {
        if (!inlineId->is_string())
            return IntakeError { QStringLiteral("lead.id"),
                                 QStringLiteral("must be a string, not ")
                                     + jsonTypeName(*inlineId) };
        const QString id = webhookQString(inlineId->get<std::string>());
        if (id != request.closeLeadId)
            return IntakeError { QStringLiteral("lead.id"),
                                 QStringLiteral("is %1 but the event is about %2")
                                     .arg(quoted(id), quoted(request.closeLeadId)) };
    }
    auto converted = convertCloseLead(*inlineLead, limits);
    if (!converted)
        return IntakeError { prefixed(QStringLiteral("lead"), converted.error().field),
                             converted.error().reason };
    request.leads = std::move(converted.value().leads);
    request.allUnsubscribed = converted.value().allUnsubscribed();
    request.skipped = std::move(converted.value().skipped);
    request.unusableEmails = std::move(converted.value().unusableEmails);
    const QString leadIdKey = QStringLiteral("close_lead_id");
    for (Lead &lead : request.leads) {
        if (!lead.customVariables.contains(leadIdKey))
            lead.customVariables.insert(leadIdKey, request.closeLeadId);
    }
    return request;
}

/// One flat custom variable value, as Instantly accepts it.
std::optional<QVariant> flatValue(const json &value)
{
    switch (value.type()) {
    case json::value_t::null:
        return QVariant::fromValue(nullptr);
    case json::value_t::string:
        return QVariant(webhookQString(value.get<std::string>()));
    case json::value_t::boolean:
        return QVariant(value.get<bool>());
    case json::value_t::number_integer:
        return QVariant(qlonglong(value.get<qint64>()));
    case json::value_t::number_unsigned: {
        const auto u = value.get<quint64>();
        // Beyond qint64 only a double can carry it (Instantly reads JSON numbers as doubles).
        if (u > quint64(std::numeric_limits<qint64>::max()))
            return QVariant(double(u));
        return QVariant(qlonglong(u));
    }
    case json::value_t::number_float:
        return QVariant(value.get<double>());
    default:
        return std::nullopt;
    }
}

Result<Lead, IntakeError> parseDirectLead(const json &in, const QString &path,
                                          const IntakeLimits &limits)
{
    if (!in.is_object())
        return IntakeError { path, QStringLiteral("must be an object, not ") + jsonTypeName(in) };
    Lead lead;

    const QString emailField = memberPath(path, "email");
    auto email = readString(in, "email", emailField, Presence::Required, limits);
    if (!email)
        return email.error();
    lead.email = email.value()->trimmed();
    if (const auto problem = emailProblem(lead.email))
        return IntakeError { emailField, quoted(lead.email) + QLatin1Char(' ') + *problem };

    const std::pair<const char *, QString Lead::*> names[] = {
        { "first_name", &Lead::firstName },
        { "last_name", &Lead::lastName },
        { "company_name", &Lead::companyName },
    };
    for (const auto &[key, member] : names) {
        auto value = readString(in, key, memberPath(path, key), Presence::Optional, limits);
        if (!value)
            return value.error();
        lead.*member = value.value().value_or(QString()).trimmed();
    }

    const auto vars = in.find("custom_variables");
    if (vars != in.end() && !vars->is_null()) {
        const QString varsPath = memberPath(path, "custom_variables");
        if (!vars->is_object())
            return IntakeError { varsPath,
                                 QStringLiteral("must be an object of flat values, not ")
                                     + jsonTypeName(*vars) };
        for (auto it = vars->begin(); it != vars->end(); ++it) {
            const QString varPath = memberPath(varsPath, it.key());
            if (auto tooLong = checkLength(it.key(), varPath, limits))
                return IntakeError { varPath,
                                     QStringLiteral("has a name that ") + tooLong->reason };
            if (it->is_string()) {
                if (auto tooLong = checkLength(it->get_ref<const std::string &>(), varPath, limits))
                    return *tooLong;
            }
            const std::optional<QVariant> value = flatValue(*it);
            if (!value)
                return IntakeError { varPath,
                                     QStringLiteral(
                                         "must be a string, number, boolean or null, not ")
                                         + jsonTypeName(*it) };
            lead.customVariables.insert(webhookQString(it.key()), *value);
        }
    }
    return lead;
}

Result<IntakeRequest, IntakeError> parseDirectBatch(const json &root, const IntakeLimits &limits)
{
    IntakeRequest request;
    request.source = IntakeSource::DirectBatch;

    auto campaign
        = readString(root, "campaign", QStringLiteral("campaign"), Presence::Required, limits);
    if (!campaign)
        return campaign.error();
    request.campaignName = campaign.value()->trimmed();
    if (const auto problem = campaignProblem(request.campaignName))
        return IntakeError { QStringLiteral("campaign"), *problem };

    const auto leads = root.find("leads");
    if (leads == root.end())
        return IntakeError { QStringLiteral("leads"), QStringLiteral("is required") };
    if (!leads->is_array())
        return IntakeError { QStringLiteral("leads"),
                             QStringLiteral("must be an array of leads, not ")
                                 + jsonTypeName(*leads) };
    if (leads->empty())
        return IntakeError { QStringLiteral("leads"),
                             QStringLiteral("must hold at least one lead") };
    if (leads->size() > size_t(limits.maxLeads))
        return IntakeError { QStringLiteral("leads"),
                             QStringLiteral("holds %1 leads; at most %2 are accepted per request")
                                 .arg(leads->size())
                                 .arg(limits.maxLeads) };

    QHash<QString, size_t> firstIndexByEmail;
    request.leads.reserve(leads->size());
    for (size_t i = 0; i < leads->size(); ++i) {
        const QString path = indexPath(QStringLiteral("leads"), i);
        auto lead = parseDirectLead((*leads)[i], path, limits);
        if (!lead)
            return lead.error();
        const QString key = normalizedEmail(lead.value().email);
        const auto seen = firstIndexByEmail.constFind(key);
        if (seen != firstIndexByEmail.constEnd())
            return IntakeError { path + QStringLiteral(".email"),
                                 QStringLiteral(
                                     "%1 is also the email of leads[%2]; each address may "
                                     "appear once per batch")
                                     .arg(quoted(lead.value().email))
                                     .arg(seen.value()) };
        firstIndexByEmail.insert(key, i);
        request.leads.push_back(std::move(lead).value());
    }
    return request;
}

} // namespace

QString IntakeError::message() const
{
    return field.isEmpty() ? reason : field + QStringLiteral(": ") + reason;
}

std::optional<IntakeError> parseLimitedJson(const QByteArray &body, const IntakeLimits &limits,
                                            json &out)
{
    if (body.trimmed().isEmpty())
        return IntakeError { {}, QStringLiteral("body is empty; expected a JSON object") };
    if (const auto problem = utf8Problem(body))
        return IntakeError { {}, QStringLiteral("body ") + *problem };
    if (const auto at = tooDeepAt(body, limits.maxDepth))
        return IntakeError { {},
                             QStringLiteral(
                                 "body nests arrays/objects more than %1 levels deep (at byte "
                                 "offset %2)")
                                 .arg(limits.maxDepth)
                                 .arg(*at) };
    try {
        out = parseJsonOrThrow(body);
    } catch (const json::exception &e) {
        // "[json.exception.parse_error.101] parse error at line 1, column 9: ..." -> from "parse".
        QString what = QString::fromUtf8(e.what());
        const qsizetype bracket = what.indexOf(QStringLiteral("] "));
        if (what.startsWith(QLatin1Char('[')) && bracket > 0)
            what = what.mid(bracket + 2);
        // The parser quotes the last token read, which can be a huge string.
        if (what.size() > kMaxParserMessage)
            what = what.left(kMaxParserMessage) + QStringLiteral("…");
        return IntakeError { {}, QStringLiteral("body is not valid JSON: ") + what };
    }
    return std::nullopt;
}

Result<IntakeRequest, IntakeError> parseIntakeBody(const QByteArray &body,
                                                   const IntakeLimits &limits)
{
    json root;
    if (auto error = parseLimitedJson(body, limits, root))
        return *error;
    if (!root.is_object())
        return IntakeError { {},
                             QStringLiteral(
                                 "body must be a JSON object (a Close webhook, or {\"campaign\", "
                                 "\"leads\"}), not ")
                                 + jsonTypeName(root) };
    if (root.contains("event"))
        return parseCloseWebhook(root, limits);
    if (root.contains("leads") || root.contains("campaign"))
        return parseDirectBatch(root, limits);
    return IntakeError { {},
                         QStringLiteral(
                             "body is neither a Close webhook (an object with \"event\") nor a "
                             "direct batch (an object with \"campaign\" and \"leads\")") };
}

} // namespace sluice
