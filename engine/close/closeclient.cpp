#include "closeclient.h"

#include <QRegularExpression>

namespace sluice {

CloseClient::CloseClient(const CloseOptions &options, QObject *parent)
    : QObject(parent)
    , m_transport(new ApiTransport(options.baseUrl,
                                   "Basic " + QByteArray(options.apiKey.toUtf8() + ':').toBase64(),
                                   options.timeout, this))
{
    connect(m_transport, &ApiTransport::requestFinished, this, &CloseClient::requestFinished);
}

void CloseClient::getLead(const QString &leadId, ApiCallback<QByteArray> done)
{
    static const QRegularExpression idPattern(QStringLiteral("^[A-Za-z0-9_-]{1,128}$"));
    if (!idPattern.match(leadId).hasMatch()) {
        ApiResult refused;
        refused.outcome = CallOutcome::Permanent;
        refused.endpoint = QStringLiteral("GET /api/v1/lead/{id}/");
        refused.message = QStringLiteral("'%1' is not a Close lead id").arg(leadId.left(64));
        done(refused);
        return;
    }
    m_transport->call(
        { "GET", QStringLiteral("/api/v1/lead/") + leadId + QLatin1Char('/'), {}, {} },
        [done = std::move(done)](const ApiResult &result) {
            if (!result.ok()) {
                done(result);
                return;
            }
            done(ApiReply<QByteArray>(result.body, result));
        });
}

void CloseClient::fetchLeads(const QString &leadId, ApiCallback<CloseLeadConversion> done)
{
    getLead(leadId, [leadId, done = std::move(done)](ApiReply<QByteArray> body) {
        if (!body.ok()) {
            done(body.error());
            return;
        }
        auto converted = convertCloseLeadBody(body.value());
        if (!converted.ok()) {
            ApiResult bad;
            bad.outcome = CallOutcome::Permanent;
            bad.httpStatus = 200;
            bad.endpoint = QStringLiteral("GET /api/v1/lead/%1/").arg(leadId);
            bad.message = QStringLiteral("Close lead %1 is unusable: %2")
                              .arg(leadId, converted.error().message());
            done(bad);
            return;
        }
        done(ApiReply<CloseLeadConversion>(std::move(converted).value(), body.call()));
    });
}

} // namespace sluice
