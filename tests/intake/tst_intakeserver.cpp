// The webhook intake over real HTTP against a private redis-server: accepted Close webhooks and
// direct batches land in the stream and the task hash exactly as the dispatcher's contract
// says; duplicates and ignored events store nothing; every bad request gets its 4xx with a
// JSON {error, detail} and stores nothing; with Redis down requests spool (fsync'd) and drain
// exactly once when it returns, also after a timeout whose script did run and after a crash
// that left an already-stored line in the spool; /healthz and /metrics tell the story.
#include "close/closesignature.h"
#include "close/closewebhook.h"
#include "common/suite.h"
#include "intake/intakebatch.h"
#include "intake/intakeserver.h"
#include "intake/intakestore.h"
#include "intake/spool.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"
#include "telemetry/metrics.h"

#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include "common/httpreply.h"

#include <memory>

using namespace sluice;
using sluice::test::RedisServer;
using Reply = sluice::test::HttpReply;
using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

const QByteArray kSecret = "00112233445566778899aabbccddeeff";
const QByteArray kJson = "application/json";

QByteArray dump(const json &j)
{
    return QByteArray::fromStdString(j.dump());
}

json closeLead(const QString &leadId, const QStringList &emails)
{
    json contacts = json::array();
    for (int i = 0; i < emails.size(); ++i)
        contacts.push_back(
            { { "name", "Person " + std::to_string(i) + " Lee" },
              { "emails", json::array({ { { "email", emails[i].toStdString() } } }) } });
    return { { "id", leadId.toStdString() }, { "display_name", "Acme" }, { "contacts", contacts } };
}

/// A Close task.lead/created webhook; with `inlineEmails`, the lead rides along. Each event is
/// about its own task ("task_" + the event id) unless `taskId` names one.
QByteArray closeWebhook(const QString &eventId, const QStringList &inlineEmails = {},
                        const QString &text = QStringLiteral("Instantly: Spring Launch"),
                        const QString &objectType = QStringLiteral("task.lead"),
                        const QString &taskId = {})
{
    json body
        = { { "subscription_id", "whsub_1" },
            { "event",
              { { "id", eventId.toStdString() },
                { "object_type", objectType.toStdString() },
                { "action", "created" },
                { "lead_id", "lead_42" },
                { "object_id",
                  (taskId.isEmpty() ? QStringLiteral("task_") + eventId : taskId).toStdString() },
                { "data", { { "text", text.toStdString() }, { "lead_id", "lead_42" } } } } } };
    if (!inlineEmails.isEmpty())
        body["lead"] = closeLead(QStringLiteral("lead_42"), inlineEmails);
    return dump(body);
}

QByteArray directBatch(int n, const QString &campaign = QStringLiteral("Direct Campaign"))
{
    json leads = json::array();
    for (int i = 0; i < n; ++i)
        leads.push_back({ { "email", "p" + std::to_string(i) + "@example.com" },
                          { "first_name", "P" + std::to_string(i) } });
    return dump({ { "campaign", campaign.toStdString() }, { "leads", leads } });
}

} // namespace

