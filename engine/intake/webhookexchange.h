#pragma once

#include "core/ringbuffer.h"
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
    /// "valid", "missing", "invalid: <status>", "not reached" (refused before the check),
    /// "not checked" when no key is configured, or "not checked: the server's key is
    /// unusable" (answered 500).
    QString signature;
    int status = 0;
    QByteArray response;
    qint64 latencyUs = 0;
    QString taskId; ///< from a 2xx answer
    QString eventId; ///< Close's event.id, when the body has one
    QByteArray idempotencyKey;

    static constexpr qint64 kMaxBody = qint64(256) * 1024;
    /// "accepted", "duplicate", "ignored", "spooled", or the error's detail.
    QString outcome() const;
};

/// The console's record of recent exchanges: the newest `capacity`, and at most `budget`
/// bytes of bodies, headers and answers in all. Past the budget a new exchange keeps only
/// kTrimmedBody bytes of its body (bodySize still says how much came), so a flood of large
/// bodies costs memory by count, never by size.
class WebhookLog
{
public:
    static constexpr qint64 kDefaultBudget = qint64(32) * 1024 * 1024;
    static constexpr qint64 kTrimmedBody = 4096;

    explicit WebhookLog(size_t capacity = 1, qint64 budget = kDefaultBudget);

    /// Keeps `e` (trimmed if over budget), dropping the oldest when full; returns what was
    /// kept.
    const WebhookExchange &push(WebhookExchange e);
    size_t size() const { return m_items.size(); }
    size_t capacity() const { return m_items.capacity(); }
    bool empty() const { return m_items.empty(); }
    /// 0 is the oldest kept exchange.
    const WebhookExchange &at(size_t i) const { return m_items.at(i); }
    const WebhookExchange &back() const { return m_items.back(); }
    /// What the kept exchanges hold, in bytes.
    qint64 bytes() const { return m_bytes; }

    static qint64 bytesOf(const WebhookExchange &e);

private:
    RingBuffer<WebhookExchange> m_items;
    qint64 m_budget;
    qint64 m_bytes = 0;
};

} // namespace sluice

Q_DECLARE_METATYPE(sluice::WebhookExchange)
