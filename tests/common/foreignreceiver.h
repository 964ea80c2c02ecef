#pragma once

// A webhook receiver that is not Sluice, for runs against an outside target.
#include "net/httpserver.h"

#include <QTcpServer>
#include <QUrl>

namespace sluice::test {

/// Answers every POST to /hook with 202 and a task id that no Redis of the test holds, so a
/// run that targets it cannot observe delivery.
class ForeignReceiver
{
public:
    ForeignReceiver()
    {
        m_server.addRoute("POST", QStringLiteral("/hook"),
                          [](const HttpRequest &, HttpResponder r) {
                              r.sendJson(202, "{\"task_id\":\"elsewhere\"}");
                          });
    }
    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QUrl url() const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1/hook")
                        .arg(m_server.servers().constFirst()->serverPort()));
    }

private:
    HttpServer m_server;
};

} // namespace sluice::test
