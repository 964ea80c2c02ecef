// The dispatcher against a real redis-server and an in-process sandbox acting as Instantly and
// Close: bulk and single delivery, duplicates, unknown campaigns, Close lookups, 429 storms,
// transient faults with retries, dead letters and their retry, and a crashed consumer whose
// entries another one reclaims without duplicating anything.
#include "breaker/sharedbreaker.h"
#include "close/closeclient.h"
#include "common/apiwait.h"
#include "common/suite.h"
#include "control/operatorcontrol.h"
#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "journal/leadjournal.h"
#include "limiter/sendaudit.h"
#include "limiter/sharedratelimiter.h"
#include "queue/dispatcher.h"
#include "queue/retrypolicy.h"
#include "queue/schemagate.h"
#include "queue/streamconsumer.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "sandbox/sandboxserver.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

#include <nlohmann/json.hpp>

#include <memory>

using namespace sluice;
using sluice::test::Captured;
using sluice::test::RedisServer;
using std::chrono::milliseconds;
using json = nlohmann::json;

namespace {

const QString kCampaign = QStringLiteral("Spring Outreach");

QueuedLead queued(const QString &task, const QString &campaign, const QString &email)
{
    QueuedLead q;
    q.taskId = task;
    q.campaignName = campaign;
    q.source = QStringLiteral("direct");
    q.receivedMs = wallClockMs();
    q.lead.email = email;
    q.lead.firstName = QStringLiteral("Test");
    q.lead.lastName = email.section(QLatin1Char('@'), 0, 0);
    q.lead.companyName = QStringLiteral("Acme");
    return q;
}

/// A lead-less webhook's entry, as the intake queues it: the Close lead to look up.
QueuedLead lookupQueued(const QString &task, const QString &campaign, const QString &closeLeadId)
{
    QueuedLead q;
    q.taskId = task;
    q.campaignName = campaign;
    q.source = QStringLiteral("close");
    q.receivedMs = wallClockMs();
    q.needsLookup = true;
    q.closeLeadId = closeLeadId;
    return q;
}

} // namespace

