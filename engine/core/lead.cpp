#include "lead.h"

#include <QRegularExpression>

namespace sluice {

namespace {

bool isAsciiPrintable(const QString &s)
{
    for (QChar c : s) {
        if (c.unicode() <= 0x20 || c.unicode() >= 0x7f)
            return false;
    }
    return true;
}

} // namespace

std::optional<QString> emailProblem(const QString &email)
{
    if (email.isEmpty())
        return QStringLiteral("is empty");
    if (email.size() > 254)
        return QStringLiteral("is longer than 254 characters");
    if (!isAsciiPrintable(email))
        return QStringLiteral("contains spaces, control or non-ASCII characters");
    const qsizetype at = email.indexOf(QLatin1Char('@'));
    if (at < 0)
        return QStringLiteral("has no '@'");
    if (email.indexOf(QLatin1Char('@'), at + 1) >= 0)
        return QStringLiteral("has more than one '@'");
    const QString local = email.left(at);
    const QString domain = email.mid(at + 1);
    if (local.isEmpty())
        return QStringLiteral("has nothing before '@'");
    if (local.size() > 64)
        return QStringLiteral("has a local part longer than 64 characters");
    static const QRegularExpression localRe(
        QStringLiteral("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"));
    if (!localRe.match(local).hasMatch())
        return QStringLiteral("has an invalid local part");
    static const QRegularExpression domainRe(
        QStringLiteral("^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]([A-Za-z0-9-]{0,"
                       "61}[A-Za-z0-9])?$"));
    if (!domainRe.match(domain).hasMatch())
        return QStringLiteral("has an invalid domain");
    return std::nullopt;
}

QString normalizedEmail(const QString &email)
{
    return email.trimmed().toLower();
}

std::pair<QString, QString> splitFullName(const QString &fullName)
{
    const QString simplified = fullName.simplified();
    const qsizetype space = simplified.indexOf(QLatin1Char(' '));
    if (space < 0)
        return { simplified, QString() };
    return { simplified.left(space), simplified.mid(space + 1) };
}

} // namespace sluice
