#include "intakeserver.h"

#include "close/closesignature.h"
#include "close/closewebhook.h"
#include "control/fleetstatus.h"
#include "core/jsonvariant.h"
#include "intakebatch.h"
#include "metrics.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"
#include "webhookexchange.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QHttpServerRequest>
#include <QLoggingCategory>

#include <nlohmann/json.hpp>

namespace sluice {

Q_LOGGING_CATEGORY(lcIntake, "sluice.intake")

using json = nlohmann::json;

namespace {

const QString kEnqueueScript = QStringLiteral("intake_enqueue");
constexpr qsizetype kMaxIdempotencyKeyLength = 200;

QByteArray dumpJson(const json &j)
{
    return QByteArray::fromStdString(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

/// "application/json" out of "application/json; charset=utf-8".
bool isJsonContentType(const QByteArray &header)
{
    const qsizetype semicolon = header.indexOf(';');
    const QByteArray media = (semicolon < 0 ? header : header.left(semicolon)).trimmed();
    return media.compare("application/json", Qt::CaseInsensitive) == 0;
}

/// Visible ASCII only, so the key can sit in a Redis key name and a log line as it is.
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

bool mayHaveRun(RedisError::Kind kind)
{
    return kind == RedisError::Kind::ConnectionLost || kind == RedisError::Kind::Timeout;
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
        , spooled(m.counter("sluice_intake_spooled_total",
                            "Requests written to the local spool because Redis was unreachable."))
        , drained(m.counter("sluice_intake_spool_drained_total",
                            "Spooled requests replayed into Redis."))
        , replayDuplicates(m.counter("sluice_intake_spool_replay_duplicates_total",
                                     "Spooled requests Redis already held (their first write "
                                     "ran after all, or the event was delivered twice)."))
        , tooLarge(rejected(m, "payload_too_large"))
        , contentType(rejected(m, "unsupported_media_type"))
        , signature(rejected(m, "bad_signature"))
        , badRequest(rejected(m, "bad_request"))
        , unavailable(rejected(m, "unavailable"))
        , misconfigured(rejected(m, "misconfigured"))
        , ack(m.histogram("sluice_intake_ack_seconds",
                          "Time from routing a POST /instantly/add_lead to its 2xx answer.",
                          Metrics::latencyBuckets()))
        , spoolDepth(m.gauge("sluice_intake_spool_depth",
                             "Requests waiting in the local spool for Redis."))
        , redisUp(m.gauge("sluice_intake_redis_connected",
                          "1 when the intake's Redis connection is up."))
    { }

    static MetricCounter &rejected(Metrics &m, const char *reason)
    {
        return m.counter("sluice_intake_rejected_total",
                         "Requests to POST /instantly/add_lead refused, by reason.",
                         { { "reason", reason } });
    }

    MetricCounter &accepted;
    MetricCounter &duplicates;
    MetricCounter &ignored;
    MetricCounter &deadOnArrival;
    MetricCounter &spooled;
    MetricCounter &drained;
    MetricCounter &replayDuplicates;
    MetricCounter &tooLarge;
    MetricCounter &contentType;
    MetricCounter &signature;
    MetricCounter &badRequest;
    MetricCounter &unavailable;
    MetricCounter &misconfigured;
    MetricHistogram &ack;
    MetricGauge &spoolDepth;
    MetricGauge &redisUp;
};

IntakeServer::IntakeServer(IntakeOptions options, RedisClient *redis, Metrics *metrics,
                           QObject *parent)
    : HttpServer(parent)
    , m_options(std::move(options))
    , m_redis(redis)
    , m_keys(m_options.ns)
    , m_ownMetrics(metrics ? nullptr : std::make_unique<Metrics>())
    , m_metrics(metrics ? metrics : m_ownMetrics.get())
    , m_spool(m_options.spoolPath)
    , m_counters(std::make_unique<Counters>(*m_metrics))
{
    setMaxBodyBytes(m_options.maxBodyBytes);
    m_drainRetry.setSingleShot(true);
    m_drainRetry.setInterval(1000);
    connect(&m_drainRetry, &QTimer::timeout, this, &IntakeServer::drainSpool);
    if (m_redis) {
        m_redis->loadScript(kEnqueueScript, bundledLuaScript(kEnqueueScript));
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

Result<quint16, QString> IntakeServer::start()
{
    if (m_port != 0)
        return QStringLiteral("the intake is already listening on port %1").arg(m_port);
    if (const auto problem = m_options.problem())
        return *problem;
    if (!m_redis)
        return QStringLiteral("the intake has no Redis client");

    if (m_options.spoolPath.isEmpty()) {
        qCInfo(lcIntake) << "no spool file: while Redis is unreachable, webhooks get 503";
    } else if (m_spool.open()) {
        for (const QByteArray &line : m_spool.pending()) {
            if (const auto batch = IntakeBatch::fromJsonLine(line))
                rememberSpooled(*batch);
        }
        adoptOrphanSpools();
        if (!m_spool.isEmpty())
            qCInfo(lcIntake).noquote()
                << m_spool.depth() << "spooled request(s) wait in" << m_spool.path();
    } else {
        qCWarning(lcIntake).noquote() << "the spool is unusable:" << m_spool.errorString()
                                      << "(while Redis is unreachable, webhooks get 503)";
    }
    m_counters->spoolDepth.set(double(m_spool.depth()));

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

    m_counters->redisUp.set(redisConnected() ? 1 : 0);
    connect(m_redis, &RedisClient::stateChanged, this, [this](RedisClient::State state) {
        m_counters->redisUp.set(state == RedisClient::State::Connected ? 1 : 0);
        if (state == RedisClient::State::Connected)
            drainSpool();
    });
    drainSpool();
    m_adoptTimer.setInterval(30'000);
    connect(&m_adoptTimer, &QTimer::timeout, this, &IntakeServer::drainSpool);
    if (m_spool.isOpen())
        m_adoptTimer.start();
    return port;
}

bool IntakeServer::handleRequest(const QHttpServerRequest &request, QTcpSocket *socket)
{
    // The base class answers 413 before routing; count it here.
    if (request.body().size() > m_options.maxBodyBytes)
        m_counters->tooLarge.increment();
    return HttpServer::handleRequest(request, socket);
}

bool IntakeServer::redisConnected() const
{
    return m_redis && m_redis->state() == RedisClient::State::Connected;
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

void IntakeServer::record(const HttpRequest &request, HttpResponder &responder,
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
    const nlohmann::json body
        = nlohmann::json::parse(request.body.constBegin(), request.body.constEnd(), nullptr, false);
    if (body.is_object() && body.contains("event") && body["event"].is_object()
        && body["event"].contains("id") && body["event"]["id"].is_string())
        exchange->eventId = QString::fromStdString(body["event"]["id"].get<std::string>());
    const bool signedRequest = request.hasHeader("close-sig-hash");
    const bool checked = !m_options.webhookSecret.isEmpty();
    QPointer<IntakeServer> self(this);
    responder.onAnswered(
        [self, exchange, timer, signedRequest, checked](int status, const QByteArray &answer) {
            if (!self)
                return;
            exchange->status = status;
            exchange->response = answer.left(WebhookExchange::kMaxBody);
            exchange->latencyUs = timer.nsecsElapsed() / 1000;
            if (!checked)
                exchange->signature = QStringLiteral("not checked");
            else if (status == 401)
                exchange->signature
                    = signedRequest ? QStringLiteral("invalid") : QStringLiteral("missing");
            else if (status == 415)
                exchange->signature = QStringLiteral("not reached");
            else
                exchange->signature = QStringLiteral("valid");
            const nlohmann::json j
                = nlohmann::json::parse(answer.constBegin(), answer.constEnd(), nullptr, false);
            if (j.is_object() && j.contains("task_id") && j["task_id"].is_string())
                exchange->taskId = QString::fromStdString(j["task_id"].get<std::string>());
            Q_EMIT self->exchanged(*exchange);
        });
}

void IntakeServer::addLead(const HttpRequest &request, HttpResponder responder)
{
    QElapsedTimer timer;
    timer.start();
    Counters &c = *m_counters;
    if (m_recording)
        record(request, responder, timer);

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
        reject(responder, 400, parsed.error().message(), c.badRequest);
        return;
    }
    const IntakeRequest &intake = parsed.value();
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
    const QString taskDedupe = intake.closeTaskId.isEmpty()
        ? QString()
        : QStringLiteral("close-task:") + intake.closeTaskId;
    for (const QString &key : { dedupeId, taskDedupe }) {
        if (key.isEmpty())
            continue;
        // Delivered again while the first delivery still waits in the spool.
        const auto spooled = m_spooledDedupe.constFind(key);
        if (spooled != m_spooledDedupe.constEnd()) {
            c.duplicates.increment();
            acknowledge(responder, 200,
                        dumpJson({ { "task_id", spooled->toStdString() }, { "duplicate", true } }),
                        timer);
            return;
        }
    }

    IntakeBatch batch = IntakeBatch::fromRequest(intake, newTaskId(), dedupeId,
                                                 QDateTime::currentMSecsSinceEpoch());
    batch.note = arrivalNote(intake, !m_options.webhookSecret.isEmpty());
    if (!redisConnected()) {
        spoolAndAnswer(batch, responder, timer);
        return;
    }
    store(std::move(batch), std::move(responder), timer);
}

void IntakeServer::store(IntakeBatch batch, HttpResponder responder, QElapsedTimer timer)
{
    const QList<QByteArray> keys = batch.scriptKeys(m_keys);
    const QList<QByteArray> args
        = batch.scriptArgs(m_keys, m_options.retention.count(), m_options.journal);
    m_redis->evalScript(
        kEnqueueScript, keys, args,
        [self = QPointer<IntakeServer>(this), batch = std::move(batch),
         responder = std::move(responder), timer](RedisResult result) mutable {
            if (!self)
                return;
            Counters &c = *self->m_counters;
            if (!result.ok()) {
                const RedisError &error = result.error();
                if (error.kind == RedisError::Kind::NotConnected || mayHaveRun(error.kind)) {
                    self->spoolAndAnswer(batch, responder, timer);
                    return;
                }
                qCWarning(lcIntake).noquote()
                    << "Redis refused to store task" << batch.taskId << ':' << error.describe();
                self->reject(
                    responder, 503,
                    QStringLiteral("Redis refused the write (%1); retry later")
                        .arg(error.describe()),
                    c.unavailable,
                    { { "Retry-After", QByteArray::number(self->m_options.retryAfter.count()) } });
                return;
            }
            const RedisReply &reply = result.value();
            const QByteArray taskId = reply.at(0).bytes();
            if (!reply.isArray() || taskId.isEmpty()) {
                qCCritical(lcIntake).noquote()
                    << "unexpected reply from" << kEnqueueScript << ':' << reply.describe();
                self->reject(responder, 500,
                             QStringLiteral("unexpected answer from the queue; retry later"),
                             c.misconfigured);
                return;
            }
            if (reply.at(1).integer() == 1) {
                c.duplicates.increment();
                self->acknowledge(responder, 200,
                                  "{\"task_id\":" + dumpJson(taskId.toStdString())
                                      + ",\"duplicate\":true}",
                                  timer);
                return;
            }
            c.accepted.increment();
            const qint64 dead = reply.at(3).integer();
            if (dead > 0)
                c.deadOnArrival.increment(dead);
            self->acknowledge(
                responder, 202,
                "{\"task_id\":\"" + taskId
                    + "\",\"leads\":" + QByteArray::number(reply.at(2).integer() - dead)
                    + (dead > 0 ? ",\"dead_lettered\":" + QByteArray::number(dead) : QByteArray())
                    + '}',
                timer);
        });
}

void IntakeServer::spoolAndAnswer(const IntakeBatch &batch, HttpResponder &responder,
                                  const QElapsedTimer &timer)
{
    Counters &c = *m_counters;
    if (!m_options.spoolPath.isEmpty() && m_spool.append(batch.toJsonLine())) {
        rememberSpooled(batch);
        c.spoolDepth.set(double(m_spool.depth()));
        c.spooled.increment();
        c.accepted.increment();
        acknowledge(responder, 202,
                    "{\"task_id\":\"" + batch.taskId.toLatin1() + "\",\"leads\":"
                        + QByteArray::number(batch.entries.size()) + ",\"spooled\":true}",
                    timer);
        return;
    }
    qCWarning(lcIntake).noquote() << "Redis is unreachable and the spool failed:"
                                  << (m_options.spoolPath.isEmpty()
                                          ? QStringLiteral("no spool file is configured")
                                          : m_spool.errorString());
    reject(responder, 503,
           QStringLiteral("the queue is unavailable (Redis unreachable, spool not writable); "
                          "retry later"),
           c.unavailable, { { "Retry-After", QByteArray::number(m_options.retryAfter.count()) } });
}

void IntakeServer::rememberSpooled(const IntakeBatch &batch)
{
    m_spooledTasks.insert(batch.taskId, int(batch.entries.size()));
    if (!batch.dedupeId.isEmpty())
        m_spooledDedupe.insert(batch.dedupeId, batch.taskId);
    if (!batch.closeTaskId.isEmpty())
        m_spooledDedupe.insert(QStringLiteral("close-task:") + batch.closeTaskId, batch.taskId);
}

void IntakeServer::forgetSpooled(const QByteArray &line)
{
    const auto batch = IntakeBatch::fromJsonLine(line);
    if (!batch)
        return;
    m_spooledTasks.remove(batch->taskId);
    const QString taskKey = QStringLiteral("close-task:") + batch->closeTaskId;
    for (const QString &key : { batch->dedupeId, taskKey }) {
        const auto it = m_spooledDedupe.constFind(key);
        if (it != m_spooledDedupe.constEnd() && *it == batch->taskId)
            m_spooledDedupe.erase(it);
    }
}

void IntakeServer::adoptOrphanSpools()
{
    if (!m_spool.isOpen())
        return;
    const QFileInfo own(m_spool.path());
    const QDir dir = own.absoluteDir();
    // intake-spool-<instance>.jsonl, and intake-spool.jsonl of versions with one per directory.
    for (const QString &name :
         dir.entryList({ QStringLiteral("intake-spool*.jsonl") }, QDir::Files)) {
        if (name == own.fileName())
            continue;
        Spool orphan(dir.filePath(name));
        if (!orphan.open())
            continue; // a live process's spool (or unusable): left alone
        qsizetype adopted = 0;
        bool complete = true;
        for (const QByteArray &line : orphan.pending()) {
            // Appended here first: a crash before the orphan is removed replays its lines
            // twice, and the enqueue script refuses the repeat.
            if (!m_spool.append(line)) {
                complete = false;
                break;
            }
            if (const auto batch = IntakeBatch::fromJsonLine(line))
                rememberSpooled(*batch);
            ++adopted;
        }
        if (!complete) {
            qCWarning(lcIntake).noquote()
                << "cannot adopt the spool" << orphan.path() << ":" << m_spool.errorString();
            continue;
        }
        if (adopted > 0)
            qCInfo(lcIntake).noquote() << "adopted" << adopted << "spooled request(s) of"
                                       << orphan.path() << "(its process is gone)";
        orphan.remove();
    }
    m_counters->spoolDepth.set(double(m_spool.depth()));
}

void IntakeServer::drainSpool()
{
    adoptOrphanSpools(); // a process that died meanwhile leaves its spool to us
    if (m_draining || m_spool.isEmpty() || !redisConnected())
        return;
    qCInfo(lcIntake) << "replaying" << m_spool.depth() << "spooled request(s) into Redis";
    m_draining = true;
    drainNext();
}

void IntakeServer::drainNext()
{
    while (!m_spool.isEmpty()) {
        if (!redisConnected()) {
            m_draining = false;
            return;
        }
        const QByteArray line = m_spool.front();
        const auto batch = IntakeBatch::fromJsonLine(line);
        if (!batch) {
            // Only a damaged file gets here (appended lines are whole batches).
            qCWarning(lcIntake).noquote()
                << "dropping an unreadable spool line:" << QString::fromUtf8(line.left(200));
            m_spool.popFront();
            m_counters->spoolDepth.set(double(m_spool.depth()));
            continue;
        }
        m_redis->evalScript(
            kEnqueueScript, batch->scriptKeys(m_keys),
            batch->scriptArgs(m_keys, m_options.retention.count(), m_options.journal),
            [self = QPointer<IntakeServer>(this), line](RedisResult result) {
                if (!self)
                    return;
                if (!result.ok()) {
                    self->m_draining = false;
                    if (!mayHaveRun(result.error().kind)
                        && result.error().kind != RedisError::Kind::NotConnected)
                        qCWarning(lcIntake).noquote()
                            << "cannot replay a spooled request:" << result.error().describe();
                    // Resumes on the next Connected, or after a pause if Redis stays up.
                    self->m_drainRetry.start();
                    return;
                }
                Q_ASSERT(!self->m_spool.isEmpty() && self->m_spool.front() == line);
                self->forgetSpooled(line);
                if (!self->m_spool.popFront())
                    qCWarning(lcIntake).noquote()
                        << "cannot record spool progress (a restart replays, harmlessly):"
                        << self->m_spool.errorString();
                self->m_counters->drained.increment();
                if (result.value().at(1).integer() == 1)
                    self->m_counters->replayDuplicates.increment();
                self->m_counters->spoolDepth.set(double(self->m_spool.depth()));
                self->drainNext();
            });
        return;
    }
    m_draining = false;
    qCInfo(lcIntake) << "the spool is drained";
    Q_EMIT spoolDrained();
}

void IntakeServer::taskStatus(const HttpRequest &request, HttpResponder responder)
{
    const QString taskId = request.captures.value(0);
    const auto spooled = m_spooledTasks.constFind(taskId);
    if (spooled != m_spooledTasks.constEnd()) {
        responder.sendJson(200,
                           dumpJson({ { "task_id", taskId.toStdString() },
                                      { "state", "spooled" },
                                      { "total", *spooled },
                                      { "processed", 0 } }));
        return;
    }
    if (!redisConnected()) {
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
    const bool redisUp = redisConnected();
    const bool spoolUp = !m_options.spoolPath.isEmpty() && m_spool.isOpen();
    json spool
        = { { "depth", m_spool.depth() }, { "writable", spoolUp }, { "draining", m_draining } };
    if (!spoolUp && !m_options.spoolPath.isEmpty())
        spool["error"] = m_spool.errorString().toStdString();
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
