#include "sandboxemail.h"

#include <QStringList>

namespace sluice {

namespace {

constexpr qsizetype kMaxAddress = 254;
constexpr qsizetype kMaxLocal = 64;
constexpr qsizetype kMaxDomain = 253;
constexpr qsizetype kMaxLabel = 63;

bool isAsciiLetter(QChar c)
{
    return (c >= QLatin1Char('a') && c <= QLatin1Char('z'))
        || (c >= QLatin1Char('A') && c <= QLatin1Char('Z'));
}

bool isAsciiDigit(QChar c)
{
    return c >= QLatin1Char('0') && c <= QLatin1Char('9');
}

/// RFC 5322 atext.
bool isAtext(QChar c)
{
    static const QString specials = QStringLiteral("!#$%&'*+/=?^_`{|}~-");
    return isAsciiLetter(c) || isAsciiDigit(c) || specials.contains(c);
}

bool localPartValid(const QString &local)
{
    if (local.isEmpty() || local.size() > kMaxLocal)
        return false;
    if (local.startsWith(QLatin1Char('.')) || local.endsWith(QLatin1Char('.'))
        || local.contains(QLatin1String("..")))
        return false;
    for (QChar c : local) {
        if (c != QLatin1Char('.') && !isAtext(c))
            return false;
    }
    return true;
}

bool labelValid(const QString &label)
{
    if (label.isEmpty() || label.size() > kMaxLabel)
        return false;
    if (label.startsWith(QLatin1Char('-')) || label.endsWith(QLatin1Char('-')))
        return false;
    for (QChar c : label) {
        if (!isAsciiLetter(c) && !isAsciiDigit(c) && c != QLatin1Char('-'))
            return false;
    }
    return true;
}

bool domainValid(const QString &domain)
{
    if (domain.isEmpty() || domain.size() > kMaxDomain)
        return false;
    const QStringList labels = domain.split(QLatin1Char('.'));
    if (labels.size() < 2)
        return false;
    for (const QString &label : labels) {
        if (!labelValid(label))
            return false;
    }
    const QString &tld = labels.back();
    if (tld.size() < 2)
        return false;
    for (QChar c : tld) {
        if (!isAsciiLetter(c))
            return false;
    }
    return true;
}

} // namespace

bool sandboxEmailValid(const QString &email)
{
    if (email.isEmpty() || email.size() > kMaxAddress)
        return false;
    for (QChar c : email) {
        if (c.unicode() <= 0x20 || c.unicode() >= 0x7f)
            return false; // whitespace, control characters, non-ASCII
    }
    if (email.count(QLatin1Char('@')) != 1)
        return false;
    const qsizetype at = email.indexOf(QLatin1Char('@'));
    return localPartValid(email.left(at)) && domainValid(email.mid(at + 1));
}

QString sandboxEmailKey(const QString &email)
{
    return email.trimmed().toLower();
}

QString sandboxEmailDomain(const QString &emailKey)
{
    const qsizetype at = emailKey.lastIndexOf(QLatin1Char('@'));
    return at < 0 ? QString() : emailKey.mid(at + 1);
}

} // namespace sluice