class TestDispatcher : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_keys = RedisKeys(QStringLiteral("dispatch%1").arg(m_round));
        SandboxOptions sandbox;
        sandbox.perSecond = 1000;
        sandbox.perMinute = 100'000;
        m_sandbox = std::make_unique<SandboxServer>(sandbox);
        QVERIFY(m_sandbox->start() != 0);

        RedisOptions redis;
        redis.url = m_server.url();
        m_redis = std::make_unique<RedisClient>(redis);
        m_redis->connectToServer();

        InstantlyOptions instantly;
        instantly.baseUrl = m_sandbox->baseUrl();
        instantly.apiKey = sandbox.apiKey;
        instantly.timeout = milliseconds { 5000 };
        m_instantly = std::make_unique<InstantlyClient>(instantly);
        CloseOptions close;
        close.baseUrl = m_sandbox->baseUrl();
        close.apiKey = sandbox.closeApiKey;
        m_close = std::make_unique<CloseClient>(close);

        LimiterOptions limiter; // generous: the sandbox's limit is what is tested
        limiter.caps = { { 1000, milliseconds { 1000 } }, { 100'000, milliseconds { 60'000 } } };
        limiter.penaltyBase = milliseconds { 100 };
        limiter.penaltyCap = milliseconds { 500 };
        m_limiter = std::make_unique<SharedRateLimiter>(m_redis.get(), m_keys.limiter(), limiter);
        BreakerOptions breaker; // never opens here: the dispatcher's own reactions are tested
        breaker.windowCalls = 100;
        breaker.minimumCalls = 100;
        breaker.failureRateThresholdPercent = 100;
        m_breaker = std::make_unique<SharedBreaker>(m_redis.get(), m_keys.breaker(), breaker);
        m_audit = std::make_unique<SendAudit>(m_redis.get(), m_keys.audit(), QStringLiteral("t"));

        Captured<Campaign> created;
        m_instantly->createCampaign(kCampaign, created.callback());
        QTRY_VERIFY(created.done());
        QVERIFY2(created.ok(), qPrintable(created.describe()));
        m_campaignId = created.value().id;
        // A fresh client: the campaign must be found through the API, not its cache.
        m_instantly->clearCampaignCache();
    }

    void cleanup()
    {
        m_dispatchers.clear();
        m_audit.reset();
        m_breaker.reset();
        m_limiter.reset();
        m_close.reset();
        m_instantly.reset();
        m_redis.reset();
        m_sandbox.reset();
    }

    void retryDelayHasFullJitterAndACap()
    {
        const milliseconds base { 1000 }, cap { 300'000 };
        QCOMPARE(retryDelay(1, base, cap, 0.0).count(), 0);
        QCOMPARE(retryDelay(1, base, cap, 0.5).count(), 500);
        QCOMPARE(retryDelay(3, base, cap, 0.5).count(), 2000);
        QCOMPARE(retryDelay(12, base, cap, 0.999).count(), 299'700);
        QCOMPARE(retryDelay(1000, base, cap, 0.5).count(), 150'000);
    }

    void optionsAreValidated()
    {
        DispatcherOptions options;
        QVERIFY(!options.problem());
        options.maxBatch = 1001;
        QVERIFY(options.problem()->contains(QStringLiteral("1000")));
        options = {};
        options.retryCap = milliseconds { 10 };
        QVERIFY(options.problem());
    }

    void bulkDeliversEveryLeadOnce()
    {
        const QString task = QStringLiteral("bulk");
        queueTask(task, 50, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("bulk+%1@example.com").arg(i));
        });
        Dispatcher *d = startDispatcher();
        QSignalSpy snapshots(d, &Dispatcher::snapshotChanged);
        waitFinished(task, 50);
        const auto p = progress(task);
        QCOMPARE(p.value("state"), QByteArray("done"));
        QCOMPARE(p.value("succeeded"), QByteArray("50"));
        QCOMPARE(p.value("skipped").toInt(), 0);
        QVERIFY(p.value("first_sent_ms").toLongLong() > 0);
        QVERIFY(p.value("finished_ms").toLongLong() >= p.value("first_sent_ms").toLongLong());
        QCOMPARE(sandboxEmails().size(), 50);
        QCOMPARE(sandboxEmails(true).size(), 50); // no duplicates
        const int bulkRequests = requests(QStringLiteral("/api/v2/leads/add"));
        QVERIFY2(bulkRequests >= 1 && bulkRequests <= 3, qPrintable(QString::number(bulkRequests)));
        QCOMPARE(requests(QStringLiteral("/api/v2/leads")), 0);
        QCOMPARE(scalar({ "ZCARD", m_keys.delivered() }), 50);
        QTRY_COMPARE(scalar({ "XLEN", m_keys.leads() }), 0);
        QVERIFY(!snapshots.isEmpty());
        QCOMPARE(d->snapshot().succeeded, 50);
        QCOMPARE(d->snapshot().inFlight, 0);
        QCOMPARE(d->snapshot().requests, bulkRequests); // the campaign lookup is not a lead request
        // The audit saw every request made for leads.
        QTRY_VERIFY(scalar({ "XLEN", m_keys.audit() }) >= bulkRequests);
    }

    void singleModeSendsOneRequestPerLead()
    {
        const QString task = QStringLiteral("single");
        queueTask(task, 10, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("single+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.mode = DeliveryMode::Single;
        startDispatcher(options);
        waitFinished(task, 10);
        QCOMPARE(progress(task).value("succeeded"), QByteArray("10"));
        QCOMPARE(requests(QStringLiteral("/api/v2/leads")), 10);
        QCOMPARE(requests(QStringLiteral("/api/v2/leads/add")), 0);
        QCOMPARE(sandboxEmails(true).size(), 10);
    }

    void singleModeConfirmsALeadAlreadyThere()
    {
        // Put there behind Sluice's back (another tool, a previous run), in a workspace where
        // Instantly answers a repeat with the existing lead (the docs leave that open). With
        // every skip flag off, the answer alone proves nothing: the lead is delivered once
        // seen in the campaign's listing.
        m_sandbox->store().setSameCampaignDuplicates(SameCampaignDuplicates::Skip);
        Lead existing;
        existing.email = QStringLiteral("already+1@example.com");
        Captured<LeadRecord> made;
        m_instantly->createLead(m_campaignId, existing, SkipFlags {}, made.callback());
        QTRY_VERIFY(made.done());
        QVERIFY2(made.ok(), qPrintable(made.describe()));
        // Instantly's clock and ours must disagree: make sure the lead is older than now.
        QTRY_VERIFY(wallClockMs() > QDateTime::fromString(
                                        QString::fromStdString(
                                            m_sandbox->store().allLeads()[0]["timestamp_created"]),
                                        Qt::ISODateWithMs)
                                        .toMSecsSinceEpoch());

        const QString task = QStringLiteral("single-skip");
        queueTask(task, 3, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("already+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.mode = DeliveryMode::Single;
        options.skipDetectionMargin = milliseconds { 0 };
        startDispatcher(options);
        waitFinished(task, 3);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("3"));
        QCOMPARE(p.value("dead"), QByteArray());
        QCOMPARE(sandboxEmails().size(), 3);
        QCOMPARE(sandboxEmails(true).size(), 3);
        QCOMPARE(requests(QStringLiteral("/api/v2/leads/list")), 1); // the one check
        const QList<JournalEvent> events = journal(QStringLiteral("already+1@example.com"));
        QCOMPARE(events.constLast().kind, QStringLiteral("delivered"));
        QVERIFY2(events.constLast().detail.contains(QStringLiteral("seen in its listing")),
                 qPrintable(events.constLast().detail));
    }

    void aTaskHashWithoutRetentionGetsItBack()
    {
        // queueTask() writes the hash without a TTL, as a hash re-made after it expired is.
        const QString task = QStringLiteral("orphan");
        queueTask(task, 2, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("orphan+%1@example.com").arg(i));
        });
        QCOMPARE(scalar({ "TTL", m_keys.task(task) }), -1);
        startDispatcher();
        waitFinished(task, 2);
        const qint64 ttl = scalar({ "TTL", m_keys.task(task) });
        QVERIFY2(ttl > 7 * 86400 - 60 && ttl <= 7 * 86400, qPrintable(QString::number(ttl)));
    }

    void duplicateEntryIsSkipped()
    {
        const QString task = QStringLiteral("dup");
        queueTask(task, 3, [&](int i) {
            // The same person twice (case differs), and once more after delivery below.
            return queued(task, kCampaign,
                          i == 1 ? QStringLiteral("Twin@Example.com")
                                 : QStringLiteral("twin@example.com"));
        });
        startDispatcher();
        waitFinished(task, 3);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("1"));
        QCOMPARE(p.value("skipped"), QByteArray("2"));
        QCOMPARE(p.value("state"), QByteArray("done"));
        QCOMPARE(sandboxEmails().size(), 1);

        // A replay of an already delivered lead is a no-op without a request.
        const int before = int(m_sandbox->requestLog().size());
        const QString replay = QStringLiteral("replay");
        queueTask(replay, 1, [&](int) {
            return queued(replay, kCampaign, QStringLiteral("twin@example.com"));
        });
        waitFinished(replay, 1);
        QCOMPARE(progress(replay).value("skipped"), QByteArray("1"));
        QCOMPARE(int(m_sandbox->requestLog().size()), before);
        QCOMPARE(sandboxEmails().size(), 1);
        // The journal: one request carried the first twin; the other two and the replay were
        // skipped without one.
        const QStringList twin = kinds(journal(QStringLiteral("twin@example.com")));
        QCOMPARE(twin.count(QStringLiteral("attempt")), 1);
        QCOMPARE(twin.count(QStringLiteral("delivered")), 1);
        QCOMPARE(twin.count(QStringLiteral("skipped")), 3);
        QCOMPARE(twin.last(), QStringLiteral("skipped"));
    }

    void schemaOneDataIsMigratedAndNewerDataIsRefused()
    {
        // Data as schema 1 left it (no schema key, the delivered set without scores), with
        // leads in flight: one already delivered (a replay must stay a no-op), two not.
        const QString task = QStringLiteral("upgrade");
        command({ "SADD", m_keys.legacyDelivered(), m_campaignId.toUtf8() + "|old@example.com" });
        for (int i = 0; i < 1500; ++i) // more than one migration chunk
            command({ "SADD", m_keys.legacyDelivered(),
                      "other|x" + QByteArray::number(i) + "@example.com" });
        queueTask(task, 3, [&](int i) {
            return queued(task, kCampaign,
                          i == 0 ? QStringLiteral("old@example.com")
                                 : QStringLiteral("new%1@example.com").arg(i));
        });
        Dispatcher *d = startDispatcher();
        QSignalSpy refused(d, &Dispatcher::refused);
        waitFinished(task, 3);
        QCOMPARE(progress(task).value("succeeded"), QByteArray("2"));
        QCOMPARE(progress(task).value("skipped"), QByteArray("1"));
        QCOMPARE(sandboxEmails(true).size(), 2); // the delivered one was not sent again
        QCOMPARE(command({ "GET", m_keys.schema() }).bytes(),
                 QByteArray::number(SchemaGate::kVersion));
        QCOMPARE(scalar({ "EXISTS", m_keys.legacyDelivered() }), 0);
        QCOMPARE(scalar({ "ZCARD", m_keys.delivered() }), 1501 + 2);
        QCOMPARE(refused.size(), 0);

        // Data written by a newer Sluice: this one refuses, says why, and reads nothing.
        command({ "SET", m_keys.schema(), QByteArray::number(SchemaGate::kVersion + 1) });
        const QString later = QStringLiteral("later");
        queueTask(later, 1,
                  [&](int) { return queued(later, kCampaign, QStringLiteral("z@example.com")); });
        DispatcherOptions second = fastOptions();
        second.consumerName = QStringLiteral("newer-data");
        Dispatcher *old = startDispatcher(second);
        QSignalSpy oldRefused(old, &Dispatcher::refused);
        QTRY_COMPARE(oldRefused.size(), 1);
        QVERIFY2(oldRefused.first().first().toString().contains(QStringLiteral("schema version 3")),
                 qPrintable(oldRefused.first().first().toString()));
        QVERIFY(!old->isRunning());
    }

    void aCampaignCreatedAfterItsLeadsArrivedGetsThemAll()
    {
        // The Close task came before the Instantly campaign: the leads are parked with the
        // reason, not failed, and go out by themselves once the campaign exists.
        const QString name = QStringLiteral("Not Yet");
        const QString task = QStringLiteral("unknown");
        queueTask(task, 3, [&](int i) {
            return queued(task, name, QStringLiteral("nobody+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.parkedRecheck = milliseconds { 300 };
        startDispatcher(options);
        QTRY_COMPARE_WITH_TIMEOUT(progress(task).value("state"), QByteArray("parked"), 10'000);
        auto p = progress(task);
        QCOMPARE(p.value("parked"), QByteArray("3"));
        QCOMPARE(p.value("processed"), QByteArray());
        QCOMPARE(p.value("last_error"), QByteArray("campaign 'Not Yet' not found in Instantly"));
        QCOMPARE(scalar({ "XLEN", m_keys.deadLetters() }), 0);
        QCOMPARE(scalar({ "XLEN", m_keys.parkedLeads(name) }), 3);
        QCOMPARE(scalar({ "SISMEMBER", m_keys.parked(), name.toUtf8() }), 1);
        const RedisReply parked = command({ "XRANGE", m_keys.parkedLeads(name), "-", "+" });
        QCOMPARE(field(parked.at(0).at(1), "code"), QByteArray("campaign_missing"));
        QCOMPARE(kinds(journal(QStringLiteral("nobody+1@example.com"))).constLast(),
                 QStringLiteral("parked"));

        Captured<Campaign> created;
        m_instantly->createCampaign(name, created.callback());
        QTRY_VERIFY(created.done());
        QVERIFY2(created.ok(), qPrintable(created.describe()));
        waitFinished(task, 3);
        p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("3"));
        QCOMPARE(p.value("parked"), QByteArray("0"));
        QCOMPARE(p.value("state"), QByteArray("done"));
        QCOMPARE(scalar({ "EXISTS", m_keys.parkedLeads(name) }), 0);
        QCOMPARE(scalar({ "SISMEMBER", m_keys.parked(), name.toUtf8() }), 0);
        QCOMPARE(m_sandbox->store().allLeads(created.value().id).size(), size_t(3));
        const QStringList steps = kinds(journal(QStringLiteral("nobody+1@example.com")));
        QVERIFY2(steps.contains(QStringLiteral("parked"))
                     && steps.contains(QStringLiteral("requeued"))
                     && steps.constLast() == QStringLiteral("delivered"),
                 qPrintable(steps.join(QLatin1Char(' '))));
    }

    void aLeadMissingInCloseIsDeadLetteredWithItsReason()
    {
        // Searched (with a lead that exists), then asked for singly: 404, so a dead letter
        // an operator can read, never a silent drop.
        QCOMPARE(
            m_sandbox->store()
                .putCloseLead(
                    { { "id", "lead_here" },
                      { "display_name", "Here Co" },
                      { "contacts",
                        json::array({ { { "name", "Cy Dee" },
                                        { "emails",
                                          json::array({ { { "email", "cy@here.io" } } }) } } }) } })
                .status,
            200);
        const QString task = QStringLiteral("missing");
        queueTask(task, 2, [&](int i) {
            return lookupQueued(task, kCampaign,
                                i == 0 ? QStringLiteral("lead_here") : QStringLiteral("lead_gone"));
        });
        startDispatcher();
        waitFinished(task, 2);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("1"));
        QCOMPARE(p.value("dead"), QByteArray("1"));
        const RedisReply dead = command({ "XRANGE", m_keys.deadLetters(), "-", "+" });
        QCOMPARE(dead.elements().size(), size_t(1));
        QCOMPARE(field(dead.at(0).at(1), "reason"),
                 QByteArray("lead lead_gone not found in Close"));
        QCOMPARE(field(dead.at(0).at(1), "close_lead"), QByteArray("lead_gone"));
        QCOMPARE(sandboxEmails(), QStringList { QStringLiteral("cy@here.io") });
        int searches = 0, gets = 0;
        for (const SandboxLogEntry &e : m_sandbox->requestLog()) {
            searches += e.path == QLatin1String("/api/v1/data/search/") ? 1 : 0;
            gets += e.path.startsWith(QLatin1String("/api/v1/lead/")) ? 1 : 0;
        }
        QCOMPARE(searches, 1); // both ids in one search
        QCOMPARE(gets, 1); // the missing one, asked again singly
        QCOMPARE(kinds(journal(QStringLiteral("close:lead_gone"))),
                 QStringList { QStringLiteral("dead") });
    }

    void closeLookupIsExpanded()
    {
        auto contact = [](const char *name, const char *email) {
            return json { { "name", name }, { "emails", json::array({ { { "email", email } } }) } };
        };
        QCOMPARE(m_sandbox->store()
                     .putCloseLead({ { "id", "lead_two" },
                                     { "display_name", "Two Co" },
                                     { "contacts",
                                       json::array({ contact("Ann Lee", "ann@two.io"),
                                                     contact("Bo Ray", "bo@two.io") }) } })
                     .status,
                 200);
        QCOMPARE(m_sandbox->store()
                     .putCloseLead({ { "id", "lead_none" },
                                     { "display_name", "Empty Co" },
                                     { "contacts", json::array() } })
                     .status,
                 200);
        const QString task = QStringLiteral("close");
        queueTask(task, 3, [&](int i) {
            if (i == 2)
                return queued(task, kCampaign, QStringLiteral("inline@three.io"));
            return lookupQueued(task, kCampaign,
                                i == 0 ? QStringLiteral("lead_two") : QStringLiteral("lead_none"));
        });
        startDispatcher();
        waitFinished(task, 4); // 3 entries, the first one yields two leads
        const auto p = progress(task);
        QCOMPARE(p.value("total"), QByteArray("4"));
        QCOMPARE(p.value("succeeded"), QByteArray("3"));
        QCOMPARE(p.value("dead"), QByteArray("1"));
        QCOMPARE(p.value("state"), QByteArray("done"));
        QVERIFY(p.value("last_error").contains("lead_none"));
        // A Close lead without a usable contact is a dead letter an operator can find by its
        // Close lead id, with the reason as a code.
        const RedisReply dead = command({ "XRANGE", m_keys.deadLetters(), "-", "+" });
        QCOMPARE(dead.elements().size(), size_t(1));
        QCOMPARE(field(dead.at(0).at(1), "code"), QByteArray("no_usable_email"));
        QCOMPARE(field(dead.at(0).at(1), "close_lead"), QByteArray("lead_none"));
        QCOMPARE(sandboxEmails(true),
                 (QStringList { QStringLiteral("ann@two.io"), QStringLiteral("bo@two.io"),
                                QStringLiteral("inline@three.io") }));
        // The Close lead's journal says what the lookup found; each contact's own journal
        // starts from it.
        const QList<JournalEvent> two = journal(QStringLiteral("close:lead_two"));
        QCOMPARE(kinds(two), QStringList { QStringLiteral("looked_up") });
        QVERIFY2(two[0].detail.contains(QStringLiteral("ann@two.io"))
                     && two[0].detail.contains(QStringLiteral("bo@two.io")),
                 qPrintable(two[0].detail));
        QCOMPARE(kinds(journal(QStringLiteral("close:lead_none"))),
                 QStringList { QStringLiteral("dead") });
        const QList<JournalEvent> ann = journal(QStringLiteral("ann@two.io"));
        QCOMPARE(kinds(ann),
                 (QStringList { QStringLiteral("looked_up"), QStringLiteral("queued"),
                                QStringLiteral("attempt"), QStringLiteral("delivered") }));
        QVERIFY(ann[0].detail.contains(QStringLiteral("lead_two")));
        QCOMPARE(ann[0].task, task);
        // Found by task id: the task's hash lists its contacts.
        QVERIFY(command({ "HGET", m_keys.task(task), "leads" }).bytes().contains("ann@two.io"));
    }

    void rateLimitStormDeliversEverythingOnce()
    {
        m_sandbox->setLimits(2, 600);
        const QString task = QStringLiteral("storm");
        queueTask(task, 12, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("storm+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.mode = DeliveryMode::Single;
        Dispatcher *d = startDispatcher(options);
        waitFinished(task, 12, 30'000);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("12"));
        QVERIFY2(p.value("rate_limit_delays").toInt() > 0, p.value("rate_limit_delays"));
        QCOMPARE(p.value("retries").toInt(), 0); // a 429 is not an attempt
        QVERIFY(d->snapshot().rateLimited > 0);
        QCOMPARE(sandboxEmails().size(), 12);
        QCOMPARE(sandboxEmails(true).size(), 12);
        // Some lead's journal shows its 429, and that it was delivered afterwards.
        bool sawLimited = false;
        for (int i = 0; i < 12; ++i) {
            const QList<JournalEvent> events
                = journal(QStringLiteral("storm+%1@example.com").arg(i));
            QCOMPARE(events.constLast().kind, QStringLiteral("delivered"));
            for (const JournalEvent &e : events)
                if (e.kind == u"attempt" && e.status == 429) {
                    sawLimited = true;
                    QVERIFY2(e.detail.contains(QStringLiteral("rate limited")),
                             qPrintable(e.detail));
                }
        }
        QVERIFY(sawLimited);
    }

    void transientFaultsAreRetried()
    {
        FaultOptions faults;
        faults.errorRate = 0.6;
        m_sandbox->setFaults(faults);
        const QString task = QStringLiteral("faults");
        queueTask(task, 20, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("fault+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.mode = DeliveryMode::Single;
        startDispatcher(options);
        QTRY_VERIFY_WITH_TIMEOUT(progress(task).value("retries").toInt() >= 3, 20'000);
        m_sandbox->setFaults({});
        waitFinished(task, 20, 20'000);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("20"));
        QCOMPARE(p.value("dead").toInt(), 0);
        QVERIFY(p.value("retries").toInt() >= 3);
        QCOMPARE(sandboxEmails(true).size(), 20);
        QCOMPARE(sandboxEmails().size(), 20);
        QCOMPARE(scalar({ "ZCARD", m_keys.retries() }), 0);
        // A retried lead's journal: a failed attempt, the retry with its time, then a later
        // attempt with the next number, ending delivered.
        bool sawRetry = false;
        for (int i = 0; i < 20; ++i) {
            const QList<JournalEvent> events
                = journal(QStringLiteral("fault+%1@example.com").arg(i));
            QCOMPARE(events.constLast().kind, QStringLiteral("delivered"));
            for (qsizetype j = 0; j + 2 < events.size(); ++j) {
                if (events[j].kind != u"attempt" || events[j + 1].kind != u"retry")
                    continue;
                sawRetry = true;
                QVERIFY2(events[j].status >= 500, qPrintable(events[j].summary()));
                QVERIFY(events[j + 1].retryAtMs >= events[j + 1].atMs);
                QCOMPARE(events[j + 2].kind, QStringLiteral("attempt"));
                QCOMPARE(events[j + 2].attempt, events[j].attempt + 1);
            }
        }
        QVERIFY(sawRetry);
    }

    void permanentFailureIsDeadLetteredAndRetried()
    {
        const QString task = QStringLiteral("bad");
        queueTask(task, 2, [&](int i) {
            return queued(task, kCampaign,
                          i == 0 ? QStringLiteral("not-an-email") : QStringLiteral("ok@fine.io"));
        });
        DispatcherOptions options = fastOptions();
        options.mode = DeliveryMode::Single;
        Dispatcher *d = startDispatcher(options);
        waitFinished(task, 2);
        auto p = progress(task);
        QCOMPARE(p.value("dead"), QByteArray("1"));
        QCOMPARE(p.value("succeeded"), QByteArray("1"));
        QCOMPARE(p.value("state"), QByteArray("done"));
        const RedisReply dead = command({ "XRANGE", m_keys.deadLetters(), "-", "+" });
        QCOMPARE(dead.elements().size(), size_t(1));
        const QByteArray reason = field(dead.at(0).at(1), "reason");
        QVERIFY2(reason.contains("400"), reason.constData());
        QCOMPARE(field(dead.at(0).at(1), "task"), task.toUtf8());

        // Stopped, so the retried entry stays in the stream where we can see it.
        QSignalSpy stopped(d, &Dispatcher::stopped);
        d->stop();
        QTRY_COMPARE(stopped.count(), 1);
        std::optional<Result<int, RedisError>> moved;
        OperatorControl control(m_redis.get(), m_keys, m_breaker.get());
        control.retryDeadLetters(100,
                                 [&](Result<int, RedisError> r) { moved.emplace(std::move(r)); });
        QTRY_VERIFY(moved.has_value());
        QVERIFY(moved->ok());
        QCOMPARE(moved->value(), 1);
        QCOMPARE(scalar({ "XLEN", m_keys.deadLetters() }), 0);
        p = progress(task);
        QCOMPARE(p.value("dead").toInt(), 0);
        QCOMPARE(p.value("processed"), QByteArray("1"));
        QCOMPARE(p.value("state"), QByteArray("running"));
        const RedisReply back = command({ "XRANGE", m_keys.leads(), "-", "+" });
        QCOMPARE(back.elements().size(), size_t(1));
        QCOMPARE(field(back.at(0).at(1), "attempt"), QByteArray("0"));
        QCOMPARE(field(back.at(0).at(1), "reason"), QByteArray());

        // Delivered again, it fails again: dead once more, counters consistent.
        QVERIFY(!d->start());
        waitFinished(task, 2);
        QCOMPARE(progress(task).value("dead"), QByteArray("1"));
        QCOMPARE(scalar({ "XLEN", m_keys.deadLetters() }), 1);
        // All of it is in the lead's journal, each attempt with Instantly's answer.
        QTRY_COMPARE(kinds(journal(QStringLiteral("not-an-email"))),
                     (QStringList { QStringLiteral("attempt"), QStringLiteral("dead"),
                                    QStringLiteral("requeued"), QStringLiteral("attempt"),
                                    QStringLiteral("dead") }));
        const QList<JournalEvent> bad = journal(QStringLiteral("not-an-email"));
        QCOMPARE(bad[0].status, 400);
        QCOMPARE(bad[0].batch, 1);
        QVERIFY(bad[1].detail.contains(QStringLiteral("400")));
        QVERIFY(bad[2].detail.contains(QStringLiteral("dead letters")));
    }

    void aLeadInAnotherCampaignIsDeliveredToThisOne()
    {
        // Instantly's skip_if_in_campaign skips a lead that is in ANY campaign: with the
        // flags off (the default), a lead of campaign A still goes to campaign B.
        Captured<Campaign> other;
        m_instantly->createCampaign(QStringLiteral("Autumn Outreach"), other.callback());
        QTRY_VERIFY(other.done());
        QVERIFY2(other.ok(), qPrintable(other.describe()));
        Lead there;
        there.email = QStringLiteral("elsewhere+0@example.com");
        Captured<LeadRecord> made;
        m_instantly->createLead(other.value().id, there, SkipFlags {}, made.callback());
        QTRY_VERIFY(made.done());
        QVERIFY2(made.ok(), qPrintable(made.describe()));

        const QString task = QStringLiteral("elsewhere");
        queueTask(task, 2, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("elsewhere+%1@example.com").arg(i));
        });
        startDispatcher();
        waitFinished(task, 2);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("2"));
        QCOMPARE(p.value("dead"), QByteArray());
        QCOMPARE(sandboxEmails(),
                 (QStringList { QStringLiteral("elsewhere+0@example.com"),
                                QStringLiteral("elsewhere+1@example.com") }));
        QCOMPARE(m_sandbox->store().allLeads(other.value().id).size(), size_t(1)); // untouched
        QCOMPARE(kinds(journal(QStringLiteral("elsewhere+0@example.com"))).constLast(),
                 QStringLiteral("delivered"));
    }

    void leadsInstantlyRefusesAreDeadLetteredWithTheirReason_data()
    {
        QTest::addColumn<QString>("refused"); // the address Instantly will not take
        QTest::addColumn<QString>("setup"); // "blocklist", "invalid", "plan"
        QTest::addColumn<QByteArray>("code");
        QTest::newRow("blocklisted")
            << QStringLiteral("x@blocked.example") << "blocklist" << QByteArray("blocklisted");
        // Valid to Sluice's own check, invalid to Instantly's (a one-letter top-level domain).
        QTest::newRow("invalid to Instantly")
            << QStringLiteral("x@example.c") << "invalid" << QByteArray("invalid_email");
        QTest::newRow("plan exhausted")
            << QStringLiteral("x@later.example") << "plan" << QByteArray("plan_exhausted");
    }
    void leadsInstantlyRefusesAreDeadLetteredWithTheirReason()
    {
        QFETCH(QString, refused);
        QFETCH(QString, setup);
        QFETCH(QByteArray, code);
        if (setup == u"blocklist")
            m_sandbox->store().setBlocklist({ QStringLiteral("blocked.example") });
        if (setup == u"plan")
            m_sandbox->store().setRemainingInPlan(2); // the two good ones, then nothing
        const QString task = QStringLiteral("refused");
        // One bulk request: two good leads first, then the refused one.
        queueTask(task, 3, [&](int i) {
            return queued(task, kCampaign,
                          i < 2 ? QStringLiteral("good+%1@example.com").arg(i) : refused);
        });
        DispatcherOptions options = fastOptions();
        options.coalescingWindow = milliseconds { 300 };
        startDispatcher(options);
        waitFinished(task, 3);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("2"));
        QCOMPARE(p.value("dead"), QByteArray("1"));
        QCOMPARE(requests(QStringLiteral("/api/v2/leads/add")), 1);
        const RedisReply dead = command({ "XRANGE", m_keys.deadLetters(), "-", "+" });
        QCOMPARE(dead.elements().size(), size_t(1));
        QCOMPARE(field(dead.at(0).at(1), "code"), code);
        QVERIFY2(!field(dead.at(0).at(1), "reason").contains(refused.toUtf8()),
                 "a reason is typed words, never with an email in it");
        QCOMPARE(kinds(journal(refused)).constLast(), QStringLiteral("dead"));
        // Never counted as delivered.
        QCOMPARE(scalar({ "ZCARD", m_keys.delivered() }), 2);
        if (setup == u"plan") {
            // The plan is spent: the fleet pauses, with the cause, until a probe passes.
            QTRY_COMPARE(command({ "HGET", m_keys.control(), "paused_cause" }).bytes(),
                         QByteArray("plan_exhausted"));
            QCOMPARE(command({ "HGET", m_keys.control(), "remaining_in_plan" }).bytes(),
                     QByteArray("0"));
        }
    }

    void anAppliedButUnansweredRequestIsNeitherDuplicatedNorLost()
    {
        // The sandbox adds the leads, then closes the connection unanswered: Sluice cannot
        // know, so it lists the campaign for those emails before sending anything again. A
        // resend would make duplicates here (the workspace creates a repeat).
        QVERIFY(m_sandbox->store().sameCampaignDuplicates() == SameCampaignDuplicates::Create);
        // One lead first, answered, so the campaign id is known before answers are lost.
        const QString warm = QStringLiteral("warm");
        queueTask(warm, 1,
                  [&](int) { return queued(warm, kCampaign, QStringLiteral("warm@example.com")); });
        startDispatcher();
        waitFinished(warm, 1);
        FaultOptions drop;
        drop.applyDropRate = 1.0;
        m_sandbox->setFaults(drop);
        const QString task = QStringLiteral("dropped");
        queueTask(task, 5, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("dropped+%1@example.com").arg(i));
        });
        QTRY_COMPARE_WITH_TIMEOUT(sandboxEmails().size(), 6, 10'000); // applied...
        // Once at the wire: Qt would send a POST again by itself when its connection closes
        // unanswered; ApiTransport's one-shot body stops that.
        QCOMPARE(requests(QStringLiteral("/api/v2/leads/add")), 2);
        m_sandbox->setFaults({}); // ... and from now on answered
        waitFinished(task, 5);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded"), QByteArray("5"));
        QCOMPARE(p.value("dead"), QByteArray());
        QCOMPARE(sandboxEmails().size(), 6);
        QCOMPARE(sandboxEmails(true).size(), 6); // no duplicate
        QVERIFY(requests(QStringLiteral("/api/v2/leads/list")) >= 1); // the check
        QCOMPARE(kinds(journal(QStringLiteral("dropped+3@example.com"))).constLast(),
                 QStringLiteral("delivered"));
    }

    void aRevokedKeyPausesAndEverythingIsDeliveredAfterTheFix_data()
    {
        QTest::addColumn<bool>("byProbe"); // resumed by the fleet's probe, or by an operator
        QTest::newRow("the probe resumes") << true;
        QTest::newRow("an operator resumes") << false;
    }
    void aRevokedKeyPausesAndEverythingIsDeliveredAfterTheFix()
    {
        QFETCH(bool, byProbe);
        m_sandbox->setInstantlyKeyRevoked(true);
        const QString task = QStringLiteral("revoked");
        queueTask(task, 6, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("revoked+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.probeInterval = byProbe ? milliseconds { 300 } : milliseconds { 600'000 };
        Dispatcher *d = startDispatcher(options);
        QTRY_VERIFY_WITH_TIMEOUT(d->snapshot().paused, 10'000);
        QTRY_COMPARE(command({ "HGET", m_keys.control(), "paused_cause" }).bytes(),
                     QByteArray("instantly_key_rejected"));
        QVERIFY2(d->snapshot().pausedReason.contains(QStringLiteral("Instantly API key rejected")),
                 qPrintable(d->snapshot().pausedReason));
        // Paused, not failed: nothing is dead-lettered, nothing counted processed.
        QCOMPARE(scalar({ "XLEN", m_keys.deadLetters() }), 0);
        QCOMPARE(progress(task).value("processed").toInt(), 0);
        if (byProbe) {
            // The probe keeps asking while the key is still refused, and stays paused.
            const int before = int(m_sandbox->requestLog().size());
            QTRY_VERIFY_WITH_TIMEOUT(int(m_sandbox->requestLog().size()) >= before + 2, 10'000);
            QVERIFY(d->snapshot().paused);
            QCOMPARE(scalar({ "XLEN", m_keys.deadLetters() }), 0);
            m_sandbox->setInstantlyKeyRevoked(false); // fixed in Instantly
        } else {
            m_sandbox->setInstantlyKeyRevoked(false);
            OperatorControl control(m_redis.get(), m_keys, m_breaker.get());
            std::optional<std::optional<RedisError>> resumed;
            control.resume([&](std::optional<RedisError> e) { resumed.emplace(e); });
            QTRY_VERIFY(resumed.has_value());
            QVERIFY(!resumed->has_value());
        }
        waitFinished(task, 6, 20'000);
        QCOMPARE(progress(task).value("succeeded"), QByteArray("6"));
        QCOMPARE(sandboxEmails(true).size(), 6);
        QCOMPARE(sandboxEmails().size(), 6);
        QVERIFY(!d->snapshot().paused);
        QCOMPARE(command({ "HGET", m_keys.control(), "paused" }).isString(), false);
    }

    void aFlagReadSentBeforeAPauseDoesNotUndoIt()
    {
        // The consumer reads the fleet's pause flag on start and every maintenance round. A
        // read sent before this process paused the fleet answers "not paused". It must not
        // resume the consumer: it did, until the next read, and a paused dispatcher could send
        // in between (tst_dispatcher's revoked-key case caught it in CI once).
        StreamConsumer consumer(m_redis.get(), m_keys, fastOptions());
        consumer.setHandler([](const QByteArray &, const QList<QByteArray> &, bool) {});
        QSignalSpy changes(&consumer, &StreamConsumer::pausedChanged);
        consumer.start(); // its read of the flag is on its way, unanswered
        // As Dispatcher::pauseFleet does it: the flag's write, then pauseNow, on one client.
        const QString reason = QStringLiteral("Instantly API key rejected (HTTP 401)");
        bool written = false;
        m_redis->command({ "HSETNX", m_keys.control(), "paused", reason.toUtf8() },
                         [&](RedisResult r) { written = r.ok(); });
        consumer.pauseNow(reason, PauseCause::InstantlyKeyRejected);
        // Redis answers in order: once the write is answered, so is the earlier read.
        QTRY_VERIFY(written);
        QVERIFY(consumer.isPaused());
        QCOMPARE(consumer.pausedReason(), reason);
        QCOMPARE(changes.size(), 1);
        QCOMPARE(changes.at(0).at(0).toBool(), true);
        // A read sent after the pause sees the flag, and its removal resumes the consumer.
        command({ "HDEL", m_keys.control(), "paused" });
        QTRY_VERIFY_WITH_TIMEOUT(!consumer.isPaused(), 10'000);
        QCOMPARE(changes.size(), 2);
        consumer.stop();
    }

    void weakRedisDurabilityIsWarnedAtStart()
    {
        // AOF on, but the OS decides when it reaches the disk: a machine crash may lose many
        // acknowledged leads, so the dispatcher says so (the console and serve show it).
        command({ "CONFIG", "SET", "appendonly", "yes" });
        command({ "CONFIG", "SET", "appendfsync", "no" });
        Dispatcher *d = startDispatcher();
        QSignalSpy warnings(d, &Dispatcher::warningRaised);
        QTRY_VERIFY(std::any_of(warnings.cbegin(), warnings.cend(), [](const QList<QVariant> &w) {
            return w.at(0).toString().contains(QStringLiteral("appendfsync is 'no'"));
        }));
        command({ "CONFIG", "SET", "appendonly", "no" });
        command({ "CONFIG", "SET", "appendfsync", "everysec" });
    }

    void pauseHoldsNewWork()
    {
        command({ "HSET", m_keys.control(), "paused", "maintenance" });
        DispatcherOptions options = fastOptions();
        options.blockTime = milliseconds { 100 };
        Dispatcher *d = startDispatcher(options);
        QTRY_VERIFY(d->snapshot().paused);
        const QString task = QStringLiteral("paused");
        queueTask(task, 2, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("p+%1@example.com").arg(i));
        });
        QTest::qWait(300); // nothing may happen: there is no condition to wait for
        QCOMPARE(progress(task).value("processed"), QByteArray());
        command({ "HDEL", m_keys.control(), "paused" });
        waitFinished(task, 2);
        QCOMPARE(d->snapshot().pausedReason, QString());
    }

    void aPauseStopsWorkAlreadyInMemory()
    {
        // Leads read and waiting in memory when an operator pauses: once the pause is seen, at
        // most one request leaves (one gated just before); the rest go back to the stream and
        // are delivered, once each, after the resume.
        FaultOptions slow;
        slow.latency = milliseconds { 200 };
        m_sandbox->setFaults(slow);
        const QString task = QStringLiteral("inmemory");
        queueTask(task, 30, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("mem+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.mode = DeliveryMode::Single;
        options.maxRequestsInFlight = 2;
        Dispatcher *d = startDispatcher(options);
        const QString path = QStringLiteral("/api/v2/leads");
        QTRY_VERIFY_WITH_TIMEOUT(requests(path) >= 3, 10'000);
        command({ "HSET", m_keys.control(), "paused", "maintenance" });
        QTRY_VERIFY(d->snapshot().paused);
        const int atPause = requests(path);
        QTRY_COMPARE(d->snapshot().sending, 0);
        QTest::qWait(500); // nothing may leave while paused: there is no condition to wait for
        const int after = requests(path) - atPause;
        QVERIFY2(after <= 1,
                 qPrintable(QStringLiteral("%1 request(s) after the pause").arg(after)));
        QVERIFY(progress(task).value("processed").toInt() < 30);
        m_sandbox->setFaults({});
        command({ "HDEL", m_keys.control(), "paused" });
        waitFinished(task, 30, 30'000);
        QCOMPARE(progress(task).value("succeeded"), QByteArray("30"));
        QCOMPARE(sandboxEmails(true).size(), 30); // none twice
    }

    void uncertainLeadsInSingleModeAreCheckedTogether()
    {
        // Taken back after a crash, each lead may already be in the campaign. Single mode
        // sends one lead per request, yet one listing checks them all (not one listing each:
        // that spent half the rate budget of a restart on checks).
        const QString task = QStringLiteral("uncertain");
        command({ "HSET", m_keys.task(task), "total", "40", "state", "queued", "campaign",
                  kCampaign.toUtf8(), "created_ms", QByteArray::number(wallClockMs()) });
        for (int i = 0; i < 40; ++i) {
            QList<QByteArray> argv { "XADD", m_keys.leads(), "*" };
            argv << queued(task, kCampaign, QStringLiteral("unsure+%1@example.com").arg(i))
                        .toFields();
            argv << "uncertain"
                 << "1";
            command(argv);
        }
        DispatcherOptions options = fastOptions();
        options.mode = DeliveryMode::Single;
        startDispatcher(options);
        waitFinished(task, 40, 30'000);
        QCOMPARE(progress(task).value("succeeded"), QByteArray("40"));
        QCOMPARE(requests(QStringLiteral("/api/v2/leads")), 40);
        const int listings = requests(QStringLiteral("/api/v2/leads/list"));
        QVERIFY2(listings >= 1 && listings <= 3, qPrintable(QString::number(listings)));
        QCOMPARE(sandboxEmails(true).size(), 40);
    }

    void crashedConsumerIsReclaimedWithoutDuplicates()
    {
        FaultOptions slow;
        slow.latency = milliseconds { 600 };
        m_sandbox->setFaults(slow);
        const QString task = QStringLiteral("crash");
        queueTask(task, 40, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("crash+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.claimIdleTimeout = milliseconds { 400 };
        options.consumerName = QStringLiteral("doomed");
        Dispatcher *first = startDispatcher(options);
        // Destroyed while its request is on the wire: the sandbox still adds the leads.
        QTRY_VERIFY_WITH_TIMEOUT(first->snapshot().sending > 0, 10'000);
        m_dispatchers.clear();
        QCOMPARE(progress(task).value("processed"), QByteArray());

        options.consumerName = QStringLiteral("heir");
        Dispatcher *second = startDispatcher(options);
        waitFinished(task, 40, 20'000);
        const auto p = progress(task);
        QCOMPARE(p.value("succeeded").toInt() + p.value("skipped").toInt(), 40);
        QCOMPARE(p.value("state"), QByteArray("done"));
        QCOMPARE(sandboxEmails().size(), 40);
        QCOMPARE(sandboxEmails(true).size(), 40);
        QVERIFY(second->snapshot().skipped + second->snapshot().succeeded == 40);
        // Nothing is left pending in the group.
        QTRY_COMPARE(
            command({ "XPENDING", m_keys.leads(), RedisKeys::dispatcherGroup() }).at(0).integer(),
            0);
    }

    void aDeadConsumersLeadsAreTakenOverByHeartbeat()
    {
        // --claim-idle is 10 minutes, yet a consumer that stopped beating loses its entries
        // within about its liveness timeout, and nothing is sent twice.
        FaultOptions slow;
        slow.latency = milliseconds { 600 };
        m_sandbox->setFaults(slow);
        const QString task = QStringLiteral("heartbeat");
        queueTask(task, 30, [&](int i) {
            return queued(task, kCampaign, QStringLiteral("beat+%1@example.com").arg(i));
        });
        DispatcherOptions options = fastOptions();
        options.claimIdleTimeout = milliseconds { 600'000 };
        options.livenessTimeout = milliseconds { 600 };
        options.consumerName = QStringLiteral("gone");
        Dispatcher *first = startDispatcher(options);
        QTRY_VERIFY_WITH_TIMEOUT(first->snapshot().sending > 0, 10'000);
        m_dispatchers.clear(); // dies with its request on the wire: no hand-back, no goodbye
        command({ "SET", m_keys.alive(QStringLiteral("gone")), "1", "PX", "600" }); // as if it
        // had just beaten: the heir must wait for the heartbeat to lapse, not take at once

        options.consumerName = QStringLiteral("heir");
        QElapsedTimer took;
        took.start();
        startDispatcher(options);
        waitFinished(task, 30, 15'000);
        QVERIFY2(took.elapsed() < 15'000, qPrintable(QString::number(took.elapsed())));
        QCOMPARE(sandboxEmails().size(), 30);
        QCOMPARE(sandboxEmails(true).size(), 30);
        QTRY_COMPARE(
            command({ "XPENDING", m_keys.leads(), RedisKeys::dispatcherGroup() }).at(0).integer(),
            0);
        // The heir beats; the dead one's key is gone.
        QCOMPARE(scalar({ "EXISTS", m_keys.alive(QStringLiteral("heir")) }), 1);
        QCOMPARE(scalar({ "EXISTS", m_keys.alive(QStringLiteral("gone")) }), 0);
    }

private:
    DispatcherOptions fastOptions() const
    {
        DispatcherOptions options;
        options.keyNamespace = QStringLiteral("dispatch%1").arg(m_round);
        options.coalescingWindow = milliseconds { 100 };
        options.blockTime = milliseconds { 200 };
        options.maintenanceInterval = milliseconds { 50 };
        options.retryBase = milliseconds { 50 };
        options.retryCap = milliseconds { 400 };
        return options;
    }

    Dispatcher *startDispatcher(std::optional<DispatcherOptions> options = std::nullopt)
    {
        DispatcherServices services;
        services.redis = m_redis.get();
        services.instantly = m_instantly.get();
        services.close = m_close.get();
        services.limiter = m_limiter.get();
        services.breaker = m_breaker.get();
        services.audit = m_audit.get();
        auto d = std::make_unique<Dispatcher>(services, options.value_or(fastOptions()));
        const auto problem = d->start();
        if (problem)
            qWarning("dispatcher did not start: %s", qPrintable(*problem));
        m_dispatchers.push_back(std::move(d));
        return m_dispatchers.back().get();
    }

    /// As the intake would: the progress hash first, then one stream entry per lead.
    void queueTask(const QString &task, int n, const std::function<QueuedLead(int)> &make)
    {
        command({ "HSET", m_keys.task(task), "total", QByteArray::number(n), "state", "queued",
                  "campaign", kCampaign.toUtf8(), "created_ms",
                  QByteArray::number(wallClockMs()) });
        for (int i = 0; i < n; ++i) {
            QList<QByteArray> argv { "XADD", m_keys.leads(), "*" };
            argv << make(i).toFields();
            command(argv);
        }
    }

    void waitFinished(const QString &task, int total, int timeoutMs = 15'000)
    {
        QTRY_VERIFY_WITH_TIMEOUT(progress(task).value("processed").toInt() >= total, timeoutMs);
        QCOMPARE(progress(task).value("processed").toInt(), total);
        QCOMPARE(progress(task).value("total").toInt(), total);
    }

    QHash<QByteArray, QByteArray> progress(const QString &task)
    {
        QHash<QByteArray, QByteArray> out;
        const RedisReply r = command({ "HGETALL", m_keys.task(task) });
        for (size_t i = 0; i + 1 < r.elements().size(); i += 2)
            out.insert(r.at(i).bytes(), r.at(i + 1).bytes());
        return out;
    }

    RedisReply command(const QList<QByteArray> &argv)
    {
        return test::executeOrWarn(*m_redis, argv);
    }
    qint64 scalar(const QList<QByteArray> &argv) { return command(argv).integer(); }

    /// One lead's journal, oldest first.
    QList<JournalEvent> journal(const QString &identity)
    {
        QList<JournalEvent> out;
        const RedisReply stored = command({ "LRANGE", m_keys.journal(identity), "0", "-1" });
        for (const RedisReply &event : stored.elements())
            out << JournalEvent::fromStored(event.bytes());
        return out;
    }
    static QStringList kinds(const QList<JournalEvent> &events)
    {
        QStringList out;
        for (const JournalEvent &e : events)
            out << e.kind;
        return out;
    }

    static QByteArray field(const RedisReply &fields, const QByteArray &name)
    {
        for (size_t i = 0; i + 1 < fields.elements().size(); i += 2)
            if (fields.at(i).bytes() == name)
                return fields.at(i + 1).bytes();
        return {};
    }

    /// Emails of the campaign's leads in the sandbox, lower-cased; sorted and unique if asked.
    /// The emails in the test's campaign (kCampaign).
    QStringList sandboxEmails(bool unique = false)
    {
        QStringList emails;
        for (const json &lead : m_sandbox->store().allLeads(m_campaignId))
            emails << QString::fromStdString(lead["email"].get<std::string>()).toLower();
        emails.sort();
        if (unique)
            emails.removeDuplicates();
        return emails;
    }

    int requests(const QString &path) const
    {
        int n = 0;
        for (const SandboxLogEntry &e : m_sandbox->requestLog())
            n += e.path == path ? 1 : 0;
        return n;
    }

    RedisServer m_server;
    int m_round = 0;
    RedisKeys m_keys;
    QString m_campaignId;
    std::unique_ptr<SandboxServer> m_sandbox;
    std::unique_ptr<RedisClient> m_redis;
    std::unique_ptr<InstantlyClient> m_instantly;
    std::unique_ptr<CloseClient> m_close;
    std::unique_ptr<SharedRateLimiter> m_limiter;
    std::unique_ptr<SharedBreaker> m_breaker;
    std::unique_ptr<SendAudit> m_audit;
    std::vector<std::unique_ptr<Dispatcher>> m_dispatchers;
};

SLUICE_TEST_GUILESS_MAIN(TestDispatcher)
#include "tst_dispatcher.moc"
