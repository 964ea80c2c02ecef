#include "redisoptions.h"

#include "redisurl.h"

#include <QFile>
#include <QFileInfo>

#include <algorithm>
#include <cmath>

namespace sluice {

std::optional<QString> RedisOptions::problem() const
{
    const auto parsed = RedisUrl::parse(url);
    if (!parsed)
        return parsed.error();
    if (!caFile.isEmpty()) {
        const QFileInfo info(caFile);
        if (!info.isFile() || !info.isReadable())
            return QStringLiteral("Redis CA file '%1' cannot be read").arg(caFile);
        // A text check: parsing needs the TLS backend, which needs a QCoreApplication.
        QFile file(caFile);
        if (!file.open(QIODevice::ReadOnly)
            || !file.readAll().contains("-----BEGIN CERTIFICATE-----"))
            return QStringLiteral("Redis CA file '%1' holds no PEM certificate").arg(caFile);
    }
    if (connectTimeout.count() <= 0)
        return QStringLiteral("Redis connect timeout must be positive");
    if (commandTimeout.count() <= 0)
        return QStringLiteral("Redis command timeout must be positive");
    if (reconnectBaseDelay.count() <= 0)
        return QStringLiteral("Redis reconnect base delay must be positive");
    if (reconnectMaxDelay < reconnectBaseDelay)
        return QStringLiteral("Redis reconnect maximum delay must not be below the base delay");
    if (maxQueuedCommands < 0)
        return QStringLiteral("Redis command queue size must not be negative");
    return std::nullopt;
}

std::chrono::milliseconds backoffDelay(int attempt, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double jitter)
{
    const int exponent = std::clamp(attempt, 1, 63) - 1;
    // Doubling in floating point cannot overflow; the cap bounds the result.
    const double nominal
        = std::min(double(cap.count()), double(base.count()) * std::pow(2.0, exponent));
    const double half = nominal / 2.0;
    const double scaled = half + half * std::clamp(jitter, 0.0, 1.0);
    return std::chrono::milliseconds { qint64(std::llround(scaled)) };
}

} // namespace sluice
