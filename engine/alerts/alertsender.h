#pragma once

#include "alert.h"

#include <QElapsedTimer>
#include <QNetworkAccessManager>
#include <QObject>

#include <chrono>
#include <deque>

namespace sluice {

/// POSTs alert events as JSON to every configured URL, each on its own: a failed POST (no
/// answer, a refused connection, a non-2xx status) is retried with backoff (retryFirst,
/// doubling up to a minute) until retryFor has passed, then dropped with a log line. All of it
/// is asynchronous on this object's thread, so a URL that is down or hangs never holds up
/// anything else; at most kMaxPending POSTs wait (the oldest is dropped first, logged).
/// URLs are secrets: logs show maskedAlertUrl() only.
class AlertSender : public QObject
{
    Q_OBJECT
public:
    static constexpr int kMaxPending = 200;

    explicit AlertSender(AlertOptions options, QObject *parent = nullptr);
    ~AlertSender() override;

    void send(const AlertEvent &event);

    int pending() const { return int(m_pending.size()); }
    qint64 delivered() const { return m_delivered; } ///< POSTs answered 2xx
    qint64 attempts() const { return m_attempts; } ///< POSTs made, retries included
    qint64 dropped() const { return m_dropped; } ///< given up on (retries exhausted, overflow)

Q_SIGNALS:
    /// A POST got its 2xx.
    void posted(const QString &maskedUrl);

private:
    struct Post
    {
        quint64 id = 0;
        QString url;
        QByteArray body;
        QElapsedTimer age;
        std::chrono::milliseconds nextDelay { 0 };
        QNetworkReply *reply = nullptr;
    };
    void attempt(quint64 id);
    void finished(quint64 id, QNetworkReply *reply);
    Post *find(quint64 id);
    void drop(quint64 id);

    AlertOptions m_options;
    QNetworkAccessManager m_network;
    std::deque<Post> m_pending;
    quint64 m_nextId = 1;
    qint64 m_delivered = 0;
    qint64 m_attempts = 0;
    qint64 m_dropped = 0;
};

} // namespace sluice
