#pragma once

#include <QByteArray>

#include <chrono>
#include <optional>

namespace sluice {

/// Close's `RateLimit: limit=…, remaining=…, reset=…` answer header: the endpoint group's
/// limit, the requests left in its window and the seconds until the window resets
/// (developer.close.com, "Rate Limits").
struct CloseRateLimit
{
    int limit = 0;
    int remaining = 0;
    double resetSeconds = 0;
};

/// Reads the header's value; nullopt when it is absent or lacks `remaining` or `reset`.
std::optional<CloseRateLimit> parseCloseRateLimit(const QByteArray &value);

/// How long the whole fleet waits before the group's next request, so what is left of the
/// window lasts until it resets: reset ÷ remaining, or the whole reset when nothing remains.
std::chrono::milliseconds closePaceGap(const CloseRateLimit &limit);

/// A 429 answer's `rate_reset` (seconds, may be fractional) from its JSON body
/// (`{"error": {"rate_reset": …}}`, or top-level), in ms; nullopt when the body has none.
std::optional<std::chrono::milliseconds> closeRateReset(const QByteArray &body);

} // namespace sluice