class TestIntakeServer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_redisServer.start(), qPrintable(m_redisServer.errorString()));
    }

    void init()
    {
        ++m_round;
        m_ns = QStringLiteral("intake%1").arg(m_round);
        m_keys = RedisKeys(m_ns);
        if (!m_redisServer.isRunning())
            QVERIFY2(m_redisServer.start(), qPrintable(m_redisServer.errorString()));
        m_redis = connectRedis();
        m_admin = connectRedis();
        QVERIFY(m_redis && m_admin);
        m_spoolPath = m_dir.filePath(QStringLiteral("round%1/spool.jsonl").arg(m_round));
    }

    void cleanup()
    {
        m_intake.reset();
        m_redis.reset();
        m_admin.reset();
    }

    // --- accepting -----------------------------------------------------------------------

    void acceptsCloseWebhookWithInlineLead()
    {
        QVERIFY(startIntake());
        const Reply r
            = post(closeWebhook(QStringLiteral("ev_inline"), { QStringLiteral("ann@acme.io") }));
        QCOMPARE(r.status, 202);
        const QString taskId = r.text("task_id");
        QVERIFY2(!taskId.isEmpty(), qPrintable(r.describe()));
        QVERIFY(r.parsed()["leads"] == 1);

        const QList<QList<QByteArray>> entries = streamEntries();
        QCOMPARE(entries.size(), 1);
        const auto lead = QueuedLead::fromFields(entries.first());
        QVERIFY2(lead.ok(), qPrintable(lead.ok() ? QString() : lead.error()));
        QCOMPARE(lead->taskId, taskId);
        QCOMPARE(lead->campaignName, QStringLiteral("Spring Launch"));
        QCOMPARE(lead->source, QStringLiteral("close"));
        QCOMPARE(lead->eventId, QStringLiteral("ev_inline"));
        QCOMPARE(lead->attempt, 0);
        QVERIFY(!lead->needsLookup);
        QCOMPARE(lead->lead.email, QStringLiteral("ann@acme.io"));
        QCOMPARE(lead->lead.firstName, QStringLiteral("Person"));
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        QVERIFY(lead->receivedMs > now - 60'000 && lead->receivedMs <= now);

        const QHash<QByteArray, QByteArray> task = taskHash(taskId);
        QCOMPARE(task.value("total"), QByteArray("1"));
        QCOMPARE(task.value("processed"), QByteArray("0"));
        QCOMPARE(task.value("state"), QByteArray("queued"));
        QCOMPARE(task.value("campaign"), QByteArray("Spring Launch"));
        QCOMPARE(task.value("source"), QByteArray("close"));
        QCOMPARE(task.value("created_ms").toLongLong(), lead->receivedMs);
        const qint64 week = 7 * 24 * 3600;
        const qint64 taskTtl = redis({ "TTL", m_keys.task(taskId) }).integer();
        QVERIFY2(taskTtl > week - 60 && taskTtl <= week, qPrintable(QString::number(taskTtl)));
        QCOMPARE(redis({ "GET", m_keys.closeEvent(QStringLiteral("ev_inline")) }).bytes(),
                 taskId.toUtf8());
        QVERIFY(redis({ "TTL", m_keys.closeEvent(QStringLiteral("ev_inline")) }).integer() > 0);
        QCOMPARE(redis({ "ZSCORE", m_keys.tasks(), taskId.toUtf8() }).bytes().toLongLong(),
                 lead->receivedMs);

        const Reply status = get(QStringLiteral("/instantly/task/%1/status").arg(taskId));
        QCOMPARE(status.status, 200);
        const json s = status.parsed();
        QVERIFY2(s["task_id"] == taskId.toStdString(), qPrintable(status.describe()));
        QVERIFY(s["total"] == 1);
        QVERIFY(s["processed"] == 0);
        QVERIFY(s["succeeded"] == 0);
        QVERIFY(s["rate_limit_delays"] == 0);
        QVERIFY(s["state"] == "queued");
        QVERIFY(s["campaign"] == "Spring Launch");
        QVERIFY(s["created_ms"] == lead->receivedMs);
        QVERIFY(s["first_sent_ms"].is_null());
        QVERIFY(s["finished_ms"].is_null());
    }

    void closeWebhookWithoutLeadNeedsLookup()
    {
        QVERIFY(startIntake());
        const Reply r = post(closeWebhook(QStringLiteral("ev_lookup")));
        QCOMPARE(r.status, 202);
        const QList<QList<QByteArray>> entries = streamEntries();
        QCOMPARE(entries.size(), 1);
        const auto lead = QueuedLead::fromFields(entries.first());
        QVERIFY(lead.ok());
        QVERIFY(lead->needsLookup);
        QCOMPARE(lead->closeLeadId, QStringLiteral("lead_42"));
        QCOMPARE(lead->taskId, r.text("task_id"));
        QCOMPARE(taskHash(r.text("task_id")).value("total"), QByteArray("1"));
    }

    void directBatchOfThree()
    {
        QVERIFY(startIntake());
        const Reply r = post(directBatch(3));
        QCOMPARE(r.status, 202);
        QVERIFY(r.parsed()["leads"] == 3);
        const QList<QList<QByteArray>> entries = streamEntries();
        QCOMPARE(entries.size(), 3);
        for (int i = 0; i < 3; ++i) {
            const auto lead = QueuedLead::fromFields(entries[i]);
            QVERIFY(lead.ok());
            QCOMPARE(lead->lead.email, QStringLiteral("p%1@example.com").arg(i)); // in order
            QCOMPARE(lead->source, QStringLiteral("direct"));
            QCOMPARE(lead->campaignName, QStringLiteral("Direct Campaign"));
            QCOMPARE(lead->taskId, r.text("task_id"));
        }
        const auto task = taskHash(r.text("task_id"));
        QCOMPARE(task.value("total"), QByteArray("3"));
        QCOMPARE(task.value("source"), QByteArray("direct"));
    }

    void duplicatesAreDropped_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QByteArray>("idempotencyKey");
        QTest::newRow("Close event id") << closeWebhook(QStringLiteral("ev_dup")) << QByteArray();
        QTest::newRow("Close event id, inline lead")
            << closeWebhook(QStringLiteral("ev_dup2"), { QStringLiteral("a@b.io") })
            << QByteArray();
        QTest::newRow("Idempotency-Key") << directBatch(2) << QByteArray("order-77");
    }
    void duplicatesAreDropped()
    {
        QFETCH(QByteArray, body);
        QFETCH(QByteArray, idempotencyKey);
        QVERIFY(startIntake());
        const HttpHeaders headers = idempotencyKey.isEmpty()
            ? HttpHeaders {}
            : HttpHeaders { { "Idempotency-Key", idempotencyKey } };
        const Reply first = post(body, headers);
        QCOMPARE(first.status, 202);
        const qint64 stored = streamLength();
        for (int i = 0; i < 2; ++i) {
            const Reply again = post(body, headers);
            QCOMPARE(again.status, 200);
            QVERIFY2(again.parsed()["duplicate"] == true, qPrintable(again.describe()));
            QCOMPARE(again.text("task_id"), first.text("task_id"));
        }
        QCOMPARE(streamLength(), stored);
        QCOMPARE(redis({ "ZCARD", m_keys.tasks() }).integer(), 1);
        if (!idempotencyKey.isEmpty()) {
            // Without the key, the same body is a new batch.
            QCOMPARE(post(body).status, 202);
            QCOMPARE(streamLength(), 2 * stored);
        }
    }

    /// Close may send two events about one task (or a backfill queued it first): the task id
    /// is a dedupe key of its own, written for every webhook that names its task.
    void aSecondEventAboutTheSameTaskIsADuplicate()
    {
        QVERIFY(startIntake());
        const QString task = QStringLiteral("task_same");
        const Reply first = post(closeWebhook(QStringLiteral("ev_t1"), {},
                                              QStringLiteral("Instantly: Spring Launch"),
                                              QStringLiteral("task.lead"), task));
        QCOMPARE(first.status, 202);
        QCOMPARE(redis({ "GET", m_keys.closeTask(task) }).bytes(), first.text("task_id").toUtf8());
        const Reply again = post(closeWebhook(QStringLiteral("ev_t2"), {},
                                              QStringLiteral("Instantly: Spring Launch"),
                                              QStringLiteral("task.lead"), task));
        QCOMPARE(again.status, 200);
        QCOMPARE(again.text("task_id"), first.text("task_id"));
        QCOMPARE(redis({ "ZCARD", m_keys.tasks() }).integer(), 1);
        // A task the backfill queued (its marker only) is a duplicate for the webhook too.
        QCOMPARE(redis({ "SET", m_keys.closeTask(QStringLiteral("task_bf")), "sluice-task-7" })
                     .isError(),
                 false);
        const Reply backfilled = post(
            closeWebhook(QStringLiteral("ev_t3"), {}, QStringLiteral("Instantly: Spring Launch"),
                         QStringLiteral("task.lead"), QStringLiteral("task_bf")));
        QCOMPARE(backfilled.status, 200);
        QCOMPARE(backfilled.text("task_id"), QStringLiteral("sluice-task-7"));
        QCOMPARE(redis({ "ZCARD", m_keys.tasks() }).integer(), 1);
    }

    void ignoredEventsStoreNothing_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("reasonPart");
        QTest::newRow("not a lead task")
            << closeWebhook(QStringLiteral("ev_i1"), {}, QStringLiteral("Instantly: X"),
                            QStringLiteral("task.conversation"))
            << QStringLiteral("task.lead/created");
        QTest::newRow("task text not for us")
            << closeWebhook(QStringLiteral("ev_i2"), {}, QStringLiteral("Call back on Monday"))
            << QStringLiteral("Instantly:");
    }
    void ignoredEventsStoreNothing()
    {
        QFETCH(QByteArray, body);
        QFETCH(QString, reasonPart);
        QVERIFY(startIntake());
        const Reply r = post(body);
        QCOMPARE(r.status, 200);
        QVERIFY2(r.text("ignored").contains(reasonPart), qPrintable(r.describe()));
        QCOMPARE(storedKeys(), 0);
    }

    // A Close lead of our campaign that yields nothing to send is not just counted: it is a
    // dead letter with its reason code, Close gets a 2xx (no retries for days), and the
    // journal finds it by Close lead id and by each address it had.
    void unusableLeadIsDeadLetteredAndFindable_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QByteArray>("code");
        QTest::addColumn<QList<QByteArray>>("identities");
        QTest::newRow("empty email")
            << closeWebhook(QStringLiteral("ev_u1"), { QStringLiteral("") })
            << QByteArray("no_usable_email") << QList<QByteArray> { "close:lead_42" };
        QTest::newRow("invalid email")
            << closeWebhook(QStringLiteral("ev_u2"), { QStringLiteral("Bo.At@nowhere") })
            << QByteArray("no_usable_email")
            << QList<QByteArray> { "close:lead_42", "bo.at@nowhere" };
        json body = json::parse(closeWebhook(QStringLiteral("ev_u3")).toStdString());
        body["lead"]
            = { { "id", "lead_42" },
                { "contacts",
                  json::array({ { { "name", "Ann Unsub" },
                                  { "emails",
                                    json::array({ { { "email", "Ann@Example.com" },
                                                    { "is_unsubscribed", true } } }) } },
                                { { "name", "Ben Unsub" },
                                  { "emails",
                                    json::array({ { { "email", "ben@example.com" },
                                                    { "is_unsubscribed", true } } }) } } }) } };
        QTest::newRow("every address unsubscribed")
            << dump(body) << QByteArray("unsubscribed")
            << QList<QByteArray> { "close:lead_42", "ann@example.com", "ben@example.com" };
    }
    void unusableLeadIsDeadLetteredAndFindable()
    {
        QFETCH(QByteArray, body);
        QFETCH(QByteArray, code);
        QFETCH(QList<QByteArray>, identities);
        QVERIFY(startIntake());
        const Reply r = post(body);
        QCOMPARE(r.status, 202);
        QVERIFY2(r.parsed()["dead_lettered"] == 1 && r.parsed()["leads"] == 0,
                 qPrintable(r.describe()));
        QCOMPARE(streamLength(), 0); // nothing to send

        const RedisReply dead = redis({ "XRANGE", m_keys.deadLetters(), "-", "+" });
        QCOMPARE(dead.elements().size(), size_t(1));
        QHash<QByteArray, QByteArray> fields;
        const auto flat = dead.at(0).at(1).elements();
        for (size_t i = 0; i + 1 < flat.size(); i += 2)
            fields.insert(flat[i].bytes(), flat[i + 1].bytes());
        QCOMPARE(fields.value("code"), code);
        QCOMPARE(fields.value("close_lead"), QByteArray("lead_42")); // a retry looks it up again
        QVERIFY2(fields.value("reason").contains("lead_42 has no usable contact"),
                 fields.value("reason").constData());

        const auto task = taskHash(r.text("task_id"));
        QCOMPARE(task.value("dead"), QByteArray("1"));
        QCOMPARE(task.value("processed"), QByteArray("1"));
        QCOMPARE(task.value("state"), QByteArray("failed"));

        for (const QByteArray &identity : identities) {
            const RedisReply events
                = redis({ "LRANGE", m_keys.journal(QString::fromUtf8(identity)), "0", "-1" });
            QCOMPARE(events.elements().size(), qsizetype(2)); // received, dead
            const json last = json::parse(events.at(1).bytes().toStdString());
            QCOMPARE(last[1].get<std::string>(), std::string("dead"));
            QVERIFY(redis({ "ZSCORE", m_keys.journalRecent(), identity }).isString());
        }
        // Close repeats the event: still one dead letter.
        QCOMPARE(post(body).status, 200);
        QCOMPARE(redis({ "XLEN", m_keys.deadLetters() }).integer(), 1);
        QVERIFY(
            get(QStringLiteral("/metrics")).body.contains("sluice_intake_dead_lettered_total 1\n"));
    }

    // --- refusing --------------------------------------------------------------------------

    void badInputIsRefused_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QByteArray>("contentType");
        QTest::addColumn<QByteArray>("body");
        // "": plain request; "missing", "wrong", "expired", "other body": a signature key is
        // configured and the request signed that way; "bad-idem": a bad Idempotency-Key.
        QTest::addColumn<QString>("variant");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("detailPart");
        const QString add = QStringLiteral("/instantly/add_lead");
        const QByteArray good
            = closeWebhook(QStringLiteral("ev_bad"), { QStringLiteral("a@b.io") });
        QTest::newRow("malformed JSON")
            << QByteArray("POST") << add << kJson << QByteArray("{\"campaign\": [") << QString()
            << 400 << QStringLiteral("JSON");
        QTest::newRow("empty body") << QByteArray("POST") << add << kJson << QByteArray("")
                                    << QString() << 400 << QStringLiteral("JSON");
        QTest::newRow("body is an array")
            << QByteArray("POST") << add << kJson << QByteArray("[1,2]") << QString() << 400
            << QStringLiteral("object");
        QTest::newRow("campaign of wrong type")
            << QByteArray("POST") << add << kJson
            << QByteArray(R"({"campaign":7,"leads":[{"email":"a@b.io"}]})") << QString() << 400
            << QStringLiteral("campaign");
        QTest::newRow("leads missing")
            << QByteArray("POST") << add << kJson << QByteArray(R"({"campaign":"X"})") << QString()
            << 400 << QStringLiteral("leads");
        QTest::newRow("lead without email")
            << QByteArray("POST") << add << kJson
            << QByteArray(R"({"campaign":"X","leads":[{"email":"a@b.io"},{"first_name":"B"}]})")
            << QString() << 400 << QStringLiteral("leads[1]");
        QTest::newRow("task text of wrong type")
            << QByteArray("POST") << add << kJson
            << QByteArray(
                   R"({"event":{"id":"ev_1","object_type":"task.lead","action":"created","lead_id":"l","data":{"text":5}}})")
            << QString() << 400 << QStringLiteral("event.data.text");
        QTest::newRow("text/plain") << QByteArray("POST") << add << QByteArray("text/plain") << good
                                    << QString() << 415 << QStringLiteral("application/json");
        QTest::newRow("form content type")
            << QByteArray("POST") << add << QByteArray("application/x-www-form-urlencoded") << good
            << QString() << 415 << QStringLiteral("x-www-form-urlencoded");
        QTest::newRow("oversized")
            << QByteArray("POST") << add << kJson << QByteArray((1 << 20) + 1, ' ') << QString()
            << 413 << QStringLiteral("limit");
        QTest::newRow("PUT on add_lead") << QByteArray("PUT") << add << kJson << good << QString()
                                         << 405 << QStringLiteral("POST");
        QTest::newRow("GET on add_lead") << QByteArray("GET") << add << QByteArray() << QByteArray()
                                         << QString() << 405 << QStringLiteral("allowed: POST");
        QTest::newRow("unknown path")
            << QByteArray("POST") << QStringLiteral("/instantly/add") << kJson << good << QString()
            << 404 << QStringLiteral("/instantly/add");
        QTest::newRow("unknown task")
            << QByteArray("GET") << QStringLiteral("/instantly/task/0123abcd/status")
            << QByteArray() << QByteArray() << QString() << 404 << QStringLiteral("0123abcd");
        QTest::newRow("bad Idempotency-Key")
            << QByteArray("POST") << add << kJson << directBatch(1) << QStringLiteral("bad-idem")
            << 400 << QStringLiteral("Idempotency-Key");
        QTest::newRow("signature missing")
            << QByteArray("POST") << add << kJson << good << QStringLiteral("missing") << 401
            << QStringLiteral("signature missing");
        QTest::newRow("signature wrong")
            << QByteArray("POST") << add << kJson << good << QStringLiteral("wrong") << 401
            << QStringLiteral("signature mismatch");
        QTest::newRow("signature expired")
            << QByteArray("POST") << add << kJson << good << QStringLiteral("expired") << 401
            << QStringLiteral("signature expired");
        QTest::newRow("signature of another body")
            << QByteArray("POST") << add << kJson << good << QStringLiteral("other body") << 401
            << QStringLiteral("signature mismatch");
    }
    void badInputIsRefused()
    {
        QFETCH(QByteArray, method);
        QFETCH(QString, path);
        QFETCH(QByteArray, contentType);
        QFETCH(QByteArray, body);
        QFETCH(QString, variant);
        QFETCH(int, status);
        QFETCH(QString, detailPart);
        IntakeOptions options = defaultOptions();
        const bool signs = !variant.isEmpty() && variant != QLatin1String("bad-idem");
        if (signs)
            options.webhookSecret = kSecret;
        QVERIFY(startIntake(options));

        HttpHeaders headers;
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        if (variant == QLatin1String("wrong"))
            headers = signatureHeaders("ffeeddccbbaa99887766554433221100", now, body);
        else if (variant == QLatin1String("expired"))
            headers = signatureHeaders(kSecret, now - 3600, body);
        else if (variant == QLatin1String("other body"))
            headers = signatureHeaders(kSecret, now, body + ' ');
        else if (variant == QLatin1String("bad-idem"))
            headers = { { "Idempotency-Key", "has space" } };
        const Reply r = send(method, path, body, contentType, headers);
        QCOMPARE(r.status, status);
        const json parsed = r.parsed();
        QVERIFY2(parsed.is_object() && parsed["error"].is_string() && parsed["detail"].is_string(),
                 qPrintable(r.describe()));
        QVERIFY2(r.text("detail").contains(detailPart), qPrintable(r.describe()));
        QVERIFY2(!r.body.contains(kSecret), qPrintable(r.describe()));
        if (status == 405)
            QCOMPARE(r.header("Allow"), QByteArray("POST"));
        QCOMPARE(storedKeys(), 0);
        QCOMPARE(streamLength(), 0);
        QVERIFY(m_intake->spool().isEmpty());
        // The server is still there.
        QCOMPARE(get(QStringLiteral("/healthz")).status, 200);
    }

    void validSignatureIsAccepted()
    {
        IntakeOptions options = defaultOptions();
        options.webhookSecret = kSecret;
        QVERIFY(startIntake(options));
        const QByteArray body = closeWebhook(QStringLiteral("ev_signed"));
        const Reply r
            = post(body, signatureHeaders(kSecret, QDateTime::currentSecsSinceEpoch(), body),
                   "application/json; charset=utf-8");
        QCOMPARE(r.status, 202);
        QCOMPARE(streamLength(), 1);
    }

    // The inspector's record says what the handler found, not what the status suggests.
    void recordedExchangeSaysWhatTheHandlerFound_data()
    {
        QTest::addColumn<QString>("variant"); // "": no key set; else how the request is signed
        QTest::addColumn<QByteArray>("contentType");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("signature");
        QTest::newRow("no key set") << QString() << kJson << 202 << QStringLiteral("not checked");
        QTest::newRow("valid") << QStringLiteral("valid") << kJson << 202
                               << QStringLiteral("valid");
        QTest::newRow("missing") << QStringLiteral("missing") << kJson << 401
                                 << QStringLiteral("missing");
        QTest::newRow("wrong key")
            << QStringLiteral("wrong") << kJson << 401 << QStringLiteral("invalid: mismatch");
        QTest::newRow("expired") << QStringLiteral("expired") << kJson << 401
                                 << QStringLiteral("invalid: expired");
        QTest::newRow("refused before the check")
            << QStringLiteral("valid") << QByteArray("text/plain") << 415
            << QStringLiteral("not reached");
    }
    void recordedExchangeSaysWhatTheHandlerFound()
    {
        QFETCH(QString, variant);
        QFETCH(QByteArray, contentType);
        QFETCH(int, status);
        QFETCH(QString, signature);
        IntakeOptions options = defaultOptions();
        if (!variant.isEmpty())
            options.webhookSecret = kSecret;
        QVERIFY(startIntake(options));
        m_intake->setRecording(true);
        QSignalSpy exchanged(m_intake.get(), &IntakeServer::exchanged);

        const QByteArray body = closeWebhook(QStringLiteral("ev_recorded"));
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        HttpHeaders headers;
        if (variant == QLatin1String("valid"))
            headers = signatureHeaders(kSecret, now, body);
        else if (variant == QLatin1String("wrong"))
            headers = signatureHeaders("ffeeddccbbaa99887766554433221100", now, body);
        else if (variant == QLatin1String("expired"))
            headers = signatureHeaders(kSecret, now - 3600, body);
        const Reply r
            = send("POST", QStringLiteral("/instantly/add_lead"), body, contentType, headers);
        QCOMPARE(r.status, status);
        QTRY_COMPARE(exchanged.size(), 1);
        const auto e = exchanged.at(0).at(0).value<WebhookExchange>();
        QCOMPARE(e.status, status);
        QCOMPARE(e.signature, signature);
        QCOMPARE(e.response, r.body);
        if (status == 202) {
            QCOMPARE(e.taskId, r.text("task_id"));
            QCOMPARE(e.eventId, QStringLiteral("ev_recorded"));
        } else {
            QVERIFY(e.taskId.isEmpty());
        }
    }

    // Group commit: webhooks pipelined in one write are parsed in one turn and stored in one
    // script call; a repeat inside the group is a duplicate of the earlier one; every one is
    // answered after Redis stored it, in request order.
    void webhooksArrivingTogetherAreStoredTogether()
    {
        QVERIFY(startIntake());
        redis({ "CONFIG", "RESETSTAT" });
        constexpr int kCount = 40;
        QByteArray wire;
        for (int i = 0; i < kCount; ++i) {
            // Lead-less, as Close sends them; the last one repeats the first event.
            const QByteArray body
                = closeWebhook(QStringLiteral("ev_group_%1").arg(i % (kCount - 1)));
            wire += "POST /instantly/add_lead HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    "application/json\r\nContent-Length: "
                + QByteArray::number(body.size()) + "\r\n\r\n" + body;
        }
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, m_intake->port());
        QVERIFY(socket.waitForConnected(5000));
        socket.write(wire);
        QByteArray in;
        QTRY_VERIFY_WITH_TIMEOUT((in += socket.readAll()).count("HTTP/1.1 ") == kCount, 15'000);
        QList<QByteArray> taskIds;
        for (const QByteArray &answer : in.split('H')) { // "HTTP/1.1 ..." (bodies have no 'H')
            const qsizetype body = answer.indexOf("\r\n\r\n");
            if (body < 0)
                continue;
            const json j = json::parse(answer.mid(body + 4).toStdString(), nullptr, false);
            QVERIFY2(j.is_object() && j.contains("task_id"), answer.constData());
            taskIds.append(QByteArray::fromStdString(j["task_id"].get<std::string>()));
        }
        QCOMPARE(taskIds.size(), kCount);
        QCOMPARE(in.count("HTTP/1.1 202 "), kCount - 1);
        QCOMPARE(in.count("HTTP/1.1 200 "), 1);
        QVERIFY(in.lastIndexOf("HTTP/1.1 200 ") > in.lastIndexOf("HTTP/1.1 202 ")); // in order
        QCOMPARE(taskIds.last(), taskIds.first());
        QCOMPARE(QSet<QByteArray>(taskIds.begin(), taskIds.end()).size(), kCount - 1);
        QCOMPARE(streamLength(), kCount - 1);
        for (int i = 0; i < kCount - 1; ++i)
            QCOMPARE(taskHash(QString::fromLatin1(taskIds[i])).value("total"), QByteArray("1"));
        // Far fewer script calls than webhooks (one, unless the bytes came in several reads).
        const QByteArray stats = redis({ "INFO", "commandstats" }).bytes();
        const qsizetype at = stats.indexOf("cmdstat_evalsha:calls=");
        QVERIFY2(at >= 0, stats.constData());
        const int calls = stats.mid(at + 22, stats.indexOf(',', at) - at - 22).toInt();
        QVERIFY2(calls >= 1 && calls <= kCount / 4, qPrintable(QString::number(calls)));
    }

    // IntakeStore on its own: every outcome, with no HTTP in front of it.
    void storeReportsEachOutcome()
    {
        Metrics metrics;
        IntakeOptions options = defaultOptions();
        IntakeStore store(options, m_redis.get(), metrics);
        store.open();
        const auto batchOf = [](const QString &event) {
            const auto parsed = parseIntakeBody(closeWebhook(event), IntakeLimits {});
            Q_ASSERT(parsed.ok());
            return IntakeBatch::fromRequest(parsed.value(), newTaskId(), event,
                                            QDateTime::currentMSecsSinceEpoch());
        };
        const auto storeNow = [](IntakeStore &into, IntakeBatch batch) {
            std::optional<IntakeStore::Result> result;
            into.store(std::move(batch), [&result](const IntakeStore::Result &r) { result = r; });
            if (!QTest::qWaitFor([&result] { return result.has_value(); }, 5000))
                return IntakeStore::Result {};
            return *result;
        };

        const IntakeBatch first = batchOf(QStringLiteral("ev_store_1"));
        const IntakeStore::Result stored = storeNow(store, first);
        QCOMPARE(stored.outcome, IntakeStore::Outcome::Stored);
        QCOMPARE(stored.taskId, first.taskId);
        QCOMPARE(stored.leads, 1);
        QCOMPARE(streamLength(), 1);

        const IntakeStore::Result again = storeNow(store, batchOf(QStringLiteral("ev_store_1")));
        QCOMPARE(again.outcome, IntakeStore::Outcome::Duplicate);
        QCOMPARE(again.taskId, first.taskId);

        m_redisServer.kill();
        QTRY_VERIFY(m_redis->state() != RedisClient::State::Connected);
        const IntakeBatch second = batchOf(QStringLiteral("ev_store_2"));
        const IntakeStore::Result spooled = storeNow(store, second);
        QCOMPARE(spooled.outcome, IntakeStore::Outcome::Spooled);
        QCOMPARE(store.spooledLeads(second.taskId), std::optional<int>(1));
        // Delivered again while the first delivery waits in the spool.
        const IntakeStore::Result spooledAgain
            = storeNow(store, batchOf(QStringLiteral("ev_store_2")));
        QCOMPARE(spooledAgain.outcome, IntakeStore::Outcome::Duplicate);
        QCOMPARE(spooledAgain.taskId, second.taskId);

        options.spoolPath.clear();
        IntakeStore noSpool(options, m_redis.get(), metrics);
        noSpool.open();
        const IntakeStore::Result refused
            = storeNow(noSpool, batchOf(QStringLiteral("ev_store_3")));
        QCOMPARE(refused.outcome, IntakeStore::Outcome::Unavailable);
        QVERIFY(!refused.fault);
        QVERIFY2(refused.detail.contains(QLatin1String("unavailable")), qPrintable(refused.detail));

        QVERIFY2(m_redisServer.start(), qPrintable(m_redisServer.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(store.spool().isEmpty(), 15'000);
        QCOMPARE(store.spooledLeads(second.taskId), std::nullopt);
        QTRY_VERIFY(m_admin->state() == RedisClient::State::Connected);
        QCOMPARE(taskHash(second.taskId).value("total"), QByteArray("1"));
    }

    // --- Redis down ------------------------------------------------------------------------

    void spoolsWhileRedisIsDownAndDrainsOnce()
    {
        QVERIFY(startIntake());
        m_redisServer.kill();
        QTRY_VERIFY(m_redis->state() != RedisClient::State::Connected);

        QStringList tasks;
        for (const char *event : { "ev_s1", "ev_s2", "ev_s3" }) {
            const Reply r = post(closeWebhook(QString::fromLatin1(event)));
            QCOMPARE(r.status, 202);
            QVERIFY2(r.parsed()["spooled"] == true, qPrintable(r.describe()));
            tasks << r.text("task_id");
        }
        // Close delivering twice during the outage: recognised from the spool.
        const Reply again = post(closeWebhook(QStringLiteral("ev_s1")));
        QCOMPARE(again.status, 200);
        QCOMPARE(again.text("task_id"), tasks[0]);
        QCOMPARE(m_intake->spool().depth(), 3);
        QFile file(m_spoolPath);
        QVERIFY(file.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = file.readAll().split('\n');
        QCOMPARE(lines.size(), 4); // three lines and the empty rest after the last newline
        QCOMPARE(IntakeBatch::fromJsonLine(lines[1])->taskId, tasks[1]);

        const Reply health = get(QStringLiteral("/healthz"));
        QCOMPARE(health.status, 200);
        QVERIFY2(health.parsed()["status"] == "degraded", qPrintable(health.describe()));
        QVERIFY(health.parsed()["redis"]["connected"] == false);
        QVERIFY(health.parsed()["spool"]["depth"] == 3);
        const Reply status = get(QStringLiteral("/instantly/task/%1/status").arg(tasks[2]));
        QCOMPARE(status.status, 200);
        QCOMPARE(status.text("state"), QStringLiteral("spooled"));

        QSignalSpy drained(m_intake.get(), &IntakeServer::spoolDrained);
        QVERIFY2(m_redisServer.start(), qPrintable(m_redisServer.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(m_intake->spool().isEmpty(), 15'000);
        QCOMPARE(drained.count(), 1);
        QTRY_VERIFY(m_admin->state() == RedisClient::State::Connected);
        QCOMPARE(streamLength(), 3);
        const QList<QList<QByteArray>> entries = streamEntries();
        for (int i = 0; i < 3; ++i) {
            QCOMPARE(QueuedLead::fromFields(entries[i])->taskId, tasks[i]); // in order
            QCOMPARE(taskHash(tasks[i]).value("total"), QByteArray("1"));
        }
        QCOMPARE(redis({ "GET", m_keys.closeEvent(QStringLiteral("ev_s2")) }).bytes(),
                 tasks[1].toUtf8());
        QCOMPARE(QFileInfo(m_spoolPath).size(), 0);
        // Now Redis itself knows the events.
        const Reply late = post(closeWebhook(QStringLiteral("ev_s3")));
        QCOMPARE(late.status, 200);
        QCOMPARE(late.text("task_id"), tasks[2]);
        QCOMPARE(streamLength(), 3);
    }

    /// A command timeout: the script was sent and runs after all, once Redis wakes up; the
    /// request was spooled meanwhile, and its replay must not store it twice.
    void timedOutWriteThatRanIsNotDuplicated()
    {
        RedisOptions redisOptions = fastRedisOptions();
        redisOptions.commandTimeout = milliseconds { 300 };
        m_redis = std::make_unique<RedisClient>(redisOptions);
        m_redis->connectToServer();
        QTRY_VERIFY(m_redis->state() == RedisClient::State::Connected);
        QVERIFY(startIntake());
        QCOMPARE(post(closeWebhook(QStringLiteral("ev_warm"))).status, 202); // script loaded

        // On the intake's own connection, so the server surely sleeps before the script.
        test::CapturedReply sleep;
        m_redis->command({ "DEBUG", "SLEEP", "1.5" }, sleep.callback(), milliseconds { 10'000 });
        const Reply r = post(closeWebhook(QStringLiteral("ev_slow")));
        QCOMPARE(r.status, 202);
        QVERIFY2(r.parsed()["spooled"] == true, qPrintable(r.describe()));
        QTRY_VERIFY_WITH_TIMEOUT(sleep.done(), 10'000);
        QTRY_VERIFY_WITH_TIMEOUT(m_intake->spool().isEmpty(), 15'000);
        QCOMPARE(streamLength(), 2);
        QCOMPARE(redis({ "GET", m_keys.closeEvent(QStringLiteral("ev_slow")) }).bytes(),
                 r.text("task_id").toUtf8());
        QCOMPARE(taskHash(r.text("task_id")).value("total"), QByteArray("1"));
        // The replay found the write done: the script ran after the timeout, as intended.
        QVERIFY2(m_intake->metrics().render().contains(
                     "sluice_intake_spool_replay_duplicates_total 1\n"),
                 qPrintable(QString::fromUtf8(m_intake->metrics().render())));
    }

    /// The intake crashed after a spooled request reached Redis but before the line left the
    /// spool: the restarted intake replays it, and the script refuses the repeat.
    void replayOfAStoredLineIsNotDuplicated_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::newRow("Close event (event marker)")
            << closeWebhook(QStringLiteral("ev_replay"), { QStringLiteral("a@b.io") });
        QTest::newRow("direct batch without key (task hash)") << directBatch(2);
    }
    void replayOfAStoredLineIsNotDuplicated()
    {
        QFETCH(QByteArray, body);
        QVERIFY(startIntake());
        const Reply r = post(body);
        QCOMPARE(r.status, 202);
        const qint64 stored = streamLength();
        m_intake.reset();

        // The line as the crashed intake had spooled it, rebuilt from what Redis holds.
        const auto task = taskHash(r.text("task_id"));
        IntakeBatch replay;
        replay.taskId = r.text("task_id");
        replay.campaign = QString::fromUtf8(task.value("campaign"));
        replay.source = QString::fromUtf8(task.value("source"));
        replay.createdMs = task.value("created_ms").toLongLong();
        replay.entries = streamEntries();
        const auto first = QueuedLead::fromFields(replay.entries.first());
        replay.dedupeId = first->eventId;
        // And one request that never reached Redis, behind it.
        const auto fresh = parseIntakeBody(directBatch(1, QStringLiteral("Fresh")));
        QVERIFY(fresh.ok());
        const IntakeBatch never = IntakeBatch::fromRequest(fresh.value(), newTaskId(), {}, 42);
        {
            Spool spool(m_spoolPath);
            QVERIFY2(spool.open(), qPrintable(spool.errorString()));
            QVERIFY(spool.append(replay.toJsonLine()));
            QVERIFY(spool.append(never.toJsonLine()));
        }

        QVERIFY(startIntake());
        QTRY_VERIFY_WITH_TIMEOUT(m_intake->spool().isEmpty(), 15'000);
        QCOMPARE(streamLength(), stored + 1);
        QCOMPARE(taskHash(replay.taskId).value("total"), QByteArray::number(stored));
        QCOMPARE(taskHash(never.taskId).value("campaign"), QByteArray("Fresh"));
        QCOMPARE(redis({ "ZCARD", m_keys.tasks() }).integer(), 2);
        QVERIFY(m_intake->metrics().render().contains(
            "sluice_intake_spool_replay_duplicates_total 1\n"));
    }

    void aSpoolWhoseProcessIsGoneIsAdoptedAndDrained()
    {
        // Two processes share a data directory, each with its own spool. One died with a
        // request spooled: the other adopts it and drains it. A spool whose process lives (its
        // lock held) is left alone.
        m_spoolPath = m_dir.filePath(QStringLiteral("round%1/intake-spool-b.jsonl").arg(m_round));
        const QString dead
            = m_dir.filePath(QStringLiteral("round%1/intake-spool-a.jsonl").arg(m_round));
        const QString live
            = m_dir.filePath(QStringLiteral("round%1/intake-spool-c.jsonl").arg(m_round));
        const auto orphanRequest = parseIntakeBody(directBatch(2, QStringLiteral("Orphan")));
        QVERIFY(orphanRequest.ok());
        const IntakeBatch orphan
            = IntakeBatch::fromRequest(orphanRequest.value(), newTaskId(), {}, 42);
        {
            Spool spool(dead);
            QVERIFY2(spool.open(), qPrintable(spool.errorString()));
            QVERIFY(spool.append(orphan.toJsonLine()));
        } // its process is gone: the lock is free
        Spool living(live);
        QVERIFY2(living.open(), qPrintable(living.errorString()));
        const auto liveRequest = parseIntakeBody(directBatch(1, QStringLiteral("Living")));
        QVERIFY(living.append(
            IntakeBatch::fromRequest(liveRequest.value(), newTaskId(), {}, 43).toJsonLine()));

        QVERIFY(startIntake());
        QTRY_COMPARE(taskHash(orphan.taskId).value("campaign"), QByteArray("Orphan"));
        QCOMPARE(taskHash(orphan.taskId).value("total"), QByteArray("2"));
        QTRY_VERIFY(m_intake->spool().isEmpty());
        QVERIFY(!QFileInfo::exists(dead));
        QVERIFY(QFileInfo::exists(live)); // its owner still runs and drains it itself
        QCOMPARE(living.depth(), 1);
        QCOMPARE(redis({ "ZCARD", m_keys.tasks() }).integer(), 1);
        // And a spool cannot be opened twice while its owner holds it.
        Spool second(live);
        QVERIFY(!second.open());
        QVERIFY2(second.errorString().contains(QStringLiteral("in use")),
                 qPrintable(second.errorString()));
    }

    void unwritableSpoolAndRedisDownIs503()
    {
        QTemporaryDir dir;
        QFile file(dir.filePath(QStringLiteral("file")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.close();
        m_spoolPath = dir.filePath(QStringLiteral("file/spool.jsonl")); // "file" is a file
        QVERIFY(startIntake());
        m_redisServer.kill();
        QTRY_VERIFY(m_redis->state() != RedisClient::State::Connected);

        const Reply r = post(closeWebhook(QStringLiteral("ev_lost")));
        QCOMPARE(r.status, 503);
        QCOMPARE(r.header("Retry-After"), QByteArray("5"));
        QVERIFY2(r.text("detail").contains(QStringLiteral("retry later")),
                 qPrintable(r.describe()));
        const Reply health = get(QStringLiteral("/healthz"));
        QCOMPARE(health.status, 503);
        QVERIFY(health.parsed()["status"] == "unavailable");
        QVERIFY(!QFileInfo::exists(m_spoolPath));
        QVERIFY(get(QStringLiteral("/metrics"))
                    .body.contains("sluice_intake_rejected_total{reason=\"unavailable\"} 1\n"));
    }

    // --- health and metrics ----------------------------------------------------------------

    void healthAndMetricsAfterTraffic()
    {
        QVERIFY(startIntake());
        QCOMPARE(post(closeWebhook(QStringLiteral("ev_m1"))).status, 202);
        QCOMPARE(post(directBatch(2)).status, 202);
        QCOMPARE(post(closeWebhook(QStringLiteral("ev_m1"))).status, 200); // duplicate
        QCOMPARE(post(closeWebhook(QStringLiteral("ev_m2"), {}, QStringLiteral("Hello"))).status,
                 200); // ignored
        QCOMPARE(post("{").status, 400);
        QCOMPARE(post("{}", {}, "text/plain").status, 415);
        QCOMPARE(post(QByteArray((1 << 20) + 1, ' ')).status, 413);
        {
            // Refused by the listener itself, before any route.
            QTcpSocket raw;
            raw.connectToHost(QHostAddress::LocalHost, m_intake->port());
            QVERIFY(raw.waitForConnected(5000));
            raw.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + QByteArray(20'000, 'p')
                      + "\r\n\r\n");
            QByteArray answer;
            QTRY_VERIFY((answer += raw.readAll()).contains("\r\n\r\n"));
            QVERIFY2(answer.startsWith("HTTP/1.1 431 "), answer.constData());
        }

        const Reply health = get(QStringLiteral("/healthz"));
        QCOMPARE(health.status, 200);
        const json h = health.parsed();
        QVERIFY2(h["status"] == "ok", qPrintable(health.describe()));
        QVERIFY(h["redis"]["connected"] == true);
        QVERIFY(h["spool"]["depth"] == 0);
        QVERIFY(h["spool"]["writable"] == true);

        const Reply metrics = get(QStringLiteral("/metrics"));
        QCOMPARE(metrics.status, 200);
        QVERIFY(metrics.header("Content-Type").startsWith("text/plain; version=0.0.4"));
        const QByteArray text = metrics.body;
        for (const char *line :
             { "sluice_intake_accepted_total 2\n", "sluice_intake_duplicates_total 1\n",
               "sluice_intake_ignored_total 1\n", "sluice_intake_spooled_total 0\n",
               "sluice_intake_rejected_total{reason=\"bad_request\"} 1\n",
               "sluice_intake_rejected_total{reason=\"unsupported_media_type\"} 1\n",
               "sluice_intake_rejected_total{reason=\"payload_too_large\"} 1\n",
               "sluice_intake_rejected_total{reason=\"bad_signature\"} 0\n",
               "sluice_intake_rejected_total{reason=\"header_too_large\"} 1\n",
               "sluice_intake_rejected_total{reason=\"request_timeout\"} 0\n",
               "# TYPE sluice_intake_ack_seconds histogram\n",
               "sluice_intake_ack_seconds_bucket{le=\"+Inf\"} 4\n",
               "sluice_intake_ack_seconds_count 4\n", "sluice_intake_spool_depth 0\n",
               "sluice_intake_redis_connected 1\n" })
            QVERIFY2(text.contains(line),
                     qPrintable(QString::fromLatin1(line) + QString::fromUtf8(text)));
        // Every acknowledgement took well under the 30 s Close allows.
        QVERIFY(text.contains("sluice_intake_ack_seconds_bucket{le=\"1\"} 4\n"));
    }

    void healthAndMetricsShowTheFleetFromRedis()
    {
        QVERIFY(startIntake());
        // What another instance (or the dispatchers) left in Redis: a pause with a cause, the
        // plan's room, a parked campaign, dead letters of two reasons.
        redis({ "HSET", m_keys.control(), "paused", "Instantly plan exhausted", "paused_cause",
                "plan_exhausted", "paused_ms", "1700000000123", "remaining_in_plan", "0" });
        for (int i = 0; i < 2; ++i)
            redis({ "XADD", m_keys.parkedLeads(QStringLiteral("Spring Launch")), "*", "task", "t1",
                    "campaign", "Spring Launch", "code", "campaign_missing", "reason", "missing" });
        redis({ "SADD", m_keys.parked(), "Spring Launch" });
        for (const char *code : { "blocklisted", "blocklisted", "gave_up" })
            redis({ "XADD", m_keys.deadLetters(), "*", "task", "t1", "code", code, "reason", "x",
                    "dead_ms", "1700000000000" });

        json h;
        QTRY_VERIFY_WITH_TIMEOUT((h = get(QStringLiteral("/healthz")).parsed(),
                                  h.value("fleet_known", false) && h["dispatch"]["paused"] == true),
                                 10'000);
        QVERIFY2(h["status"] == "degraded", h.dump().c_str());
        QVERIFY(h["dispatch"]["cause"] == "plan_exhausted");
        QVERIFY(h["dispatch"]["reason"] == "Instantly plan exhausted");
        QVERIFY(h["dispatch"]["since_ms"] == 1700000000123);
        QVERIFY(h["remaining_in_plan"] == 0);
        QCOMPARE(h["parked_campaigns"].size(), size_t(1));
        QVERIFY(h["parked_campaigns"][0]["name"] == "Spring Launch");
        QVERIFY(h["parked_campaigns"][0]["leads"] == 2);
        QVERIFY(h["parked_campaigns"][0]["since_ms"].get<qint64>() > 1'700'000'000'000);
        QVERIFY(h["parked_campaigns"][0]["since"].is_string());
        QVERIFY(h["parked_leads"] == 2);
        QVERIFY(h["dead_letters"]["total"] == 3);
        QVERIFY(h["dead_letters"]["by_reason"]["blocklisted"] == 2);
        QVERIFY(h["dead_letters"]["by_reason"]["gave_up"] == 1);
        QVERIFY(!h["dead_letters"]["by_reason"].contains("rejected"));

        const QByteArray text = get(QStringLiteral("/metrics")).body;
        for (const char *line :
             { "sluice_dispatch_paused{cause=\"plan_exhausted\"} 1\n",
               "sluice_dispatch_paused{cause=\"operator\"} 0\n",
               "sluice_instantly_remaining_in_plan 0\n", "sluice_parked_campaigns 1\n",
               "sluice_parked_leads 2\n", "sluice_dead_letters{reason=\"blocklisted\"} 2\n",
               "sluice_dead_letters{reason=\"gave_up\"} 1\n",
               "sluice_dead_letters{reason=\"rejected\"} 0\n" })
            QVERIFY2(text.contains(line),
                     qPrintable(QString::fromLatin1(line) + QString::fromUtf8(text)));

        // Resumed and dealt with: every instance reports it within about a second.
        redis({ "HDEL", m_keys.control(), "paused", "paused_cause", "paused_ms" });
        redis({ "DEL", m_keys.deadLetters() });
        QTRY_VERIFY_WITH_TIMEOUT(
            (h = get(QStringLiteral("/healthz")).parsed(), h["dispatch"]["paused"] == false),
            10'000);
        QVERIFY2(h["status"] == "ok", h.dump().c_str());
        QVERIFY(h["dead_letters"]["total"] == 0);
        QVERIFY(h["remaining_in_plan"] == 0);
        QVERIFY(get(QStringLiteral("/metrics"))
                    .body.contains("sluice_dispatch_paused{cause=\"plan_exhausted\"} 0\n"));
    }

private:
    RedisOptions fastRedisOptions() const
    {
        RedisOptions options;
        options.url = m_redisServer.url();
        options.reconnectBaseDelay = milliseconds { 50 };
        options.reconnectMaxDelay = milliseconds { 300 };
        return options;
    }

    std::unique_ptr<RedisClient> connectRedis() const
    {
        auto client = std::make_unique<RedisClient>(fastRedisOptions());
        client->connectToServer();
        if (!QTest::qWaitFor([&] { return client->state() == RedisClient::State::Connected; },
                             10'000))
            return nullptr;
        return client;
    }

    IntakeOptions defaultOptions() const
    {
        IntakeOptions options;
        options.port = 0;
        options.ns = m_ns;
        options.spoolPath = m_spoolPath;
        return options;
    }

    bool startIntake() { return startIntake(defaultOptions()); }
    bool startIntake(const IntakeOptions &options)
    {
        m_intake = std::make_unique<IntakeServer>(options, m_redis.get());
        const auto started = m_intake->start();
        if (!started) {
            qWarning("intake did not start: %s", qPrintable(started.error()));
            return false;
        }
        return started.value() != 0;
    }

    static HttpHeaders signatureHeaders(const QByteArray &key, qint64 timestamp,
                                        const QByteArray &body)
    {
        const QByteArray ts = QByteArray::number(timestamp);
        return { { "close-sig-timestamp", ts },
                 { "close-sig-hash", closeSignatureHash(key, ts, body) } };
    }

    Reply send(const QByteArray &method, const QString &path, const QByteArray &body,
               const QByteArray &contentType, const HttpHeaders &headers = {})
    {
        QNetworkRequest request(
            QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_intake->port()).arg(path)));
        if (!contentType.isEmpty())
            request.setRawHeader("Content-Type", contentType);
        for (const auto &[key, value] : headers)
            request.setRawHeader(key, value);
        QNetworkReply *reply = m_manager.sendCustomRequest(request, method, body);
        if (!QTest::qWaitFor([reply] { return reply->isFinished(); }, 20'000))
            qFatal("no answer from the intake");
        Reply r;
        r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        r.body = reply->readAll();
        r.headers = reply->rawHeaderPairs();
        reply->deleteLater();
        return r;
    }
    Reply post(const QByteArray &body, const HttpHeaders &headers = {},
               const QByteArray &contentType = kJson)
    {
        return send("POST", QStringLiteral("/instantly/add_lead"), body, contentType, headers);
    }
    Reply get(const QString &path) { return send("GET", path, {}, {}); }

    RedisReply redis(const QList<QByteArray> &argv)
    {
        const RedisResult result = test::execute(*m_admin, argv);
        if (!result.ok()) {
            qWarning("redis: %s", qPrintable(result.error().describe()));
            return {};
        }
        return result.value();
    }
    qint64 streamLength() { return redis({ "XLEN", m_keys.leads() }).integer(); }
    QList<QList<QByteArray>> streamEntries()
    {
        QList<QList<QByteArray>> out;
        const RedisReply range = redis({ "XRANGE", m_keys.leads(), "-", "+" });
        for (const RedisReply &entry : range.elements()) {
            QList<QByteArray> fields;
            for (const RedisReply &field : entry.at(1).elements())
                fields.append(field.bytes());
            out.append(fields);
        }
        return out;
    }
    QHash<QByteArray, QByteArray> taskHash(const QString &taskId)
    {
        QHash<QByteArray, QByteArray> out;
        const RedisReply reply = redis({ "HGETALL", m_keys.task(taskId) });
        const auto &elements = reply.elements();
        for (size_t i = 0; i + 1 < elements.size(); i += 2)
            out.insert(elements[i].bytes(), elements[i + 1].bytes());
        return out;
    }
    /// Keys under this test's namespace: nothing stored means 0.
    qint64 storedKeys() { return qint64(redis({ "KEYS", m_keys.prefix + '*' }).elements().size()); }

    RedisServer m_redisServer;
    QTemporaryDir m_dir;
    int m_round = 0;
    QString m_ns;
    RedisKeys m_keys;
    QString m_spoolPath;
    std::unique_ptr<RedisClient> m_redis;
    std::unique_ptr<RedisClient> m_admin;
    std::unique_ptr<IntakeServer> m_intake;
    QNetworkAccessManager m_manager;
};

SLUICE_TEST_GUILESS_MAIN(TestIntakeServer)
#include "tst_intakeserver.moc"
