#pragma once

#include <QString>
#include <QVariantMap>

#include <optional>

namespace sluice {

/// One person to add to an Instantly campaign, in Instantly's terms.
struct Lead
{
    QString email;
    QString firstName;
    QString lastName;
    QString companyName;
    /// Flat values only (string, number, bool, null), as Instantly requires.
    QVariantMap customVariables;

    friend bool operator==(const Lead &, const Lead &) = default;
};

/// Why an email address is unusable, or nullopt when it is fine. Pragmatic, not RFC 5322:
/// ASCII local part and domain, one '@', a dotted domain of valid labels, length limits.
std::optional<QString> emailProblem(const QString &email);

/// Lower-cased, trimmed address: the identity used for dedupe and delivered-sets.
QString normalizedEmail(const QString &email);

/// Splits Close's single full-name field: first word, then the rest.
std::pair<QString, QString> splitFullName(const QString &fullName);

} // namespace sluice
