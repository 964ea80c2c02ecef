#include "sandboxcontrol.h"

#include <QEventLoop>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>

#include <nlohmann/json.hpp>

namespace sluice::bench {

using json = nlohmann::json;

int awaitReply(QNetworkReply *reply, QByteArray *body, int timeoutMs)
{
    if (!reply->isFinished()) {
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
        loop.exec();
    }
    if (!reply->isFinished())
        reply->abort();
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (body)
        *body = reply->readAll();
    reply->deleteLater();
    return status;
}

SandboxControl::SandboxControl(QNetworkAccessManager *http, QUrl base, QByteArray apiKey)
    : m_http(http)
    , m_base(std::move(base))
    , m_apiKey(std::move(apiKey))
{ }

QNetworkRequest SandboxControl::request(const QString &pathAndQuery) const
{
    QNetworkRequest r(m_base.resolved(QUrl(pathAndQuery)));
    r.setRawHeader("Authorization", "Bearer " + m_apiKey);
    r.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    return r;
}

std::optional<json> SandboxControl::get(const QString &pathAndQuery, int timeoutMs) const
{
    QByteArray body;
    if (awaitReply(m_http->get(request(pathAndQuery)), &body, timeoutMs) != 200)
        return std::nullopt;
    return json::parse(body.constBegin(), body.constEnd(), nullptr, false);
}

bool SandboxControl::ensureCampaign(const QString &name) const
{
    const auto found = get(QStringLiteral("/api/v2/campaigns?limit=100&search=")
                           + QString::fromUtf8(QUrl::toPercentEncoding(name)));
    if (found && found->contains("items")) {
        for (const json &c : (*found)["items"]) {
            if (c.value("name", "") == name.toStdString())
                return true;
        }
    }
    const json campaign = {
        { "name", name.toStdString() },
        { "campaign_schedule",
          { { "schedules",
              json::array({ { { "name", "Bench" },
                              { "timing", { { "from", "09:00" }, { "to", "17:00" } } },
                              { "days", { { "1", true }, { "2", true } } },
                              { "timezone", "America/Danmarkshavn" } } }) } } }, // UTC all year
    };
    return awaitReply(m_http->post(request(QStringLiteral("/api/v2/campaigns")),
                                   QByteArray::fromStdString(campaign.dump())))
        == 200;
}

bool SandboxControl::seedCloseLeads(const json &leads, QString *error) const
{
    QByteArray body;
    const int status = awaitReply(m_http->post(request(QStringLiteral("/_sandbox/close/leads")),
                                               QByteArray::fromStdString(leads.dump())),
                                  &body, 60'000);
    const json answer = json::parse(body.constBegin(), body.constEnd(), nullptr, false);
    if (status == 200 && answer.is_object() && answer.value("stored", size_t(0)) == leads.size())
        return true;
    if (error)
        *error = QStringLiteral("HTTP %1: %2").arg(status).arg(QString::fromUtf8(body.left(300)));
    return false;
}

std::optional<json> SandboxControl::requests(quint64 afterSeq) const
{
    auto log = get(QStringLiteral("/_sandbox/requests?after=%1").arg(afterSeq), 60'000);
    if (!log || !log->contains("items"))
        return std::nullopt;
    return (*log)["items"];
}

} // namespace sluice::bench
