#include "intakeserver.h"

#include "close/closesignature.h"
#include "close/closewebhook.h"
#include "control/fleetstatus.h"
#include "core/jsontext.h"
#include "core/jsonvariant.h"
#include "intakebatch.h"
#include "redis/redisclient.h"
#include "telemetry/metrics.h"
#include "webhookexchange.h"

#include <QDateTime>
#include <QLoggingCategory>

#include <nlohmann/json.hpp>

namespace sluice {

Q_LOGGING_CATEGORY(lcIntake, "sluice.intake")

using json = nlohmann::json;

namespace {

constexpr qsizetype kMaxIdempotencyKeyLength = 200;

QByteArray dumpJson(const json &j)
{
    return jsonBytes(j, -1, BadUtf8::Replace);
}

/// "application/json" out of "application/json; charset=utf-8".
bool isJsonContentType(const QByteArray &header)
{
    const qsizetype semicolon = header.indexOf(';');
    const QByteArray media = (semicolon < 0 ? header : header.left(semicolon)).trimmed();
    return media.compare("application/json", Qt::CaseInsensitive) == 0;
}

/// Visible ASCII only, so the key can sit in a Redis key name and a log line as it is.
/// Close's event.id of a body the intake refused, for the inspector; "" when there is none.
QString eventIdOf(const QByteArray &body)
{
    const json j = parseJson(body);
    if (!j.is_object())
        return {};
    const auto event = j.find("event");
    if (event == j.end() || !event->is_object())
        return {};
    const auto id = event->find("id");
    return id != event->end() && id->is_string() ? QString::fromStdString(id->get<std::string>())
                                                 : QString();
}

bool isUsableIdempotencyKey(const QByteArray &key)
{
    if (key.isEmpty() || key.size() > kMaxIdempotencyKeyLength)
        return false;
    return std::all_of(key.begin(), key.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

/// The journal's word on how a request arrived.
QString arrivalNote(const IntakeRequest &intake, bool signatureChecked)
{
    if (intake.source != IntakeSource::CloseWebhook)
        return QStringLiteral("direct batch of %1 lead(s)").arg(intake.leads.size());
    QString note = QStringLiteral("Close webhook");
    if (!intake.eventId.isEmpty())
        note += u' ' + intake.eventId;
    note += signatureChecked ? QStringLiteral(", signature valid")
                             : QStringLiteral(", signature not checked (no key set)");
    if (intake.needsLeadLookup)
        note += QStringLiteral(", Close lead %1 to look up").arg(intake.closeLeadId);
    return note;
}

} // namespace

struct IntakeServer::Counters
{
    explicit Counters(Metrics &m)
        : accepted(m.counter("sluice_intake_accepted_total",
                             "Requests acknowledged with 202 (stored in Redis, or spooled)."))
        , duplicates(m.counter("sluice_intake_duplicates_total",
                               "Repeated Close events or Idempotency-Keys, answered 200 and "
                               "dropped."))
        , ignored(m.counter("sluice_intake_ignored_total",
                            "Valid Close events that are not ours, answered 200, not stored."))
        , deadOnArrival(m.counter("sluice_intake_dead_lettered_total",
                                  "Close leads of our campaign with no usable email: stored "
                                  "as dead letters at once (answered 202), not queued."))
        , tooLarge(rejected(m, "payload_too_large"))
        , contentType(rejected(m, "unsupported_media_type"))
        , signature(rejected(m, "bad_signature"))
        , badRequest(rejected(m, "bad_request"))
        , unavailable(rejected(m, "unavailable"))
        , misconfigured(rejected(m, "misconfigured"))
        , headerTooLarge(rejected(m, "header_too_large"))
        , requestTimeout(rejected(m, "request_timeout"))
        , malformed(rejected(m, "malformed_http"))
        , tooManyConnections(rejected(m, "too_many_connections"))
        , ack(m.histogram("sluice_intake_ack_seconds",
                          "Time from routing a POST /instantly/add_lead to its 2xx answer.",
                          Metrics::latencyBuckets()))
    { }

    static MetricCounter &rejected(Metrics &m, const char *reason)
    {
        return m.counter("sluice_intake_rejected_total",
                         "Requests to POST /instantly/add_lead refused, by reason (the "
                         "listener's own: header_too_large, request_timeout, malformed_http, "
                         "too_many_connections and an early payload_too_large, on any path).",
                         { { "reason", reason } });
    }

    MetricCounter &accepted;
    MetricCounter &duplicates;
    MetricCounter &ignored;
    MetricCounter &deadOnArrival;
    MetricCounter &tooLarge;
    MetricCounter &contentType;
    MetricCounter &signature;
    MetricCounter &badRequest;
    MetricCounter &unavailable;
    MetricCounter &misconfigured;
    MetricCounter &headerTooLarge;
    MetricCounter &requestTimeout;
    MetricCounter &malformed;
    MetricCounter &tooManyConnections;
    MetricHistogram &ack;
};

IntakeServer::IntakeServer(IntakeOptions options, RedisClient *redis, Metrics *metrics,
                           QObject *parent)
    : HttpFront(parent)
    , m_options(std::move(options))
    , m_redis(redis)
    , m_keys(m_options.ns)
    , m_ownMetrics(metrics ? nullptr : std::make_unique<Metrics>())
    , m_metrics(metrics ? metrics : m_ownMetrics.get())
    , m_store(std::make_unique<IntakeStore>(m_options, redis, *m_metrics))
    , m_counters(std::make_unique<Counters>(*m_metrics))
{
    setMaxBodyBytes(m_options.maxBodyBytes);
    setLimits(m_options.front);
    connect(m_store.get(), &IntakeStore::spoolDrained, this, &IntakeServer::spoolDrained);
    if (m_redis) {
        m_fleet = std::make_unique<FleetStatus>(m_redis, m_keys);
        m_fleet->registerMetrics(*m_metrics);
    }

    addRoute("POST", QStringLiteral("/instantly/add_lead"),
             [this](const HttpRequest &r, HttpResponder responder) {
                 addLead(r, std::move(responder));
             });
    addRoute("GET", QStringLiteral("/instantly/task/([A-Za-z0-9_-]{1,128})/status"),
             [this](const HttpRequest &r, HttpResponder responder) {
                 taskStatus(r, std::move(responder));
             });
    addRoute(
        "GET", QStringLiteral("/healthz"),
        [this](const HttpRequest &r, HttpResponder responder) { health(r, std::move(responder)); });
    addRoute("GET", QStringLiteral("/metrics"),
             [this](const HttpRequest &r, HttpResponder responder) {
                 renderMetrics(r, std::move(responder));
             });
}

IntakeServer::~IntakeServer() = default;

IntakeTally IntakeServer::tally() const
{
    const Counters &c = *m_counters;
    IntakeTally t;
    t.accepted = c.accepted.value();
    t.unavailable = c.unavailable.value() + c.tooManyConnections.value();
    t.misconfigured = c.misconfigured.value();
    t.badSignature = c.signature.value();
    return t;
}

Result<quint16, QString> IntakeServer::start()
{
    if (m_port != 0)
        return QStringLiteral("the intake is already listening on port %1").arg(m_port);
    if (const auto problem = m_options.problem())
        return *problem;
    if (!m_redis)
        return QStringLiteral("the intake has no Redis client");

    m_store->open();

    const quint16 port = listen(m_options.address, m_options.port);
    if (port == 0)
        return QStringLiteral("cannot listen on %1 (in use, or not an address of this machine)")
            .arg(m_options.listenText());
    m_port = port;
    if (!m_options.address.isLoopback() && m_options.webhookSecret.isEmpty())
        qCWarning(lcIntake).noquote()
            << "listening on" << m_options.address.toString() << "port" << port
            << "without a webhook signature key: anyone who can reach it can queue leads "
               "(set CLOSE_WEBHOOK_SECRET)";

    return port;
}

void IntakeServer::refusedEarly(int status)
{
    // The front answers these before routing; count them with the route's own refusals.
    Counters &c = *m_counters;
    switch (status) {
    case 413:
        c.tooLarge.increment();
        break;
    case 431:
        c.headerTooLarge.increment();
        break;
    case 408:
        c.requestTimeout.increment();
        break;
    case 503:
        c.tooManyConnections.increment();
        break;
    default:
        c.malformed.increment();
        break;
    }
}

void IntakeServer::reject(HttpResponder &responder, int status, const QString &detail,
                          MetricCounter &counter, const HttpHeaders &extraHeaders)
{
    counter.increment();
    sendError(responder, status, detail, extraHeaders);
}

void IntakeServer::acknowledge(HttpResponder &responder, int status, const QByteArray &body,
                               const QElapsedTimer &timer)
{
    responder.sendJson(status, body);
    m_counters->ack.observe(double(timer.nsecsElapsed()) / 1e9);
}

std::shared_ptr<WebhookExchange> IntakeServer::record(const HttpRequest &request,
                                                      HttpResponder &responder,
                                                      const QElapsedTimer &timer)
{
    auto exchange = std::make_shared<WebhookExchange>();
    exchange->seq = ++m_exchangeSeq;
    exchange->atMs = QDateTime::currentMSecsSinceEpoch();
    exchange->remote = request.remoteAddress.toString();
    exchange->method = request.method;
    exchange->path = request.path;
    exchange->headers = request.headers;
    exchange->bodySize = request.body.size();
    exchange->body = request.body.left(WebhookExchange::kMaxBody);
    exchange->idempotencyKey = request.header("idempotency-key").trimmed();
    exchange->signature = m_options.webhookSecret.isEmpty() ? QStringLiteral("not checked")
                                                            : QStringLiteral("not reached");
    QPointer<IntakeServer> self(this);
    responder.onAnswered([self, exchange, timer](int status, const QByteArray &answer) {
        if (!self)
            return;
        exchange->status = status;
        exchange->response = answer.left(WebhookExchange::kMaxBody);
        exchange->latencyUs = timer.nsecsElapsed() / 1000;
        Q_EMIT self->exchanged(*exchange);
    });
    return exchange;
}

void IntakeServer::addLead(const HttpRequest &request, HttpResponder responder)
{
    QElapsedTimer timer;
    timer.start();
    Counters &c = *m_counters;
    // What the handler learns goes into the recorded exchange as it learns it.
    const std::shared_ptr<WebhookExchange> exchange
        = m_recording ? record(request, responder, timer) : nullptr;

    const QByteArray contentType = request.header("content-type");
    if (!isJsonContentType(contentType)) {
        reject(responder, 415,
               contentType.isEmpty()
                   ? QStringLiteral("Content-Type is missing; send application/json")
                   : QStringLiteral("Content-Type must be application/json, not %1")
                         .arg(QString::fromLatin1(contentType.left(100))),
               c.contentType);
        return;
    }

    if (!m_options.webhookSecret.isEmpty()) {
        const SignatureCheck check = verifyCloseSignature(
            m_options.webhookSecret, request.header("close-sig-timestamp"),
            request.header("close-sig-hash"), request.body, QDateTime::currentSecsSinceEpoch(),
            m_options.signatureTolerance);
        if (exchange)
            exchange->signature = check.status == SignatureStatus::BadKey
                ? QStringLiteral("not checked: the server's key is unusable")
                : check.status == SignatureStatus::MissingHeaders ? QStringLiteral("missing")
                : check.ok()                                      ? QStringLiteral("valid")
                             : QStringLiteral("invalid: ") + signatureStatusName(check.status);
        if (check.status == SignatureStatus::BadKey) {
            qCCritical(lcIntake) << "the webhook signature key is unusable; refusing webhooks";
            reject(responder, 500,
                   QStringLiteral("the server's webhook signature key is misconfigured"),
                   c.misconfigured);
            return;
        }
        if (!check.ok()) {
            reject(responder, 401,
                   QStringLiteral("signature %1: %2")
                       .arg(signatureStatusName(check.status), check.detail),
                   c.signature);
            return;
        }
    }

    auto parsed = parseIntakeBody(request.body, m_options.limits);
    if (!parsed) {
        if (exchange)
            exchange->eventId = eventIdOf(request.body);
        reject(responder, 400, parsed.error().message(), c.badRequest);
        return;
    }
    const IntakeRequest &intake = parsed.value();
    if (exchange)
        exchange->eventId = intake.eventId;
    if (intake.ignored()
        || (!intake.needsLeadLookup && intake.leads.empty() && !intake.unusable())) {
        const QString reason = intake.ignored()
            ? intake.ignoredReason
            : QStringLiteral("the lead has no usable contact: ") + intake.skipped.join(u"; ");
        c.ignored.increment();
        acknowledge(responder, 200, dumpJson({ { "ignored", reason.toStdString() } }), timer);
        return;
    }

    QString dedupeId;
    if (intake.source == IntakeSource::CloseWebhook) {
        dedupeId = intake.eventId;
    } else if (request.hasHeader("idempotency-key")) {
        const QByteArray key = request.header("idempotency-key").trimmed();
        if (!isUsableIdempotencyKey(key)) {
            reject(responder, 400,
                   QStringLiteral("Idempotency-Key must be 1 to %1 visible ASCII characters")
                       .arg(kMaxIdempotencyKeyLength),
                   c.badRequest);
            return;
        }
        dedupeId = QStringLiteral("direct:") + QString::fromLatin1(key);
    }

    IntakeBatch batch = IntakeBatch::fromRequest(intake, newTaskId(), dedupeId,
                                                 QDateTime::currentMSecsSinceEpoch());
    batch.note = arrivalNote(intake, !m_options.webhookSecret.isEmpty());
    m_store->store(std::move(batch),
                   [self = QPointer<IntakeServer>(this), responder = std::move(responder), timer,
                    exchange](const IntakeStore::Result &stored) mutable {
                       if (!self)
                           return;
                       if (exchange)
                           exchange->taskId = stored.taskId;
                       self->answerStored(stored, responder, timer);
                   });
}

void IntakeServer::answerStored(const IntakeStore::Result &stored, HttpResponder &responder,
                                const QElapsedTimer &timer)
{
    Counters &c = *m_counters;
    const QByteArray taskId = dumpJson(stored.taskId.toStdString());
    switch (stored.outcome) {
    case IntakeStore::Outcome::Duplicate:
        c.duplicates.increment();
        acknowledge(responder, 200, "{\"task_id\":" + taskId + ",\"duplicate\":true}", timer);
        return;
    case IntakeStore::Outcome::Stored:
        c.accepted.increment();
        if (stored.deadLettered > 0)
            c.deadOnArrival.increment(stored.deadLettered);
        acknowledge(responder, 202,
                    "{\"task_id\":" + taskId + ",\"leads\":" + QByteArray::number(stored.leads)
                        + (stored.deadLettered > 0
                               ? ",\"dead_lettered\":" + QByteArray::number(stored.deadLettered)
                               : QByteArray())
                        + '}',
                    timer);
        return;
    case IntakeStore::Outcome::Spooled:
        c.accepted.increment();
        acknowledge(responder, 202,
                    "{\"task_id\":" + taskId + ",\"leads\":" + QByteArray::number(stored.leads)
                        + ",\"spooled\":true}",
                    timer);
        return;
    case IntakeStore::Outcome::Unavailable:
        if (stored.fault) {
            reject(responder, 500, stored.detail + QStringLiteral("; retry later"),
                   c.misconfigured);
            return;
        }
        reject(responder, 503, stored.detail + QStringLiteral("; retry later"), c.unavailable,
               { { "Retry-After", QByteArray::number(m_options.retryAfter.count()) } });
        return;
    }
}

void IntakeServer::taskStatus(const HttpRequest &request, HttpResponder responder)
{
    const QString taskId = request.captures.value(0);
    if (const auto spooled = m_store->spooledLeads(taskId)) {
        responder.sendJson(200,
                           dumpJson({ { "task_id", taskId.toStdString() },
                                      { "state", "spooled" },
                                      { "total", *spooled },
                                      { "processed", 0 } }));
        return;
    }
    if (!m_store->redisConnected()) {
        sendError(responder, 503, QStringLiteral("Redis is unreachable; retry later"),
                  { { "Retry-After", QByteArray::number(m_options.retryAfter.count()) } });
        return;
    }
    m_redis->command(
        { "HGETALL", m_keys.task(taskId) },
        [self = QPointer<IntakeServer>(this), taskId,
         responder = std::move(responder)](RedisResult result) mutable {
            if (!self)
                return;
            if (!result.ok()) {
                self->sendError(
                    responder, 503,
                    QStringLiteral("cannot read the task: %1").arg(result.error().describe()));
                return;
            }
            const auto &elements = result.value().elements();
            if (elements.empty()) {
                self->sendError(responder, 404,
                                QStringLiteral("no task %1 (unknown, or older than the retention)")
                                    .arg(taskId));
                return;
            }
            json body = { { "task_id", taskId.toStdString() } };
            for (const char *field : { "total", "processed", "succeeded", "failed", "skipped",
                                       "dead", "rate_limit_delays", "retries" })
                body[field] = 0;
            for (const char *field : { "created_ms", "first_sent_ms", "finished_ms" })
                body[field] = nullptr;
            for (size_t i = 0; i + 1 < elements.size(); i += 2) {
                const std::string key = elements[i].bytes().toStdString();
                const QByteArray &value = elements[i + 1].bytes();
                // Counters and *_ms timestamps are numbers; everything else (state, campaign,
                // source, last_error) stays text, even when it looks like a number.
                const bool numeric = body.contains(key) || key.ends_with("_ms");
                bool isNumber = false;
                const qint64 number = value.toLongLong(&isNumber);
                if (numeric && isNumber)
                    body[key] = number;
                else
                    body[key] = value.toStdString();
            }
            responder.sendJson(200, dumpJson(body));
        });
}

void IntakeServer::health(const HttpRequest &, HttpResponder responder)
{
    if (!m_fleet) {
        answerHealth(std::move(responder), FleetSnapshot());
        return;
    }
    m_fleet->withFresh([this, responder](const FleetSnapshot &fleet) mutable {
        answerHealth(std::move(responder), fleet);
    });
}

namespace {

/// The fleet's part of /healthz: what dispatching waits for, and what waits for an operator.
json fleetHealth(const FleetSnapshot &fleet)
{
    json dispatch = { { "paused", bool(fleet.pause.reason) } };
    if (fleet.pause.reason) {
        dispatch["cause"] = pauseCauseName(fleet.pause.cause).toStdString();
        dispatch["reason"] = fleet.pause.reason->toStdString();
        dispatch["since_ms"] = fleet.pause.sinceMs;
    }
    json parked = json::array();
    for (const ParkedCampaign &p : fleet.parked)
        parked.push_back({ { "name", p.name.toStdString() },
                           { "leads", p.leads },
                           { "since_ms", p.sinceMs },
                           { "since",
                             QDateTime::fromMSecsSinceEpoch(p.sinceMs, Qt::UTC)
                                 .toString(Qt::ISODateWithMs)
                                 .toStdString() } });
    json byReason = json::object();
    for (const DeadLetterCount &d : fleet.deadLetters)
        byReason[leadReasonCode(d.code).toStdString()] = d.count;
    return {
        // False until Redis answered once: then the rest says nothing yet.
        { "fleet_known", fleet.known },
        { "dispatch", dispatch },
        { "remaining_in_plan",
          fleet.pause.remainingInPlan < 0 ? json(nullptr) : json(fleet.pause.remainingInPlan) },
        { "parked_campaigns", parked },
        { "parked_leads", fleet.parkedLeads() },
        { "dead_letters", { { "total", fleet.deadLetterTotal() }, { "by_reason", byReason } } },
    };
}

} // namespace

void IntakeServer::answerHealth(HttpResponder responder, const FleetSnapshot &fleet)
{
    const bool redisUp = m_store->redisConnected();
    const Spool &spoolFile = m_store->spool();
    const bool spoolUp = !m_options.spoolPath.isEmpty() && spoolFile.isOpen();
    json spool = { { "depth", spoolFile.depth() },
                   { "writable", spoolUp },
                   { "draining", m_store->draining() } };
    if (!spoolUp && !m_options.spoolPath.isEmpty())
        spool["error"] = spoolFile.errorString().toStdString();
    bool deliveryHealthy = true;
    const QVariantMap delivery = m_healthSource ? m_healthSource(deliveryHealthy) : QVariantMap();
    // Paused, nothing reaches Instantly: an operator (or a probe) must act, whoever paused.
    const bool dispatching = !fleet.pause.reason;
    json body = {
        { "status",
          redisUp ? (deliveryHealthy && dispatching ? "ok" : "degraded")
                  : (spoolUp ? "degraded" : "unavailable") },
        { "redis",
          { { "connected", redisUp },
            { "state",
              (m_redis ? RedisClient::stateName(m_redis->state()) : QStringLiteral("none"))
                  .toStdString() } } },
        { "spool", spool },
    };
    if (m_fleet) {
        const json f = fleetHealth(fleet);
        for (auto it = f.begin(); it != f.end(); ++it)
            body[it.key()] = it.value();
    }
    for (auto it = delivery.cbegin(); it != delivery.cend(); ++it)
        body[it.key().toStdString()] = variantToJson(it.value());
    responder.sendJson(redisUp || spoolUp ? 200 : 503, dumpJson(body));
}

void IntakeServer::renderMetrics(const HttpRequest &, HttpResponder responder)
{
    const auto send = [this](HttpResponder &r) {
        r.send(200, m_metrics->render(),
               QByteArrayLiteral("text/plain; version=0.0.4; charset=utf-8"));
    };
    if (!m_fleet) {
        send(responder);
        return;
    }
    // The fleet's gauges read the snapshot: make it fresh (or give up waiting) first.
    m_fleet->withFresh([send, responder](const FleetSnapshot &) mutable { send(responder); });
}

} // namespace sluice

#include "moc_intakeserver.cpp" // NOLINT(bugprone-suspicious-include)
