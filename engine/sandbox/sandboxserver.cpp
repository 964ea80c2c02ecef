#include "sandboxserver.h"

#include "core/windowstats.h"

#include <QTimer>

#include <nlohmann/json.hpp>

#include <cmath>

namespace sluice {

using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

StoreReply jsonReply(int status, json body)
{
    return StoreReply { status, std::make_shared<const json>(std::move(body)) };
}

QByteArray bodyBytes(const StoreReply &reply)
{
    return reply.body ? QByteArray::fromStdString(reply.body->dump()) : QByteArray("{}");
}

json faultsJson(const FaultOptions &f)
{
    return json {
        { "latency_ms", f.latency.count() },
        { "error_rate", f.errorRate },
        { "hang_rate", f.hangRate },
        { "hang_ms", f.hangDuration.count() },
        { "body_error_rate", f.bodyErrorRate },
    };
}

/// Reads a JSON request body; nullopt and a 400 reply when it is not JSON.
std::optional<json> parseBody(const QByteArray &body, StoreReply *error)
{
    try {
        return json::parse(body.constBegin(), body.constEnd());
    } catch (const json::parse_error &e) {
        *error = instantlyError(
            400, QStringLiteral("body is not valid JSON: %1").arg(QString::fromUtf8(e.what())));
        return std::nullopt;
    }
}

} // namespace

