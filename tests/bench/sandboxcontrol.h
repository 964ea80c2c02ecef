#pragma once

#include <QByteArray>
#include <QNetworkRequest>
#include <QString>
#include <QUrl>

#include <nlohmann/json_fwd.hpp>

#include <optional>

class QNetworkAccessManager;
class QNetworkReply;

namespace sluice::bench {

/// Waits for one reply on an event loop (QTest::qWaitFor would add up to 10 ms per call).
/// Returns the HTTP status (0 when none), fills `body` and deletes the reply later.
int awaitReply(QNetworkReply *reply, QByteArray *body = nullptr, int timeoutMs = 10'000);

/// The bench's side of the sandbox: its control API (/_sandbox/) and the set-up a run needs.
/// Every call waits for its answer.
class SandboxControl
{
public:
    /// `base` is http://host:port; `apiKey` the sandbox's bearer key. `http` must outlive this.
    SandboxControl(QNetworkAccessManager *http, QUrl base, QByteArray apiKey);

    /// `pathAndQuery` like "/_sandbox/requests?after=3", with the bearer key and a JSON type.
    QNetworkRequest request(const QString &pathAndQuery) const;
    /// A 200's JSON body (discarded if it is not JSON), or nullopt.
    std::optional<nlohmann::json> get(const QString &pathAndQuery, int timeoutMs = 10'000) const;

    /// Creates campaign `name` as Instantly's API does (a draft with a schedule), unless one by
    /// that name exists.
    bool ensureCampaign(const QString &name) const;
    /// Puts `leads` (a JSON array of Close leads) in the sandbox's Close, as Close holds the
    /// leads its webhooks name. The control API, not Close's: no Close limit counts it. On
    /// failure `error` says what the sandbox answered.
    bool seedCloseLeads(const nlohmann::json &leads, QString *error) const;
    /// The `items` of the sandbox's request log after `afterSeq`.
    std::optional<nlohmann::json> requests(quint64 afterSeq) const;

private:
    QNetworkAccessManager *m_http;
    QUrl m_base;
    QByteArray m_apiKey;
};

} // namespace sluice::bench
