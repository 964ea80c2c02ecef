#include "upstreamlog.h"

#include <QDateTime>
#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace sluice::bench {

using json = nlohmann::json;

namespace {

bool startsWith(const std::string &s, const char *prefix)
{
    return s.rfind(prefix, 0) == 0;
}

/// "/api/v1/lead/lead_123/" → "/api/v1/lead/{id}/", so thousands of GETs make one line.
std::string endpointOf(const std::string &method, const std::string &path)
{
    static const std::string leadGet = "/api/v1/lead/";
    if (startsWith(path, leadGet.c_str()) && path.size() > leadGet.size())
        return method + " /api/v1/lead/{id}/";
    return method + " " + path;
}

void count(ApiRequests &api, const json &e, qint64 atMs, qint64 latencyMs)
{
    const int status = e.value("status", 0);
    ++api.requests;
    api.rateLimited += status == 429 ? 1 : 0;
    api.failed += (status >= 500 || status == 0) ? 1 : 0;
    if (api.firstAtMs < 0)
        api.firstAtMs = atMs;
    api.lastDoneMs = std::max(api.lastDoneMs, atMs + latencyMs);
    const size_t second = size_t(std::max<qint64>(0, atMs) / 1000);
    if (api.perSecond.size() <= second)
        api.perSecond.resize(second + 1, 0);
    ++api.perSecond[second];
    ++api.byEndpoint[endpointOf(e.value("method", ""), e.value("path", ""))];
}

QString seconds(qint64 msFromStart)
{
    return QStringLiteral("+%1 s").arg(QString::number(double(msFromStart) / 1000.0, 'f', 3));
}

QString perSecondText(const std::vector<int> &perSecond)
{
    QStringList counts;
    for (int n : perSecond)
        counts << QString::number(n);
    return counts.isEmpty() ? QStringLiteral("none") : counts.join(QStringLiteral(" "));
}

} // namespace

UpstreamLog summarizeUpstream(const json &items, qint64 startWallMs)
{
    UpstreamLog log;
    for (const json &e : items) {
        const std::string path = e.value("path", "");
        if (!startsWith(path, "/api/"))
            continue;
        const std::string method = e.value("method", "");
        const qint64 wallMs = e.value("time_ms", qint64(0));
        const qint64 at = wallMs - startWallMs;
        const qint64 latency = e.value("latency_ms", qint64(0));
        const int status = e.value("status", 0);
        if (log.firstUpstreamMs < 0)
            log.firstUpstreamMs = at;
        if (e.contains("close_group") || startsWith(path, "/api/v1/")) {
            count(log.close, e, at, latency);
            log.closeByGroup[e.value("close_group", "unknown")].push_back(
                std::chrono::milliseconds { wallMs });
            log.searches += method == "POST" && path == "/api/v1/data/search/" ? 1 : 0;
            log.leadGets += method == "GET" && startsWith(path, "/api/v1/lead/") ? 1 : 0;
            continue;
        }
        count(log.instantly, e, at, latency);
        if (e.value("admitted", false))
            log.admitted.push_back(std::chrono::milliseconds { wallMs });
        const bool bulk = method == "POST" && path == "/api/v2/leads/add";
        const bool single = method == "POST" && path == "/api/v2/leads";
        if (!bulk && !single)
            continue;
        log.bulkWrites += bulk ? 1 : 0;
        log.singleWrites += single ? 1 : 0;
        log.leadWrites.push_back({ at, latency, status, bulk });
        if (status >= 200 && status < 300)
            log.lastLeadInMs = std::max(log.lastLeadInMs, at + latency);
    }
    std::sort(log.admitted.begin(), log.admitted.end());
    for (auto &[group, times] : log.closeByGroup)
        std::sort(times.begin(), times.end());
    return log;
}

std::vector<int> leadsPerWrite(const json &leads, const std::string &emailPrefix,
                               const std::vector<LeadWrite> &writes, qint64 startWallMs)
{
    std::vector<int> created(writes.size(), 0);
    for (const json &lead : leads) {
        const json email = lead.value("email", json());
        if (!email.is_string() || !startsWith(email.get<std::string>(), emailPrefix.c_str()))
            continue;
        const QString stamp = QString::fromStdString(lead.value("timestamp_created", ""));
        const qint64 at
            = QDateTime::fromString(stamp, Qt::ISODateWithMs).toMSecsSinceEpoch() - startWallMs;
        // writes are in arrival order: the last one at or before `at`.
        const auto after
            = std::upper_bound(writes.cbegin(), writes.cend(), at,
                               [](qint64 t, const LeadWrite &w) { return t < w.atMs; });
        if (after != writes.cbegin())
            ++created[size_t(std::distance(writes.cbegin(), after) - 1)];
    }
    return created;
}

QString requestsText(const ApiRequests &api)
{
    QString endpoints;
    for (const auto &[endpoint, count] : api.byEndpoint) {
        if (!endpoints.isEmpty())
            endpoints += QStringLiteral(", ");
        endpoints += QStringLiteral("%1 %2").arg(count).arg(QString::fromStdString(endpoint));
    }
    if (endpoints.isEmpty())
        endpoints = QStringLiteral("none");
    return QStringLiteral("%1 (%2; %3 × 429, %4 failed)")
        .arg(api.requests)
        .arg(endpoints)
        .arg(api.rateLimited)
        .arg(api.failed);
}

QString timelineText(const UpstreamLog &up, const std::vector<int> &created, qint64 firedMs)
{
    QString text = QStringLiteral("Timeline (arrivals in the sandbox's log, from the first "
                                  "webhook):\n\n");
    text += QStringLiteral("- webhooks: all sent and answered by %1\n").arg(seconds(firedMs));
    if (up.close.requests > 0) {
        text += QStringLiteral("- Close: %1 requests, the first at %2, the last answered at %3; "
                               "per second: %4\n")
                    .arg(up.close.requests)
                    .arg(seconds(up.close.firstAtMs), seconds(up.close.lastDoneMs),
                         perSecondText(up.close.perSecond));
    }
    text += QStringLiteral("- Instantly: %1 requests; per second: %2\n")
                .arg(up.instantly.requests)
                .arg(perSecondText(up.instantly.perSecond));
    constexpr size_t kListed = 60;
    QStringList writes;
    for (size_t i = 0; i < up.leadWrites.size() && i < kListed; ++i) {
        const LeadWrite &w = up.leadWrites[i];
        writes << QStringLiteral("%1 %2 (HTTP %3, %4 ms)")
                      .arg(seconds(w.atMs))
                      .arg(i < created.size() ? created[i] : 0)
                      .arg(w.status)
                      .arg(w.latencyMs);
    }
    text += QStringLiteral("- lead writes (arrival, leads created, answer): %1%2\n")
                .arg(writes.isEmpty() ? QStringLiteral("none") : writes.join(QStringLiteral(", ")),
                     up.leadWrites.size() > kListed ? QStringLiteral(", …") : QString());
    return text;
}

} // namespace sluice::bench