SandboxServer::SandboxServer(SandboxOptions options, const Clock *clock, QObject *parent)
    : HttpServer(parent)
    , m_options(std::move(options))
    , m_clock(clock ? clock : &m_steadyClock)
    , m_limiter({ { milliseconds { 1000 }, m_options.perSecond },
                  { milliseconds { 60'000 }, m_options.perMinute } })
    , m_random(m_options.seed)
{
    qRegisterMetaType<SandboxLogEntry>();
    setMaxBodyBytes(8 << 20);

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
    addRoute("GET", QStringLiteral("/api/v1/lead/([^/]+)/?"),
             [this](const HttpRequest &r, HttpResponder responder) {
                 serveClose(r, std::move(responder));
             });
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

void SandboxServer::setFaults(const FaultOptions &faults)
{
    m_options.faults = faults;
}

void SandboxServer::setLimits(int perSecond, int perMinute)
{
    m_options.perSecond = perSecond;
    m_options.perMinute = perMinute;
    m_limiter.setRules(
        { { milliseconds { 1000 }, perSecond }, { milliseconds { 60'000 }, perMinute } });
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
    const milliseconds latency = m_options.faults.latency;
    if (latency.count() <= 0) {
        finishNow(seq, std::move(responder), reply, headers);
        return;
    }
    QTimer::singleShot(latency, this, [this, seq, responder, reply, headers]() mutable {
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

void SandboxServer::serveInstantly(
    const HttpRequest &request, HttpResponder responder, BodyUse bodyUse,
    const std::function<StoreReply(const HttpRequest &, const json &)> &op)
{
    SandboxLogEntry &entry = beginLog(request);
    const quint64 seq = entry.seq;
    const QByteArray expected = "Bearer " + m_options.apiKey.toUtf8();
    if (request.header("authorization") != expected) {
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
    if (roll < faults.hangRate) {
        QTimer::singleShot(faults.hangDuration, this, [this, seq, responder]() mutable {
            finishNow(seq, std::move(responder),
                      instantlyError(504, QStringLiteral("Gateway timeout (sandbox hang)")), {});
        });
        return;
    }
    if (roll < faults.hangRate + faults.errorRate) {
        finish(seq, std::move(responder),
               instantlyError(500, QStringLiteral("Internal server error (sandbox fault)")));
        return;
    }
    if (roll < faults.hangRate + faults.errorRate + faults.bodyErrorRate) {
        finish(
            seq, std::move(responder),
            jsonReply(200,
                      json { { "status", "error" },
                             { "error", "Something went wrong" },
                             { "message", "Internal error reported in a 200 (sandbox fault)" } }));
        return;
    }

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
    finish(seq, std::move(responder), op(request, body));
}

void SandboxServer::serveClose(const HttpRequest &request, HttpResponder responder)
{
    const quint64 seq = beginLog(request).seq;
    const QByteArray auth = request.header("authorization");
    const QByteArray user = QByteArray::fromBase64(auth.mid(6)).split(':').value(0);
    if (!auth.startsWith("Basic ") || user.isEmpty() || user != m_options.closeApiKey.toUtf8()) {
        finishNow(seq, std::move(responder),
                  jsonReply(401, json { { "error", "The API key provided is not valid." } }), {});
        return;
    }
    finish(seq, std::move(responder), m_store.getCloseLead(request.captures.value(0)));
}

bool SandboxServer::controlAuthorized(const HttpRequest &request, HttpResponder &responder) const
{
    if (request.header("authorization") == "Bearer " + m_options.apiKey.toUtf8())
        return true;
    responder.sendJson(401, errorBody(401, QStringLiteral("Invalid API key")));
    return false;
}

json SandboxServer::statsJson() const
{
    int admitted = 0, limited = 0, serverErrors = 0, unanswered = 0;
    for (const SandboxLogEntry &e : m_log) {
        admitted += e.admitted ? 1 : 0;
        limited += e.status == 429 ? 1 : 0;
        serverErrors += e.status >= 500 ? 1 : 0;
        unanswered += e.status == 0 ? 1 : 0;
    }
    return json {
        { "requests", m_log.size() },
        { "admitted", admitted },
        { "rate_limited", limited },
        { "server_errors", serverErrors },
        { "unanswered", unanswered },
        { "worst_1s", worstWindow(milliseconds { 1000 }) },
        { "worst_60s", worstWindow(milliseconds { 60'000 }) },
        { "limits",
          { { "per_second", m_options.perSecond }, { "per_minute", m_options.perMinute } } },
        { "faults", faultsJson(m_options.faults) },
        { "leads", m_store.leadCount() },
        { "campaigns", m_store.campaignCount() },
    };
}

void SandboxServer::addControlRoutes()
{
    auto control = [this](const QByteArray &method, const QString &path,
                          std::function<StoreReply(const HttpRequest &, const json &)> op) {
        addRoute(method, QStringLiteral("/_sandbox/") + path,
                 [this, op = std::move(op)](const HttpRequest &r, HttpResponder responder) {
                     if (!controlAuthorized(r, responder))
                         return;
                     json body = json::object();
                     if (!r.body.trimmed().isEmpty()) {
                         StoreReply error;
                         auto parsed = parseBody(r.body, &error);
                         if (!parsed) {
                             responder.sendJson(error.status, bodyBytes(error));
                             return;
                         }
                         body = std::move(*parsed);
                     }
                     const StoreReply reply = op(r, body);
                     responder.sendJson(reply.status, bodyBytes(reply));
                 });
    };

    control("GET", QStringLiteral("stats"),
            [this](const HttpRequest &, const json &) { return jsonReply(200, statsJson()); });
    control("GET", QStringLiteral("requests"), [this](const HttpRequest &r, const json &) {
        const quint64 after = r.query.queryItemValue(QStringLiteral("after")).toULongLong();
        json items = json::array();
        for (const SandboxLogEntry &e : m_log) {
            if (e.seq <= after)
                continue;
            items.push_back({ { "seq", e.seq },
                              { "time_ms", e.wallTimeMs },
                              { "method", e.method.toStdString() },
                              { "path", e.path.toStdString() },
                              { "user_agent", e.userAgent.toStdString() },
                              { "status", e.status },
                              { "latency_ms", e.latencyMs },
                              { "admitted", e.admitted } });
        }
        return jsonReply(200, json { { "items", std::move(items) } });
    });
    control("GET", QStringLiteral("leads"), [this](const HttpRequest &r, const json &) {
        return jsonReply(
            200,
            json { { "items",
                     m_store.allLeads(r.query.queryItemValue(QStringLiteral("campaign"))) } });
    });
    control("GET", QStringLiteral("faults"), [this](const HttpRequest &, const json &) {
        return jsonReply(200, faultsJson(m_options.faults));
    });
    control("PUT", QStringLiteral("faults"), [this](const HttpRequest &, const json &b) {
        if (!b.is_object())
            return instantlyError(400, QStringLiteral("body must be object"));
        FaultOptions f = m_options.faults;
        try {
            if (b.contains("latency_ms"))
                f.latency = milliseconds { b["latency_ms"].get<qint64>() };
            if (b.contains("error_rate"))
                f.errorRate = b["error_rate"].get<double>();
            if (b.contains("hang_rate"))
                f.hangRate = b["hang_rate"].get<double>();
            if (b.contains("hang_ms"))
                f.hangDuration = milliseconds { b["hang_ms"].get<qint64>() };
            if (b.contains("body_error_rate"))
                f.bodyErrorRate = b["body_error_rate"].get<double>();
        } catch (const json::exception &e) {
            return instantlyError(400,
                                  QStringLiteral("faults: %1").arg(QString::fromUtf8(e.what())));
        }
        if (auto problem = f.problem())
            return instantlyError(400, QStringLiteral("faults: ") + *problem);
        setFaults(f);
        return jsonReply(200, faultsJson(f));
    });
    control("PUT", QStringLiteral("limits"), [this](const HttpRequest &, const json &b) {
        const json perSecond = b.value("per_second", json(m_options.perSecond));
        const json perMinute = b.value("per_minute", json(m_options.perMinute));
        if (!perSecond.is_number_integer() || !perMinute.is_number_integer()
            || perSecond.get<int>() <= 0 || perMinute.get<int>() <= 0)
            return instantlyError(400,
                                  QStringLiteral("per_second and per_minute must be integers > 0"));
        setLimits(perSecond.get<int>(), perMinute.get<int>());
        return jsonReply(
            200,
            json { { "per_second", m_options.perSecond }, { "per_minute", m_options.perMinute } });
    });
    control("POST", QStringLiteral("outage"), [this](const HttpRequest &, const json &b) {
        const json startIn = b.value("start_in_ms", json(0));
        const json duration = b.value("duration_ms", json());
        if (!startIn.is_number_integer() || startIn.get<qint64>() < 0
            || !duration.is_number_integer() || duration.get<qint64>() <= 0)
            return instantlyError(400,
                                  QStringLiteral("outage needs integer duration_ms > 0 and "
                                                 "start_in_ms >= 0"));
        addOutage(milliseconds { startIn.get<qint64>() }, milliseconds { duration.get<qint64>() });
        return jsonReply(200, json { { "start_in_ms", startIn }, { "duration_ms", duration } });
    });
    control("POST", QStringLiteral("close/leads"), [this](const HttpRequest &, const json &b) {
        const json leads = b.is_array() ? b : json::array({ b });
        for (const json &lead : leads) {
            const StoreReply r = m_store.putCloseLead(lead);
            if (r.status != 200)
                return r;
        }
        return jsonReply(200, json { { "stored", leads.size() } });
    });
    control("POST", QStringLiteral("reset"), [this](const HttpRequest &, const json &) {
        m_store.clear();
        m_log.clear();
        m_outages.clear();
        setLimits(m_options.perSecond, m_options.perMinute);
        return jsonReply(200, json { { "reset", true } });
    });
}

} // namespace sluice
