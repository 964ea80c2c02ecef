#pragma once

// A local listener for Sluice's alert POSTs (--alert-url), as a Slack-style incoming webhook
// would receive them: every body is kept, in arrival order.
#include "net/httpserver.h"

#include <QStringList>
#include <QTcpServer>
#include <QUrl>

#include <nlohmann/json.hpp>

#include <vector>

namespace sluice::test {

class AlertReceiver
{
public:
    /// The first `failFirst` POSTs are answered 500 (to make the sender retry).
    explicit AlertReceiver(int failFirst = 0)
        : m_failLeft(failFirst)
    {
        m_server.addRoute(
            "POST", QStringLiteral("/alerts"), [this](const HttpRequest &request, HttpResponder r) {
                ++m_posts;
                if (m_failLeft > 0) {
                    --m_failLeft;
                    r.sendJson(500, "{\"error\":\"not now\"}");
                    return;
                }
                auto body = nlohmann::json::parse(request.body.constBegin(),
                                                  request.body.constEnd(), nullptr, false);
                if (body.is_object())
                    m_events.push_back(std::move(body));
                r.sendJson(200, "{\"ok\":true}");
            });
    }
    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QUrl url() const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1/alerts")
                        .arg(m_server.servers().constFirst()->serverPort()));
    }

    const std::vector<nlohmann::json> &events() const { return m_events; }
    int posts() const { return m_posts; }
    /// Events of `kind` in `state` ("firing", "resolved").
    std::vector<nlohmann::json> of(const char *kind, const char *state) const
    {
        std::vector<nlohmann::json> out;
        for (const nlohmann::json &e : m_events)
            if (e.value("kind", "") == kind && e.value("state", "") == state)
                out.push_back(e);
        return out;
    }
    int count(const char *kind, const char *state) const { return int(of(kind, state).size()); }
    /// "kind/state" of every event, for failure messages.
    QString describe() const
    {
        QStringList out;
        for (const nlohmann::json &e : m_events)
            out << QStringLiteral("%1/%2").arg(QString::fromStdString(e.value("kind", "?")),
                                               QString::fromStdString(e.value("state", "?")));
        return out.join(QLatin1Char(' '));
    }

private:
    HttpServer m_server;
    std::vector<nlohmann::json> m_events;
    int m_posts = 0;
    int m_failLeft = 0;
};

} // namespace sluice::test
