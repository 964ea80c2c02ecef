#pragma once

#include <QString>
#include <QtGlobal>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace sluice::bench {

/// One API's requests in the sandbox's log during a run. Times are ms from the run's start
/// (the first webhook), arrivals as the sandbox logged them.
struct ApiRequests
{
    int requests = 0;
    int rateLimited = 0; ///< 429s
    int failed = 0; ///< 5xx or unanswered
    qint64 firstAtMs = -1; ///< arrival of the first request
    qint64 lastDoneMs = -1; ///< the latest answer (arrival + latency)
    std::vector<int> perSecond; ///< arrivals in each second after the start
    std::map<std::string, int> byEndpoint; ///< "POST /api/v2/leads/add"; ids folded to {id}
};

/// An Instantly lead write (bulk or single create) as the sandbox logged it.
struct LeadWrite
{
    qint64 atMs = 0; ///< arrival, from the run's start
    qint64 latencyMs = 0;
    int status = 0;
    bool bulk = false;
};

/// The sandbox's request log of a run, split by API: Instantly (`/api/v2/`, the workspace
/// limit) and Close (`/api/v1/`, its own per-group limits).
struct UpstreamLog
{
    ApiRequests instantly;
    ApiRequests close;
    int bulkWrites = 0; ///< POST /api/v2/leads/add
    int singleWrites = 0; ///< POST /api/v2/leads
    int searches = 0; ///< POST /api/v1/data/search/
    int leadGets = 0; ///< GET /api/v1/lead/{id}/
    std::vector<LeadWrite> leadWrites; ///< in arrival order
    /// Wall-clock arrivals of the Instantly requests the workspace limit admitted.
    std::vector<std::chrono::milliseconds> admitted;
    /// Wall-clock arrivals of Close requests by endpoint group ("search", "lead_get"), sorted.
    std::map<std::string, std::vector<std::chrono::milliseconds>> closeByGroup;
    qint64 firstUpstreamMs = -1; ///< either API
    qint64 lastLeadInMs = -1; ///< the answer to the last successful lead write
};

/// `items` is the `items` array of GET /_sandbox/requests; entries outside /api/ (the
/// control API) are left out.
UpstreamLog summarizeUpstream(const nlohmann::json &items, qint64 startWallMs);

/// How many leads each lead write in `writes` created: the sandbox's leads whose email starts
/// with `emailPrefix`, each counted for the last write that arrived at or before its
/// `timestamp_created` (the sandbox handles one request at a time, so a request's leads are
/// stamped after its arrival and before the next one's). Index i is writes[i]; a lead stamped
/// before every write is left out.
std::vector<int> leadsPerWrite(const nlohmann::json &leads, const std::string &emailPrefix,
                               const std::vector<LeadWrite> &writes, qint64 startWallMs);

/// "23 (1 GET /api/v2/campaigns, 22 POST /api/v2/leads/add; 0 × 429, 0 failed)"
QString requestsText(const ApiRequests &api);

/// Where a bulk run's time went, as a Markdown list: the webhooks (all answered by
/// `firedMs`), the lookups, then each lead write with the leads it created (`created`, from
/// leadsPerWrite()).
QString timelineText(const UpstreamLog &up, const std::vector<int> &created, qint64 firedMs);

} // namespace sluice::bench
