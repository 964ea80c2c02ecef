// A gated ApiTransport against a real redis-server and the sandbox: every page of a paging
// operation takes its own limiter slot (the sandbox's log never exceeds the cap and it never
// answers 429), an open breaker holds requests until it closes, and results carry the
// request's status and latency on success too.
#include "breaker/sharedbreaker.h"
#include "common/apiwait.h"
#include "common/suite.h"
#include "core/clock.h"
#include "instantly/instantlyclient.h"
#include "limiter/sendaudit.h"
#include "limiter/sharedratelimiter.h"
#include "net/upstreamgate.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "sandbox/sandboxserver.h"
#include "store/rediskeys.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace sluice;
using sluice::test::Captured;
using std::chrono::milliseconds;

class TestUpstreamGate : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_keys = RedisKeys(QStringLiteral("gate%1").arg(m_round));
        RedisOptions redis;
        redis.url = m_server.url();
        m_redis = std::make_unique<RedisClient>(redis);
        m_redis->connectToServer();
    }

    void cleanup() { m_redis.reset(); }

    void everyPageTakesASlot()
    {
        SandboxOptions sandboxOptions;
        sandboxOptions.perSecond = 10;
        SandboxServer sandbox(sandboxOptions);
        QVERIFY(sandbox.start() != 0);
        InstantlyOptions options;
        options.baseUrl = sandbox.baseUrl();
        options.apiKey = sandboxOptions.apiKey;
        // Every request, the set-up's too, goes through the gate: the sandbox counts them all.
        // Paced at the default 0.8 of the sandbox's 10/s: the gate hands out slots, the sandbox
        // counts arrivals, and at a factor of 1.0 one request delayed on its way (an ASan build
        // under load) let 11 arrive in one second and drew a 429.
        LimiterOptions limiterOptions;
        limiterOptions.caps = { { 10, milliseconds { 1000 } } };
        SharedRateLimiter limiter(m_redis.get(), m_keys.limiter(), limiterOptions);
        SendAudit audit(m_redis.get(), m_keys.audit(), QStringLiteral("gate-test"));
        UpstreamGate gate(&limiter, nullptr, &audit);
        InstantlyClient gated(options);
        gated.transport()->setGate(&gate);

        Captured<Campaign> campaign;
        gated.createCampaign(QStringLiteral("Paging"), campaign.callback());
        QTRY_VERIFY(campaign.done());
        QVERIFY2(campaign.ok(), qPrintable(campaign.describe()));
        std::vector<Lead> leads;
        for (int i = 0; i < 60; ++i) {
            Lead lead;
            lead.email = QStringLiteral("page+%1@example.com").arg(i);
            leads.push_back(lead);
        }
        Captured<BulkAddResult> added;
        gated.addLeads(campaign.value().id, leads, SkipFlags {}, added.callback());
        QTRY_VERIFY(added.done());
        QVERIFY2(added.ok(), qPrintable(added.describe()));
        const size_t before = sandbox.requestLog().size();

        // 60 leads, 2 per page: 31 requests (the last page is empty) in about 4 s.
        LeadFilter filter;
        filter.campaignId = campaign.value().id;
        filter.limit = 2;
        Captured<std::vector<LeadRecord>> all;
        gated.listAllLeads(filter, all.callback());
        QTRY_VERIFY_WITH_TIMEOUT(all.done(), 20'000);
        QVERIFY2(all.ok(), qPrintable(all.describe()));
        QCOMPARE(all.value().size(), size_t(60));
        const size_t pages = sandbox.requestLog().size() - before;
        QVERIFY(pages >= 30);
        QVERIFY2(sandbox.worstWindow(milliseconds { 1000 }) <= 10,
                 qPrintable(QString::number(sandbox.worstWindow(milliseconds { 1000 }))));
        for (const SandboxLogEntry &e : sandbox.requestLog())
            QVERIFY(e.status != 429);
        // The audit saw every request.
        Result<AuditSummary, RedisError> *summary = nullptr;
        std::optional<Result<AuditSummary, RedisError>> got;
        audit.summarize(0, wallClockMs() + 1000,
                        [&](Result<AuditSummary, RedisError> r) { got.emplace(std::move(r)); });
        QTRY_VERIFY(got.has_value());
        summary = &*got;
        QVERIFY(summary->ok());
        QCOMPARE(size_t(summary->value().requests), pages + 2); // and the two set-up requests
    }

    void anOpenBreakerHoldsRequestsUntilItCloses()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        InstantlyOptions options;
        options.baseUrl = sandbox.baseUrl();
        options.apiKey = QStringLiteral("sandbox");
        LimiterOptions limiterOptions;
        SharedRateLimiter limiter(m_redis.get(), m_keys.limiter(), limiterOptions);
        SharedBreaker breaker(m_redis.get(), m_keys.breaker(), BreakerOptions {});
        UpstreamGate gate(&limiter, &breaker, nullptr);
        InstantlyClient gated(options);
        gated.transport()->setGate(&gate);

        QVERIFY(!breaker.forceOpen(QStringLiteral("maintenance"), std::chrono::minutes { 5 }));
        Captured<Page<Campaign>> page;
        gated.listCampaigns(QString(), 10, QString(), page.callback());
        // Held: refused, asked again a second later and refused again; nothing reached the
        // sandbox meanwhile.
        QSignalSpy held(&gate, &UpstreamGate::held);
        QTRY_VERIFY_WITH_TIMEOUT(held.size() >= 1, 5000);
        QVERIFY(!page.done());
        QCOMPARE(gate.waiting(), 1);
        QCOMPARE(int(sandbox.requestLog().size()), 0);

        breaker.clearForce(QStringLiteral("done"));
        QTRY_VERIFY_WITH_TIMEOUT(page.done(), 5000);
        QVERIFY2(page.ok(), qPrintable(page.describe()));
        QCOMPARE(int(sandbox.requestLog().size()), 1);
        QCOMPARE(gate.waiting(), 0);
    }

    void aHeldAdmissionCanBeWithdrawnAndAPassSaysWhatItWentThrough()
    {
        // What the dispatcher relies on: a batch the open breaker holds is handed back at
        // once on a pause or stop, and the journal learns the breaker state and limiter wait.
        SharedRateLimiter limiter(m_redis.get(), m_keys.limiter(), LimiterOptions {});
        SharedBreaker breaker(m_redis.get(), m_keys.breaker(), BreakerOptions {});
        UpstreamGate gate(&limiter, &breaker, nullptr);
        QSignalSpy held(&gate, &UpstreamGate::held);
        QVERIFY(!breaker.forceOpen(QStringLiteral("maintenance"), std::chrono::minutes { 5 }));
        bool withdrawnRan = false;
        QList<quint64> tickets;
        const quint64 first = gate.request([&](quint64) { withdrawnRan = true; });
        const quint64 second = gate.request([&](quint64) { withdrawnRan = true; });
        QCOMPARE(held.size(), 1); // the first, at once
        QCOMPARE(gate.waiting(), 2);
        QVERIFY(gate.withdraw(second)); // in line behind it
        QVERIFY(gate.withdraw(first)); // held by the breaker
        QVERIFY(!gate.withdraw(first)); // once only
        QCOMPARE(gate.waiting(), 0);

        const quint64 third = gate.request([&](quint64 t) { tickets << t; });
        QCOMPARE(held.size(), 2);
        breaker.clearForce(QStringLiteral("done"));
        QTRY_COMPARE_WITH_TIMEOUT(tickets.size(), 1, 5000);
        QVERIFY(!withdrawnRan);
        QVERIFY(!gate.withdraw(third)); // admitted: too late
        const std::optional<UpstreamGate::Pass> pass = gate.pass(tickets[0]);
        QVERIFY(pass.has_value());
        // Lifting a forced open leaves the breaker half open: this request is its trial.
        QCOMPARE(breakerStateName(pass->breaker), breakerStateName(BreakerState::HalfOpen));
        QVERIFY(pass->limiterWaitMs >= 0);
        gate.release(tickets[0]);
        QVERIFY(!gate.pass(tickets[0]).has_value());
    }

    void aSlotIsTakenOnlyWhenAConnectionIsFree()
    {
        // A slow upstream: with 2 requests allowed on the wire, the third waits before its
        // gate (no slot taken) until one answer is in, so no more than 2 are ever open at
        // the sandbox, and each request's audit time is when it left, not when it was asked.
        SandboxOptions sandboxOptions;
        sandboxOptions.perSecond = 1000;
        sandboxOptions.perMinute = 100'000;
        sandboxOptions.faults.latency = milliseconds { 300 };
        SandboxServer sandbox(sandboxOptions);
        QVERIFY(sandbox.start() != 0);
        InstantlyOptions options;
        options.baseUrl = sandbox.baseUrl();
        options.apiKey = sandboxOptions.apiKey;
        options.maxInFlight = 2;
        LimiterOptions limiterOptions;
        limiterOptions.caps = { { 1000, milliseconds { 1000 } } };
        SharedRateLimiter limiter(m_redis.get(), m_keys.limiter(), limiterOptions);
        SendAudit audit(m_redis.get(), m_keys.audit(), QStringLiteral("wire-test"));
        UpstreamGate gate(&limiter, nullptr, &audit);
        InstantlyClient gated(options);
        gated.transport()->setGate(&gate);
        QCOMPARE(gated.transport()->maxInFlight(), 2);

        const qint64 askedMs = wallClockMs();
        std::vector<std::unique_ptr<Captured<Page<Campaign>>>> pages;
        for (int i = 0; i < 6; ++i) {
            pages.push_back(std::make_unique<Captured<Page<Campaign>>>());
            gated.listCampaigns(QString(), 10, QString(), pages.back()->callback());
        }
        QCOMPARE(gated.transport()->waiting(), 4 + 2); // 4 wait for a connection, 2 for the gate
        QVERIFY(gate.waiting() <= 2);
        for (auto &page : pages) {
            QTRY_VERIFY_WITH_TIMEOUT(page->done(), 10'000);
            QVERIFY2(page->ok(), qPrintable(page->describe()));
        }
        // At most 2 open at any moment, as the sandbox saw them.
        const auto &log = sandbox.requestLog();
        QCOMPARE(int(log.size()), 6);
        for (const SandboxLogEntry &e : log) {
            int open = 0;
            for (const SandboxLogEntry &other : log)
                open += other.arrivedSteady <= e.arrivedSteady
                        && other.arrivedSteady + milliseconds { other.latencyMs } > e.arrivedSteady
                    ? 1
                    : 0;
            QVERIFY2(open <= 2, qPrintable(QStringLiteral("%1 open at once").arg(open)));
        }
        // The audit's times are the departures: the last two left after two answers.
        std::optional<Result<AuditSummary, RedisError>> got;
        audit.summarize(0, wallClockMs() + 1000,
                        [&](Result<AuditSummary, RedisError> r) { got.emplace(std::move(r)); });
        QTRY_VERIFY(got.has_value());
        QVERIFY(got->ok());
        QCOMPARE(got->value().requests, 6);
        QVERIFY2(got->value().lastSentMs - askedMs >= 2 * 300 - 50,
                 qPrintable(QString::number(got->value().lastSentMs - askedMs)));
    }

    void successCarriesTheRequest()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        InstantlyOptions options;
        options.baseUrl = sandbox.baseUrl();
        options.apiKey = QStringLiteral("sandbox");
        InstantlyClient client(options);
        std::optional<ApiReply<Campaign>> reply;
        client.createCampaign(QStringLiteral("Carried"),
                              [&](ApiReply<Campaign> r) { reply.emplace(std::move(r)); });
        QTRY_VERIFY(reply.has_value());
        QVERIFY(reply->ok());
        QCOMPARE(reply->call().httpStatus, 200);
        QCOMPARE(reply->call().endpoint, QStringLiteral("POST /api/v2/campaigns"));
        QVERIFY(reply->call().ok());
        // A cache hit made no request, and says so.
        std::optional<ApiReply<std::optional<Campaign>>> cached;
        client.findCampaign(QStringLiteral("Carried"), [&](ApiReply<std::optional<Campaign>> r) {
            cached.emplace(std::move(r));
        });
        QVERIFY(cached.has_value());
        QVERIFY(cached->ok() && cached->value().has_value());
        QVERIFY(cached->call().endpoint.isEmpty());
        QCOMPARE(cached->call().httpStatus, 0);
    }

private:
    test::RedisServer m_server;
    int m_round = 0;
    RedisKeys m_keys;
    std::unique_ptr<RedisClient> m_redis;
};

SLUICE_TEST_GUILESS_MAIN(TestUpstreamGate)
#include "tst_upstreamgate.moc"
