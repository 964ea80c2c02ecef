#include "sandboxserver.h"

#include "core/jsontext.h"
#include "core/windowstats.h"

#include <QTimer>

#include <nlohmann/json.hpp>

#include <cmath>

namespace sluice {

using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

/// Reads a JSON request body; nullopt and a 400 reply when it is not JSON.
std::optional<json> parseBody(const QByteArray &body, StoreReply *error, bool close = false)
{
    try {
        return parseJsonOrThrow(body);
    } catch (const json::parse_error &e) {
        const QString message
            = QStringLiteral("body is not valid JSON: %1").arg(QString::fromUtf8(e.what()));
        *error = close ? closeError(400, message) : instantlyError(400, message);
        return std::nullopt;
    }
}

using Operation = std::function<StoreReply(SandboxStore &, const HttpRequest &, const json &)>;

/// One Close endpoint group: its name, the method and path template it covers, and what it
/// does. Adding a group (with its own limits, stats and RateLimit header) is one line here.
struct CloseEndpoint
{
    const char *group;
    QByteArray method;
    QString pathPattern;
    bool jsonBody;
    Operation op;
};

QStringList fieldsParameter(const HttpRequest &r)
{
    const QString fields = r.query.queryItemValue(QStringLiteral("_fields"), QUrl::FullyDecoded);
    return fields.isEmpty() ? QStringList() : fields.split(QLatin1Char(','), Qt::SkipEmptyParts);
}

const std::vector<CloseEndpoint> &closeEndpoints()
{
    static const std::vector<CloseEndpoint> endpoints = {
        { "lead_get", "GET", QStringLiteral("/api/v1/lead/([^/]+)/?"), false,
          [](SandboxStore &s, const HttpRequest &r, const json &) {
              return s.close().getLead(r.captures.value(0), fieldsParameter(r));
          } },
        { "search", "POST", QStringLiteral("/api/v1/data/search/?"), true,
          [](SandboxStore &s, const HttpRequest &, const json &b) { return s.close().search(b); } },
        { "task_list", "GET", QStringLiteral("/api/v1/task/?"), false,
          [](SandboxStore &s, const HttpRequest &r, const json &) {
              return s.closeTasks().list(r.query);
          } },
    };
    return endpoints;
}

} // namespace

