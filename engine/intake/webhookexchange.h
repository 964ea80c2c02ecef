#pragma once

#include "net/httpserver.h"

#include <QByteArray>
#include <QMetaType>
#include <QString>

namespace sluice {

/// One request the webhook listener answered, as the console's inspector shows it.
struct WebhookExchange
{
    quint64 seq = 0; ///< 1, 2, ... in arrival order, per listener
    qint64 atMs = 0; ///< when it arrived, Unix ms
    QString remote; ///< the client's address
    QByteArray method;
    QString path;
    HttpHeaders headers;
    QByteArray body; ///< at most kMaxBody bytes kept
    qint64 bodySize = 0; ///< the whole body's size
    /// "valid", "missing", "invalid: ...", or "not checked" when no key is configured.
    QString signature;
    int status = 0;
    QByteArray response;
    qint64 latencyUs = 0;
    QString taskId; ///< from a 2xx answer
    QString eventId; ///< Close's event.id, when the body has one
    QByteArray idempotencyKey;

    static constexpr qint64 kMaxBody = 256 * 1024;
    /// "accepted", "duplicate", "ignored", "spooled", or the error's detail.
    QString outcome() const;
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::WebhookExchange)
