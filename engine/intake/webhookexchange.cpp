#include "webhookexchange.h"

#include "core/jsontext.h"

#include <nlohmann/json.hpp>

namespace sluice {

QString WebhookExchange::outcome() const
{
    const nlohmann::json j = parseJson(response);
    auto text = [&](const char *key) {
        return j.is_object() && j.contains(key) && j[key].is_string()
            ? QString::fromStdString(j[key].get<std::string>())
            : QString();
    };
    if (status >= 200 && status < 300) {
        if (j.is_object() && j.value("duplicate", false))
            return QStringLiteral("duplicate");
        if (j.is_object() && j.contains("dead_lettered"))
            return QStringLiteral("dead-lettered: the lead has no usable email");
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

WebhookLog::WebhookLog(size_t capacity, qint64 budget)
    : m_items(capacity)
    , m_budget(budget)
{ }

qint64 WebhookLog::bytesOf(const WebhookExchange &e)
{
    qint64 n = e.body.size() + e.response.size() + e.path.size() * 2 + e.remote.size() * 2;
    for (const auto &[name, value] : e.headers)
        n += name.size() + value.size();
    return n;
}

const WebhookExchange &WebhookLog::push(WebhookExchange e)
{
    if (m_items.size() == m_items.capacity())
        m_bytes -= bytesOf(m_items.at(0)); // the oldest goes
    if (m_bytes + bytesOf(e) > m_budget && e.body.size() > kTrimmedBody)
        e.body.truncate(kTrimmedBody);
    m_bytes += bytesOf(e);
    m_items.push(std::move(e));
    return m_items.back();
}

} // namespace sluice
