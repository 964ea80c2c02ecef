#pragma once

#include "close/closelead.h"
#include "instantly/instantlyclient.h"
#include "net/apitransport.h"

#include <QObject>
#include <QUrl>

namespace sluice {

struct CloseOptions
{
    QUrl baseUrl = QUrl(QStringLiteral("https://api.close.com"));
    QString apiKey; ///< sent as the Basic-auth user with an empty password
    std::chrono::milliseconds timeout { 15'000 };
};

/// The one Close API call Sluice makes: fetching a lead whose webhook did not carry it inline.
class CloseClient : public QObject
{
    Q_OBJECT
public:
    explicit CloseClient(const CloseOptions &options, QObject *parent = nullptr);

    /// GET /api/v1/lead/{id}/: the lead's raw JSON. An id that cannot be a Close id is refused
    /// without a request (Permanent).
    void getLead(const QString &leadId, ApiCallback<QByteArray> done);
    /// getLead() and convertCloseLeadBody(): the Instantly leads of a Close lead. An answer that
    /// is not a usable Close lead is a Permanent failure whose message says what is wrong.
    void fetchLeads(const QString &leadId, ApiCallback<CloseLeadConversion> done);

    ApiTransport *transport() const { return m_transport; }

Q_SIGNALS:
    void requestFinished(const sluice::ApiResult &result);

private:
    ApiTransport *m_transport;
};

} // namespace sluice
