#include "alertsender.h"

#include "core/jsontext.h"

#include <QLoggingCategory>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPointer>
#include <QTimer>

namespace sluice {

using std::chrono::milliseconds;

AlertSender::AlertSender(AlertOptions options, QObject *parent)
    : QObject(parent)
    , m_options(std::move(options))
{ }

AlertSender::~AlertSender()
{
    for (Post &p : m_pending)
        if (p.reply) {
            p.reply->disconnect(this);
            p.reply->abort();
            p.reply->deleteLater();
        }
}

void AlertSender::send(const AlertEvent &event)
{
    const QByteArray body = jsonBytes(event.toJson());
    for (const QString &url : m_options.urls) {
        if (int(m_pending.size()) >= kMaxPending) {
            // The oldest one waiting for a retry goes: newer news matters more.
            for (const Post &p : m_pending) {
                if (!p.reply) {
                    qCWarning(lcAlerts).noquote() << "alert POST to" << maskedAlertUrl(p.url)
                                                  << "dropped: too many waiting for a retry";
                    drop(p.id);
                    break;
                }
            }
        }
        Post p;
        p.id = m_nextId++;
        p.url = url;
        p.body = body;
        p.age.start();
        p.nextDelay = m_options.retryFirst;
        m_pending.push_back(std::move(p));
        attempt(m_pending.back().id);
    }
}

AlertSender::Post *AlertSender::find(quint64 id)
{
    for (Post &p : m_pending)
        if (p.id == id)
            return &p;
    return nullptr;
}

void AlertSender::drop(quint64 id)
{
    for (auto it = m_pending.begin(); it != m_pending.end(); ++it)
        if (it->id == id) {
            ++m_dropped;
            m_pending.erase(it);
            return;
        }
}

void AlertSender::attempt(quint64 id)
{
    Post *p = find(id);
    if (!p)
        return;
    QNetworkRequest request { QUrl(p->url) };
    request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    request.setHeader(QNetworkRequest::UserAgentHeader, QByteArrayLiteral("Sluice alerts"));
    request.setTransferTimeout(int(m_options.postTimeout.count()));
    ++m_attempts;
    QNetworkReply *reply = m_network.post(request, p->body);
    p->reply = reply;
    connect(reply, &QNetworkReply::finished, this, [this, id, reply] { finished(id, reply); });
}

void AlertSender::finished(quint64 id, QNetworkReply *reply)
{
    reply->deleteLater();
    Post *p = find(id);
    if (!p)
        return;
    p->reply = nullptr;
    const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (reply->error() == QNetworkReply::NoError && status >= 200 && status < 300) {
        ++m_delivered;
        const QString shown = maskedAlertUrl(p->url);
        m_pending.erase(m_pending.begin() + (p - &m_pending.front()));
        Q_EMIT posted(shown);
        return;
    }
    // Never errorString(): it may repeat the URL, which is a secret.
    QString why = QStringLiteral("HTTP %1").arg(status);
    if (status <= 0) {
        switch (reply->error()) {
        case QNetworkReply::ConnectionRefusedError:
            why = QStringLiteral("connection refused");
            break;
        case QNetworkReply::HostNotFoundError:
            why = QStringLiteral("host not found");
            break;
        case QNetworkReply::OperationCanceledError:
        case QNetworkReply::TimeoutError:
            why = QStringLiteral("no answer within %1 ms").arg(m_options.postTimeout.count());
            break;
        default:
            why = QStringLiteral("network error %1").arg(int(reply->error()));
        }
    }
    if (p->age.elapsed() + p->nextDelay.count() > m_options.retryFor.count()) {
        qCWarning(lcAlerts).noquote()
            << QStringLiteral("alert POST to %1 failed (%2); given up after %3 s of retries")
                   .arg(maskedAlertUrl(p->url), why)
                   .arg(p->age.elapsed() / 1000);
        drop(id);
        return;
    }
    qCInfo(lcAlerts).noquote() << QStringLiteral("alert POST to %1 failed (%2); retrying in %3 ms")
                                      .arg(maskedAlertUrl(p->url), why)
                                      .arg(p->nextDelay.count());
    const milliseconds delay = p->nextDelay;
    p->nextDelay = std::min(p->nextDelay * 2, milliseconds { 60'000 });
    QTimer::singleShot(delay, this, [this, id] { attempt(id); });
}

} // namespace sluice

#include "moc_alertsender.cpp" // NOLINT(bugprone-suspicious-include)
