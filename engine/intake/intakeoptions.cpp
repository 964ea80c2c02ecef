#include "intakeoptions.h"

#include <algorithm>

namespace sluice {

namespace {

bool isHex(const QByteArray &text)
{
    if (text.isEmpty() || text.size() % 2 != 0)
        return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

} // namespace

std::optional<QString> IntakeOptions::problem() const
{
    if (address.isNull())
        return QStringLiteral("no listen address is set");
    if (!address.isLoopback() && !allowRemote)
        return QStringLiteral("listening on %1 would accept webhooks from other machines; "
                              "allow it explicitly (--allow-remote) or use 127.0.0.1")
            .arg(listenText());
    if (!webhookSecret.isEmpty() && !isHex(webhookSecret.trimmed()))
        return QStringLiteral("the webhook signature key (CLOSE_WEBHOOK_SECRET) is not hex: "
                              "copy it exactly as Close shows it");
    if (signatureTolerance.count() <= 0)
        return QStringLiteral("the signature tolerance must be positive");
    if (maxBodyBytes <= 0)
        return QStringLiteral("the body limit must be positive, not %1 bytes").arg(maxBodyBytes);
    if (ns.isEmpty())
        return QStringLiteral("the Redis key namespace is empty");
    if (retention.count() <= 0)
        return QStringLiteral("the retention must be positive");
    if (retryAfter.count() <= 0)
        return QStringLiteral("Retry-After must be positive");
    return std::nullopt;
}

QString IntakeOptions::listenText() const
{
    if (address.protocol() == QAbstractSocket::IPv6Protocol)
        return QStringLiteral("[%1]:%2").arg(address.toString()).arg(port);
    return QStringLiteral("%1:%2").arg(address.toString()).arg(port);
}

} // namespace sluice
