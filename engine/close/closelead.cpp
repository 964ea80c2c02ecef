#include "closelead.h"

#include <QHash>

#include "close/jsontypename.h"

#include <nlohmann/json.hpp>

namespace sluice {

using json = nlohmann::json;

namespace {

constexpr qsizetype kLabelLength = 60; // how much of a name or address a reason repeats

QString leadQString(const std::string &s)
{
    return QString::fromStdString(s);
}

QString shortened(const QString &s)
{
    return s.size() <= kLabelLength ? s : s.left(kLabelLength) + QStringLiteral("…");
}

QString join(const QString &path, const QString &member)
{
    return path.isEmpty() ? member : path + QLatin1Char('.') + member;
}

/// Reads an optional string member (absent or null: empty) within the length limit.
Result<QString, IntakeError> optionalString(const json &obj, const char *key, const QString &field,
                                            const IntakeLimits &limits)
{
    const auto it = obj.find(key);
    if (it == obj.end() || it->is_null())
        return QString();
    if (!it->is_string())
        return IntakeError { field, QStringLiteral("must be a string, not ") + jsonTypeName(*it) };
    const auto &s = it->get_ref<const std::string &>();
    if (s.size() > size_t(limits.maxFieldLength))
        return IntakeError { field,
                             QStringLiteral("is %1 bytes long; at most %2 are accepted")
                                 .arg(s.size())
                                 .arg(limits.maxFieldLength) };
    return leadQString(s);
}

/// The first usable address of one contact, or nullopt; reasons for the unusable ones go to
/// `out.skipped`, their addresses to `out.unusableEmails`. `usedBy` maps normalized addresses
/// already taken to the contact that took them.
Result<std::optional<QString>, IntakeError> pickEmail(const json &emails, const QString &path,
                                                      const QString &label,
                                                      const QHash<QString, QString> &usedBy,
                                                      const IntakeLimits &limits,
                                                      CloseLeadConversion &out)
{
    QStringList &skipped = out.skipped;
    for (size_t j = 0; j < emails.size(); ++j) {
        const json &entry = emails[j];
        const QString entryPath = path + QLatin1Char('[') + QString::number(j) + QLatin1Char(']');
        if (!entry.is_object())
            return IntakeError { entryPath,
                                 QStringLiteral("must be an object with \"email\", not ")
                                     + jsonTypeName(entry) };
        auto email = optionalString(entry, "email", entryPath + QStringLiteral(".email"), limits);
        if (!email)
            return email.error();
        const auto unsubscribed = entry.find("is_unsubscribed");
        if (unsubscribed != entry.end() && !unsubscribed->is_null() && !unsubscribed->is_boolean())
            return IntakeError { entryPath + QStringLiteral(".is_unsubscribed"),
                                 QStringLiteral("must be a boolean, not ")
                                     + jsonTypeName(*unsubscribed) };

        const QString address = email.value().trimmed();
        const QString prefix = QStringLiteral("contact '%1': ").arg(label);
        if (address.isEmpty()) {
            skipped << prefix + QStringLiteral("email #%1 is empty").arg(j + 1);
            continue;
        }
        if (unsubscribed != entry.end() && unsubscribed->is_boolean()
            && unsubscribed->get<bool>()) {
            skipped << prefix + shortened(address) + QStringLiteral(" is unsubscribed");
            out.unusableEmails << address;
            ++out.unsubscribed;
            continue;
        }
        if (const auto problem = emailProblem(address)) {
            skipped << prefix + QLatin1Char('"') + shortened(address) + QStringLiteral("\" ")
                    + *problem;
            out.unusableEmails << address;
            continue;
        }
        const auto owner = usedBy.constFind(normalizedEmail(address));
        if (owner != usedBy.constEnd()) {
            skipped << prefix + shortened(address)
                    + QStringLiteral(" is already used by contact '%1'").arg(owner.value());
            continue;
        }
        return std::optional<QString>(address);
    }
    return std::optional<QString>();
}

} // namespace

Result<CloseLeadConversion, IntakeError> convertCloseLead(const json &lead,
                                                          const IntakeLimits &limits)
{
    if (!lead.is_object())
        return IntakeError {
            {}, QStringLiteral("must be an object (a Close lead), not ") + jsonTypeName(lead)
        };

    auto leadId = optionalString(lead, "id", QStringLiteral("id"), limits);
    if (!leadId)
        return leadId.error();
    auto displayName = optionalString(lead, "display_name", QStringLiteral("display_name"), limits);
    if (!displayName)
        return displayName.error();
    auto name = optionalString(lead, "name", QStringLiteral("name"), limits);
    if (!name)
        return name.error();
    const QString company = !displayName.value().trimmed().isEmpty() ? displayName.value().trimmed()
                                                                     : name.value().trimmed();

    CloseLeadConversion out;
    const auto contacts = lead.find("contacts");
    if (contacts == lead.end() || contacts->is_null()
        || (contacts->is_array() && contacts->empty())) {
        out.skipped << QStringLiteral("the lead has no contacts");
        return out;
    }
    if (!contacts->is_array())
        return IntakeError { QStringLiteral("contacts"),
                             QStringLiteral("must be an array, not ") + jsonTypeName(*contacts) };

    QHash<QString, QString> usedBy;
    for (size_t i = 0; i < contacts->size(); ++i) {
        const json &contact = (*contacts)[i];
        const QString path = QStringLiteral("contacts[%1]").arg(i);
        if (!contact.is_object())
            return IntakeError {
                path, QStringLiteral("must be an object, not ") + jsonTypeName(contact)
            };
        auto contactName
            = optionalString(contact, "name", join(path, QStringLiteral("name")), limits);
        if (!contactName)
            return contactName.error();
        auto contactId = optionalString(contact, "id", join(path, QStringLiteral("id")), limits);
        if (!contactId)
            return contactId.error();

        const QString fullName = contactName.value().simplified();
        const QString label = !fullName.isEmpty() ? shortened(fullName)
            : !contactId.value().isEmpty()        ? shortened(contactId.value())
                                                  : QStringLiteral("#%1").arg(i + 1);

        const QString emailsPath = join(path, QStringLiteral("emails"));
        const auto emails = contact.find("emails");
        if (emails != contact.end() && !emails->is_null() && !emails->is_array())
            return IntakeError { emailsPath,
                                 QStringLiteral(
                                     "must be an array of {\"email\": ...} objects, not ")
                                     + jsonTypeName(*emails) };
        if (emails == contact.end() || emails->is_null() || emails->empty()) {
            out.skipped << QStringLiteral("contact '%1': no email address").arg(label);
            continue;
        }

        auto picked = pickEmail(*emails, emailsPath, label, usedBy, limits, out);
        if (!picked)
            return picked.error();
        if (!picked.value())
            continue;

        Lead converted;
        converted.email = *picked.value();
        std::tie(converted.firstName, converted.lastName) = splitFullName(fullName);
        converted.companyName = company;
        if (!leadId.value().isEmpty())
            converted.customVariables.insert(QStringLiteral("close_lead_id"), leadId.value());
        usedBy.insert(normalizedEmail(converted.email), label);
        out.leads.push_back(std::move(converted));
        if (out.leads.size() > size_t(limits.maxLeads))
            return IntakeError { QStringLiteral("contacts"),
                                 QStringLiteral(
                                     "yield more than %1 leads; at most %1 are accepted for one "
                                     "Close lead")
                                     .arg(limits.maxLeads) };
    }

    return out;
}

QString noUsableContactText(const QString &closeLeadId, const QStringList &skipped)
{
    QString text = QStringLiteral("Close lead %1 has no usable contact").arg(closeLeadId);
    if (!skipped.isEmpty())
        text += QStringLiteral(" (%1)").arg(skipped.join(QStringLiteral("; ")));
    return text;
}

Result<CloseLeadConversion, IntakeError> convertCloseLeadBody(const QByteArray &body,
                                                              const IntakeLimits &limits)
{
    json lead;
    if (auto error = parseLimitedJson(body, limits, lead))
        return *error;
    return convertCloseLead(lead, limits);
}

} // namespace sluice
