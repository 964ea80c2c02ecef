#include "closeratelimit.h"

#include "core/jsontext.h"

#include <QList>

#include <nlohmann/json.hpp>

#include <cmath>

namespace sluice {

using std::chrono::milliseconds;

std::optional<CloseRateLimit> parseCloseRateLimit(const QByteArray &value)
{
    CloseRateLimit out;
    bool haveRemaining = false, haveReset = false;
    for (const QByteArray &part : value.split(',')) {
        const qsizetype eq = part.indexOf('=');
        if (eq < 0)
            continue;
        const QByteArray name = part.left(eq).trimmed().toLower();
        const QByteArray number = part.mid(eq + 1).trimmed();
        bool ok = false;
        const double n = number.toDouble(&ok);
        if (!ok || !std::isfinite(n) || n < 0)
            continue;
        if (name == "limit") {
            out.limit = int(std::min(n, 1e9));
        } else if (name == "remaining") {
            out.remaining = int(std::min(n, 1e9));
            haveRemaining = true;
        } else if (name == "reset") {
            out.resetSeconds = std::min(n, 86400.0);
            haveReset = true;
        }
    }
    if (!haveRemaining || !haveReset)
        return std::nullopt;
    return out;
}

milliseconds closePaceGap(const CloseRateLimit &limit)
{
    const double resetMs = limit.resetSeconds * 1000.0;
    if (limit.remaining <= 0)
        return milliseconds { qint64(std::ceil(resetMs)) };
    return milliseconds { qint64(std::ceil(resetMs / limit.remaining)) };
}

std::optional<milliseconds> closeRateReset(const QByteArray &body)
{
    const auto parsed = parseJson(body);
    if (!parsed.is_object())
        return std::nullopt;
    // {"error": {"message": ..., "rate_reset": 1.5, ...}}; a top-level rate_reset is read too.
    auto it = parsed.find("rate_reset");
    if (it == parsed.end()) {
        const auto error = parsed.find("error");
        if (error == parsed.end() || !error->is_object())
            return std::nullopt;
        it = error->find("rate_reset");
        if (it == error->end())
            return std::nullopt;
    }
    if (!it->is_number())
        return std::nullopt;
    const double seconds = it->get<double>();
    if (!std::isfinite(seconds) || seconds < 0)
        return std::nullopt;
    return milliseconds { qint64(std::ceil(std::min(seconds, 86400.0) * 1000.0)) };
}

} // namespace sluice
