#include "queuedlead.h"

#include <QHash>

#include "core/jsontext.h"
#include "core/jsonvariant.h"

#include <nlohmann/json.hpp>

namespace sluice {

using json = nlohmann::json;

namespace { } // namespace

QList<QByteArray> QueuedLead::toFields() const
{
    QList<QByteArray> out { "task",        taskId.toUtf8(),
                            "campaign",    campaignName.toUtf8(),
                            "source",      source.toUtf8(),
                            "received_ms", QByteArray::number(receivedMs),
                            "attempt",     QByteArray::number(attempt),
                            "event",       eventId.toUtf8() };
    if (needsLookup) {
        out << "close_lead" << closeLeadId.toUtf8();
        return out;
    }
    json vars = json::object();
    for (auto it = lead.customVariables.cbegin(); it != lead.customVariables.cend(); ++it)
        vars[it.key().toStdString()] = variantToJson(it.value());
    const json j = { { "email", lead.email.toStdString() },
                     { "first_name", lead.firstName.toStdString() },
                     { "last_name", lead.lastName.toStdString() },
                     { "company_name", lead.companyName.toStdString() },
                     { "custom_variables", vars } };
    out << "lead" << jsonBytes(j);
    return out;
}

Result<QueuedLead, QString> QueuedLead::fromFields(const QList<QByteArray> &fieldsAndValues)
{
    if (fieldsAndValues.size() % 2 != 0)
        return QStringLiteral("odd number of fields");
    QHash<QByteArray, QByteArray> f;
    for (qsizetype i = 0; i + 1 < fieldsAndValues.size(); i += 2)
        f.insert(fieldsAndValues[i], fieldsAndValues[i + 1]);
    QueuedLead q;
    for (const char *required : { "task", "campaign" }) {
        if (f.value(required).isEmpty())
            return QStringLiteral("field '%1' is missing").arg(QLatin1String(required));
    }
    q.taskId = QString::fromUtf8(f.value("task"));
    q.campaignName = QString::fromUtf8(f.value("campaign"));
    q.source = QString::fromUtf8(f.value("source"));
    q.receivedMs = f.value("received_ms").toLongLong();
    q.attempt = f.value("attempt").toInt();
    q.eventId = QString::fromUtf8(f.value("event"));
    q.uncertain = f.value("uncertain") == "1";
    if (f.contains("close_lead")) {
        q.needsLookup = true;
        q.closeLeadId = QString::fromUtf8(f.value("close_lead"));
        if (q.closeLeadId.isEmpty())
            return QStringLiteral("field 'close_lead' is empty");
        return q;
    }
    const QByteArray raw = f.value("lead");
    if (raw.isEmpty())
        return QStringLiteral("neither 'lead' nor 'close_lead' is present");
    try {
        const json j = parseJsonOrThrow(raw);
        if (!j.is_object() || !j.contains("email") || !j["email"].is_string())
            return QStringLiteral("field 'lead' has no string 'email'");
        auto str = [&](const char *key) {
            return j.contains(key) && j[key].is_string()
                ? QString::fromStdString(j[key].get<std::string>())
                : QString();
        };
        q.lead.email = str("email");
        q.lead.firstName = str("first_name");
        q.lead.lastName = str("last_name");
        q.lead.companyName = str("company_name");
        if (j.contains("custom_variables") && j["custom_variables"].is_object()) {
            for (auto it = j["custom_variables"].begin(); it != j["custom_variables"].end(); ++it)
                q.lead.customVariables.insert(QString::fromStdString(it.key()), jsonToVariant(*it));
        }
    } catch (const json::exception &e) {
        return QStringLiteral("field 'lead' is not JSON: %1").arg(QString::fromUtf8(e.what()));
    }
    return q;
}

} // namespace sluice
