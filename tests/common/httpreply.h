#pragma once

#include <QByteArray>
#include <QList>
#include <QNetworkReply>
#include <QString>

#include <nlohmann/json.hpp>

namespace sluice::test {

/// A finished HTTP answer, copied out of its QNetworkReply, for assertions.
struct HttpReply
{
    int status = 0;
    QByteArray body;
    QList<QNetworkReply::RawHeaderPair> headers;

    /// The body as JSON (discarded value when it is not JSON).
    nlohmann::json parsed() const
    {
        return nlohmann::json::parse(body.constBegin(), body.constEnd(), nullptr, false);
    }
    QByteArray header(const QByteArray &name) const
    {
        for (const auto &[key, value] : headers) {
            if (key.compare(name, Qt::CaseInsensitive) == 0)
                return value;
        }
        return {};
    }
    /// A string member of a JSON object body, or empty.
    QString text(const char *key) const
    {
        const nlohmann::json j = parsed();
        return j.is_object() && j.contains(key) && j[key].is_string()
            ? QString::fromStdString(j[key].get<std::string>())
            : QString();
    }
    QString describe() const
    {
        return QStringLiteral("%1 %2").arg(status).arg(QString::fromUtf8(body.left(500)));
    }
    /// Takes the answer of a finished reply (and schedules the reply's deletion).
    static HttpReply from(QNetworkReply *reply)
    {
        HttpReply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        r.headers = reply->rawHeaderPairs();
        reply->deleteLater();
        return r;
    }
};

} // namespace sluice::test