SandboxServer::SandboxServer(SandboxOptions options, const Clock *clock, QObject *parent)
    : HttpServer(parent)
    , m_options(std::move(options))
    , m_clock(clock ? clock : &m_steadyClock)
    , m_limiter({ { milliseconds { 1000 }, m_options.perSecond },
                  { milliseconds { 60'000 }, m_options.perMinute } })
    , m_random(m_options.seed)
    , m_startOptions(m_options)
{
    qRegisterMetaType<SandboxLogEntry>();
    setMaxBodyBytes(8 << 20);
    applyStartRules();

    const QString id = QStringLiteral("([^/]+)");
    addInstantlyRoute("GET", QStringLiteral("/api/v2/campaigns"), BodyUse::None,
                      [this](const HttpRequest &r, const json &) {
                          bool ok = true;
                          const QString limitText = r.query.queryItemValue(QStringLiteral("limit"));
                          const int limit = limitText.isEmpty() ? 10 : limitText.toInt(&ok);
                          if (!ok)
                              return instantlyError(
                                  400, QStringLiteral("querystring/limit must be integer"));
                          return m_store.listCampaigns(
                              r.query.queryItemValue(QStringLiteral("search"), QUrl::FullyDecoded),
                              limit, r.query.queryItemValue(QStringLiteral("starting_after")));
                      });
    addInstantlyRoute(
        "POST", QStringLiteral("/api/v2/campaigns"), BodyUse::Json,
        [this](const HttpRequest &, const json &b) { return m_store.createCampaign(b); });
    addInstantlyRoute("GET", QStringLiteral("/api/v2/campaigns/") + id, BodyUse::None,
                      [this](const HttpRequest &r, const json &) {
                          return m_store.getCampaign(r.captures.value(0));
                      });
    addInstantlyRoute("DELETE", QStringLiteral("/api/v2/campaigns/") + id, BodyUse::None,
                      [this](const HttpRequest &r, const json &) {
                          return m_store.deleteCampaign(r.captures.value(0));
                      });
    addInstantlyRoute("POST", QStringLiteral("/api/v2/leads"), BodyUse::Json,
                      [this](const HttpRequest &, const json &b) { return m_store.createLead(b); });
    addInstantlyRoute(
        "DELETE", QStringLiteral("/api/v2/leads"), BodyUse::Json,
        [this](const HttpRequest &, const json &b) { return m_store.deleteLeads(b); });
    addInstantlyRoute("POST", QStringLiteral("/api/v2/leads/add"), BodyUse::Json,
                      [this](const HttpRequest &, const json &b) { return m_store.addLeads(b); });
    addInstantlyRoute("POST", QStringLiteral("/api/v2/leads/list"), BodyUse::Json,
                      [this](const HttpRequest &, const json &b) { return m_store.listLeads(b); });
    // "add" and "list" are POST endpoints of their own, not lead ids.
    const QString leadId = QStringLiteral("(?!(?:add|list)$)([^/]+)");
    addInstantlyRoute("GET", QStringLiteral("/api/v2/leads/") + leadId, BodyUse::None,
                      [this](const HttpRequest &r, const json &) {
                          return m_store.getLead(r.captures.value(0));
                      });
    addInstantlyRoute("DELETE", QStringLiteral("/api/v2/leads/") + leadId, BodyUse::None,
                      [this](const HttpRequest &r, const json &) {
                          return m_store.deleteLead(r.captures.value(0));
                      });
    addCloseRoutes();
    addControlRoutes();
}

SandboxServer::~SandboxServer() = default;

quint16 SandboxServer::start(const QHostAddress &address, quint16 port)
{
    m_address = address;
    m_port = listen(address, port);
    return m_port;
}

QUrl SandboxServer::baseUrl() const
{
    QUrl url;
    url.setScheme(QStringLiteral("http"));
    url.setHost(m_address.toString());
    url.setPort(m_port);
    return url;
}

void SandboxServer::applyStartRules()
{
    m_store.setBlocklist(m_startOptions.blocklist);
    m_store.setRemainingInPlan(m_startOptions.remainingInPlan);
    m_store.setSameCampaignDuplicates(m_startOptions.sameCampaignDuplicates);
    m_options.blocklist = m_startOptions.blocklist;
    m_options.remainingInPlan = m_startOptions.remainingInPlan;
    m_options.sameCampaignDuplicates = m_startOptions.sameCampaignDuplicates;
    m_options.closeLimits.clear();
    for (const QString &group : closeEndpointGroups()) {
        const auto it = m_startOptions.closeLimits.find(group);
        setCloseLimit(group,
                      it == m_startOptions.closeLimits.end() ? CloseGroupLimit {} : it->second);
    }
    m_options.closeFaults = m_startOptions.closeFaults;
}

void SandboxServer::reset()
{
    m_store.clear();
    m_log.clear();
    m_outages.clear();
    m_closeStats.clear();
    m_limiter = SlidingWindowLimiter(m_limiter.rules()); // forgets the admissions
    m_closeLimiter.clearHistory();
    m_keyRevoked = false;
    applyStartRules();
}

void SandboxServer::setFaults(const FaultOptions &faults)
{
    m_options.faults = faults;
}

void SandboxServer::setInstantlyKeyRevoked(bool revoked)
{
    m_keyRevoked = revoked;
}

void SandboxServer::setLimits(int perSecond, int perMinute)
{
    m_options.perSecond = perSecond;
    m_options.perMinute = perMinute;
    m_limiter.setRules(
        { { milliseconds { 1000 }, perSecond }, { milliseconds { 60'000 }, perMinute } });
}

QStringList SandboxServer::closeEndpointGroups()
{
    QStringList groups;
    for (const CloseEndpoint &e : closeEndpoints())
        groups.append(QString::fromLatin1(e.group));
    return groups;
}

void SandboxServer::setCloseLimit(const QString &group, CloseGroupLimit limit)
{
    m_options.closeLimits[group] = limit;
    m_closeLimiter.setLimit(group, limit);
}

CloseGroupLimit SandboxServer::closeLimit(const QString &group) const
{
    return m_closeLimiter.limit(group);
}

void SandboxServer::setCloseFaults(const CloseFaultOptions &faults)
{
    m_options.closeFaults = faults;
}

void SandboxServer::addOutage(milliseconds startIn, milliseconds duration)
{
    const milliseconds from = m_clock->now() + startIn;
    m_outages.emplace_back(from, from + duration);
}

bool SandboxServer::inOutage(milliseconds now) const
{
    for (const auto &[from, until] : m_outages) {
        if (now >= from && now < until)
            return true;
    }
    return false;
}

int SandboxServer::worstWindow(milliseconds window) const
{
    std::vector<milliseconds> times;
    times.reserve(m_log.size());
    for (const SandboxLogEntry &entry : m_log) {
        if (entry.admitted)
            times.push_back(entry.arrivedAt);
    }
    return maxInAnyWindow(times, window);
}

QByteArray SandboxServer::errorBody(int status, const QString &detail) const
{
    return bodyBytes(instantlyError(status, detail));
}

void SandboxServer::addInstantlyRoute(
    const QByteArray &method, const QString &pattern, BodyUse bodyUse,
    std::function<StoreReply(const HttpRequest &, const json &)> op)
{
    addRoute(method, pattern,
             [this, bodyUse, op = std::move(op)](const HttpRequest &r, HttpResponder responder) {
                 serveInstantly(r, std::move(responder), bodyUse, op);
             });
}

void SandboxServer::addCloseRoutes()
{
    for (const CloseEndpoint &e : closeEndpoints()) {
        const QString group = QString::fromLatin1(e.group);
        const BodyUse bodyUse = e.jsonBody ? BodyUse::Json : BodyUse::None;
        Operation op = e.op;
        addRoute(e.method, e.pathPattern,
                 [this, group, bodyUse, op](const HttpRequest &r, HttpResponder responder) {
                     serveClose(r, std::move(responder), group, bodyUse,
                                [this, op](const HttpRequest &request, const json &body) {
                                    return op(m_store, request, body);
                                });
                 });
    }
}

SandboxLogEntry &SandboxServer::beginLog(const HttpRequest &request)
{
    SandboxLogEntry entry;
    entry.seq = m_nextSeq++;
    entry.wallTimeMs = wallClockMs();
    entry.arrivedAt = m_clock->now();
    entry.arrivedSteady = m_steadyClock.now();
    entry.method = request.method;
    entry.path = request.path;
    entry.userAgent = request.header("user-agent");
    m_log.push_back(std::move(entry));
    while (int(m_log.size()) > m_options.logCapacity)
        m_log.pop_front();
    return m_log.back();
}

void SandboxServer::finish(quint64 seq, HttpResponder responder, const StoreReply &reply,
                           const HttpHeaders &headers)
{
    finishAfter(m_options.faults.latency, seq, std::move(responder), reply, headers);
}

void SandboxServer::finishAfter(milliseconds delay, quint64 seq, HttpResponder responder,
                                const StoreReply &reply, const HttpHeaders &headers)
{
    if (delay.count() <= 0) {
        finishNow(seq, std::move(responder), reply, headers);
        return;
    }
    QTimer::singleShot(delay, this, [this, seq, responder, reply, headers]() mutable {
        finishNow(seq, std::move(responder), reply, headers);
    });
}

void SandboxServer::finishNow(quint64 seq, HttpResponder responder, const StoreReply &reply,
                              const HttpHeaders &headers)
{
    const bool delivered = responder.connectionOpen();
    responder.sendJson(reply.status, bodyBytes(reply), headers);
    if (m_log.empty() || seq < m_log.front().seq)
        return; // rotated out meanwhile
    SandboxLogEntry &entry = m_log[size_t(seq - m_log.front().seq)];
    entry.status = delivered ? reply.status : 0;
    entry.latencyMs = (m_steadyClock.now() - entry.arrivedSteady).count();
    Q_EMIT requestServed(entry);
}

void SandboxServer::logUnanswered(quint64 seq)
{
    if (m_log.empty() || seq < m_log.front().seq)
        return;
    SandboxLogEntry &entry = m_log[size_t(seq - m_log.front().seq)];
    entry.status = 0;
    entry.latencyMs = (m_steadyClock.now() - entry.arrivedSteady).count();
    Q_EMIT requestServed(entry);
}

void SandboxServer::serveInstantly(
    const HttpRequest &request, HttpResponder responder, BodyUse bodyUse,
    const std::function<StoreReply(const HttpRequest &, const json &)> &op)
{
    SandboxLogEntry &entry = beginLog(request);
    const quint64 seq = entry.seq;
    const QByteArray expected = "Bearer " + m_options.apiKey.toUtf8();
    if (m_keyRevoked || request.header("authorization") != expected) {
        finishNow(seq, std::move(responder), instantlyError(401, QStringLiteral("Invalid API key")),
                  {});
        return;
    }
    const milliseconds now = m_clock->now();
    if (inOutage(now)) {
        finish(seq, std::move(responder),
               instantlyError(503,
                              QStringLiteral("Service temporarily unavailable (sandbox outage)")));
        return;
    }
    if (const auto wait = m_limiter.tryAdmit(now)) {
        HttpHeaders headers;
        if (m_options.sendRetryAfter) {
            const auto seconds = qint64(std::ceil(double(wait->count()) / 1000.0));
            headers.append({ "Retry-After", QByteArray::number(std::max<qint64>(1, seconds)) });
        }
        finish(seq, std::move(responder),
               instantlyError(429,
                              QStringLiteral("Rate limit exceeded: the workspace allows %1 "
                                             "requests per second and %2 per minute")
                                  .arg(m_options.perSecond)
                                  .arg(m_options.perMinute)),
               headers);
        return;
    }
    entry.admitted = true;

    const FaultOptions &faults = m_options.faults;
    const double roll = std::uniform_real_distribution<double>(0.0, 1.0)(m_random);
    double edge = faults.hangRate;
    if (roll < edge) {
        QTimer::singleShot(faults.hangDuration, this, [this, seq, responder]() mutable {
            finishNow(seq, std::move(responder),
                      instantlyError(504, QStringLiteral("Gateway timeout (sandbox hang)")), {});
        });
        return;
    }
    if (roll < (edge += faults.errorRate)) {
        finish(seq, std::move(responder),
               instantlyError(500, QStringLiteral("Internal server error (sandbox fault)")));
        return;
    }
    if (roll < (edge += faults.bodyErrorRate)) {
        finish(
            seq, std::move(responder),
            jsonReply(200,
                      json { { "status", "error" },
                             { "error", "Something went wrong" },
                             { "message", "Internal error reported in a 200 (sandbox fault)" } }));
        return;
    }
    enum class Loss { None, Drop, Hang };
    Loss loss = Loss::None;
    if (roll < (edge += faults.applyDropRate))
        loss = Loss::Drop;
    else if (roll < (edge += faults.applyHangRate))
        loss = Loss::Hang;

    json body;
    if (bodyUse == BodyUse::Json) {
        if (request.body.trimmed().isEmpty()) {
            finish(seq, std::move(responder),
                   instantlyError(400, QStringLiteral("body must be object")));
            return;
        }
        StoreReply error;
        auto parsed = parseBody(request.body, &error);
        if (!parsed) {
            finish(seq, std::move(responder), error);
            return;
        }
        body = std::move(*parsed);
    }
    const StoreReply reply = op(request, body);
    switch (loss) {
    case Loss::Drop:
        // The work is done; the answer is lost with the connection.
        responder.abortConnection();
        logUnanswered(seq);
        return;
    case Loss::Hang:
        QTimer::singleShot(faults.hangDuration, this, [this, seq, responder]() mutable {
            finishNow(seq, std::move(responder),
                      instantlyError(504,
                                     QStringLiteral("Gateway timeout (sandbox hang after the "
                                                    "request took effect)")),
                      {});
        });
        return;
    case Loss::None:
        break;
    }
    finish(seq, std::move(responder), reply);
}

void SandboxServer::serveClose(
    const HttpRequest &request, HttpResponder responder, const QString &group, BodyUse bodyUse,
    const std::function<StoreReply(const HttpRequest &, const json &)> &op)
{
    SandboxLogEntry &entry = beginLog(request);
    entry.closeGroup = group;
    const quint64 seq = entry.seq;
    const QByteArray auth = request.header("authorization");
    const QString user = QString::fromUtf8(QByteArray::fromBase64(auth.mid(6)).split(':').value(0));
    if (!auth.startsWith("Basic ") || user.isEmpty() || !m_options.closeApiKeys().contains(user)) {
        finishNow(seq, std::move(responder),
                  jsonReply(401, json { { "error", "The API key provided is not valid." } }), {});
        return;
    }
    CloseGroupStats &stats = m_closeStats[group];
    ++stats.requests;
    const milliseconds latency = m_options.closeFaults.latency;
    const CloseRateDecision decision = m_closeLimiter.admit(group, user, m_clock->now());
    const HttpHeaders headers { { "RateLimit", decision.headerValue() } };
    if (!decision.admitted) {
        ++stats.rateLimited;
        const json body = {
            { "error",
              { { "message", "API call count exceeded for this period" },
                { "rate_reset", decision.resetSeconds() },
                { "rate_limit", decision.limit },
                { "rate_window", double(CloseRateLimiter::kWindow.count()) / 1000.0 },
                { "rate_limit_type", toString(decision.scope).toStdString() },
                { "rate_endpoint_group", group.toStdString() } } },
        };
        finishAfter(latency, seq, std::move(responder), jsonReply(429, body), headers);
        return;
    }
    const int refused = m_options.closeFaults.searchRefusedStatus;
    if (refused != 0 && group == QLatin1String("search")) {
        finishAfter(
            latency, seq, std::move(responder),
            closeError(refused, QStringLiteral("The search endpoint is refused (sandbox fault)")),
            headers);
        return;
    }
    json body;
    if (bodyUse == BodyUse::Json) {
        StoreReply error;
        auto parsed = request.body.trimmed().isEmpty()
            ? std::optional<json>(json())
            : parseBody(request.body, &error, /*close=*/true);
        if (!parsed) {
            finishAfter(latency, seq, std::move(responder), error, headers);
            return;
        }
        body = std::move(*parsed);
    }
    finishAfter(latency, seq, std::move(responder), op(request, body), headers);
}

bool SandboxServer::controlAuthorized(const HttpRequest &request, HttpResponder &responder) const
{
    if (request.header("authorization") == "Bearer " + m_options.apiKey.toUtf8())
        return true;
    responder.sendJson(401, errorBody(401, QStringLiteral("Invalid API key")));
    return false;
}

} // namespace sluice

#include "moc_sandboxserver.cpp" // NOLINT(bugprone-suspicious-include)
