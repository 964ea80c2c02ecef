#include "webhookexchange.h"

#include <nlohmann/json.hpp>

namespace sluice {

QString WebhookExchange::outcome() const
{
    const nlohmann::json j
        = nlohmann::json::parse(response.constBegin(), response.constEnd(), nullptr, false);
    auto text = [&](const char *key) {
        return j.is_object() && j.contains(key) && j[key].is_string()
            ? QString::fromStdString(j[key].get<std::string>())
            : QString();
    };
    if (status >= 200 && status < 300) {
        if (j.is_object() && j.value("duplicate", false))
            return QStringLiteral("duplicate");
        if (j.is_object() && j.contains("ignored"))
            return QStringLiteral("ignored: %1").arg(text("ignored"));
        if (j.is_object() && j.value("spooled", false))
            return QStringLiteral("spooled (Redis away)");
        return QStringLiteral("accepted");
    }
    const QString detail = text("detail");
    return detail.isEmpty() ? QStringLiteral("HTTP %1").arg(status)
                            : QStringLiteral("%1: %2").arg(status).arg(detail);
}

} // namespace sluice
