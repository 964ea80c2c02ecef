// Close lookups as Sluice makes them for lead-less webhooks, against the strict sandbox (whose
// Close rules come from Close's docs, not from this code) and a real redis-server:
// - ids asked for together leave as one search per page, and no single GETs;
// - an id the search does not return is asked for singly once, then is "not found in Close";
// - when Close refuses the search itself, lookups fall back to single GETs, said once;
// - a 429's rate_reset holds every instance sharing the Redis, for that route only;
// - the RateLimit header paces the route for every instance;
// - at a per-key limit far below --close-rate, lookups finish with the 429s bounded.
#include "close/closeclient.h"
#include "close/closegate.h"
#include "close/closelookup.h"
#include "close/closeratelimit.h"
#include "common/suite.h"
#include "limiter/sharedratelimiter.h"
#include "net/apitransport.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "sandbox/sandboxserver.h"
#include "store/rediskeys.h"

#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTest>

#include <nlohmann/json.hpp>

#include <memory>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

nlohmann::json closeLead(int i)
{
    const std::string n = std::to_string(i);
    return {
        { "id", "lead_" + n },
        { "display_name", "Company " + n },
        { "contacts",
          nlohmann::json::array(
              { { { "name", "Ann Lee" + n },
                  { "emails",
                    nlohmann::json::array({ { { "email", "ann" + n + "@acme.io" } } }) } } }) }
    };
}

/// One Sluice instance's Close side: a client whose transport has a CloseGate on a shared
/// Redis prefix, and the lookup on top.
struct Instance
{
    Instance(const QUrl &close, RedisClient *redis, const QByteArray &prefix, int ceilingPerSecond,
             CloseLookupOptions lookupOptions = {})
    {
        CloseOptions options;
        options.baseUrl = close;
        options.apiKey = QStringLiteral("sandbox");
        client = std::make_unique<CloseClient>(options);
        LimiterOptions ceiling;
        ceiling.caps = { { ceilingPerSecond, milliseconds { 1000 } } };
        ceiling.safetyFactor = 1.0;
        gate = std::make_unique<CloseGate>(redis, prefix, ceiling);
        client->transport()->setGate(gate.get());
        lookup = std::make_unique<CloseLookup>(client.get(), lookupOptions);
    }
    std::unique_ptr<CloseClient> client;
    std::unique_ptr<CloseGate> gate;
    std::unique_ptr<CloseLookup> lookup;
};

/// Answers of many lookups, by lead id.
struct Answers
{
    QHash<QString, CloseLookupAnswer> byId;
    CloseLookup::Done callback(const QString &id)
    {
        return [this, id](const CloseLookupAnswer &a) { byId.insert(id, a); };
    }
};

int requestsTo(const SandboxServer &sandbox, const QString &pathPrefix, int status = -1)
{
    int n = 0;
    for (const SandboxLogEntry &e : sandbox.requestLog())
        if (e.path.startsWith(pathPrefix) && (status < 0 || e.status == status))
            ++n;
    return n;
}

} // namespace

class TestCloseLookup : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_prefix = RedisKeys(QStringLiteral("close%1").arg(m_round)).closeLimiter();
        RedisOptions redis;
        redis.url = m_server.url();
        m_redis = std::make_unique<RedisClient>(redis);
        m_redis->connectToServer();
        m_sandbox = std::make_unique<SandboxServer>();
        QVERIFY(m_sandbox->start() != 0);
    }

    void cleanup()
    {
        m_sandbox.reset();
        m_redis.reset();
    }

    void everyRouteSharesTheFleetCount()
    {
        // The Instantly limiter counts the instances alive; Close's groups, made before or
        // after the count, pace their Redis-away fallback by it too.
        Instance one(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 20);
        SharedRateLimiter *before = one.gate->limiter(QStringLiteral("search"));
        QCOMPARE(before->fleetSize(), 1); // instancesHint
        one.gate->setFleetSize(4);
        SharedRateLimiter *after = one.gate->limiter(QStringLiteral("lead"));
        QCOMPARE(before->fleetSize(), 4);
        QCOMPARE(after->fleetSize(), 4);
        QCOMPARE(after->fallbackShare(), before->options().fallbackShare / 4);
    }

    void idsAskedTogetherLeaveAsOneSearchPerPage()
    {
        nlohmann::json leads = nlohmann::json::array();
        for (int i = 0; i < 250; ++i)
            leads.push_back(closeLead(i));
        QCOMPARE(m_sandbox->store().close().putLeads(leads).status, 200);
        Instance sluice(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 50);
        Answers answers;
        for (int i = 0; i < 250; ++i) {
            const QString id = QStringLiteral("lead_%1").arg(i);
            sluice.lookup->lookUp(id, answers.callback(id));
        }
        QTRY_COMPARE_WITH_TIMEOUT(answers.byId.size(), 250, 20'000);
        for (int i = 0; i < 250; ++i) {
            const CloseLookupAnswer a = answers.byId.value(QStringLiteral("lead_%1").arg(i));
            QCOMPARE(a.status, CloseLookupAnswer::Status::Found);
            QCOMPARE(a.leads.leads.size(), size_t(1));
            QCOMPARE(a.leads.leads[0].email, QStringLiteral("ann%1@acme.io").arg(i));
            QCOMPARE(a.leads.leads[0].firstName, QStringLiteral("Ann"));
        }
        // 100 + 100 + 50: three searches, nothing asked for singly.
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/data/search/")), 3);
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/lead/")), 0);
        QCOMPARE(sluice.lookup->searches(), qint64(3));
        QCOMPARE(sluice.lookup->pending(), 0);
    }

    void anIdTheSearchDoesNotReturnIsAskedSinglyThenNotFound()
    {
        QCOMPARE(m_sandbox->store()
                     .close()
                     .putLeads(nlohmann::json::array({ closeLead(1), closeLead(2) }))
                     .status,
                 200);
        Instance sluice(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 50);
        Answers answers;
        for (const QString &id :
             { QStringLiteral("lead_1"), QStringLiteral("lead_gone"), QStringLiteral("lead_2") })
            sluice.lookup->lookUp(id, answers.callback(id));
        QTRY_COMPARE_WITH_TIMEOUT(answers.byId.size(), 3, 20'000);
        QCOMPARE(answers.byId.value(QStringLiteral("lead_1")).status,
                 CloseLookupAnswer::Status::Found);
        QCOMPARE(answers.byId.value(QStringLiteral("lead_2")).status,
                 CloseLookupAnswer::Status::Found);
        const CloseLookupAnswer gone = answers.byId.value(QStringLiteral("lead_gone"));
        QCOMPARE(gone.status, CloseLookupAnswer::Status::NotFound);
        QCOMPARE(gone.reason, QStringLiteral("lead lead_gone not found in Close"));
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/data/search/")), 1);
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/lead/lead_gone/"), 404), 1);
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/lead/")), 1);
    }

    void aRefusedSearchFallsBackToSingleGets_data()
    {
        QTest::addColumn<int>("status");
        QTest::newRow("400") << 400;
        QTest::newRow("403") << 403;
        QTest::newRow("404") << 404;
    }

    void aRefusedSearchFallsBackToSingleGets()
    {
        QFETCH(int, status);
        nlohmann::json leads = nlohmann::json::array();
        for (int i = 0; i < 6; ++i)
            leads.push_back(closeLead(i));
        QCOMPARE(m_sandbox->store().close().putLeads(leads).status, 200);
        CloseFaultOptions faults;
        faults.searchRefusedStatus = status;
        m_sandbox->setCloseFaults(faults);
        Instance sluice(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 50);
        QSignalSpy notices(sluice.lookup.get(), &CloseLookup::noticeRaised);
        Answers answers;
        for (int i = 0; i < 3; ++i) {
            const QString id = QStringLiteral("lead_%1").arg(i);
            sluice.lookup->lookUp(id, answers.callback(id));
        }
        QTRY_COMPARE_WITH_TIMEOUT(answers.byId.size(), 3, 20'000);
        // Later lookups go straight to single GETs: the search is not asked again for a while.
        for (int i = 3; i < 6; ++i) {
            const QString id = QStringLiteral("lead_%1").arg(i);
            sluice.lookup->lookUp(id, answers.callback(id));
        }
        QTRY_COMPARE_WITH_TIMEOUT(answers.byId.size(), 6, 20'000);
        for (const CloseLookupAnswer &a : std::as_const(answers.byId))
            QCOMPARE(a.status, CloseLookupAnswer::Status::Found);
        QVERIFY(sluice.lookup->searchRefused());
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/data/search/"), status), 1);
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/lead/"), 200), 6);
        QCOMPARE(notices.size(), 1); // said once
        QVERIFY2(notices.at(0).at(0).toString().contains(QStringLiteral("one GET at a time")),
                 qPrintable(notices.at(0).at(0).toString()));
    }

    void rateResetHoldsEveryInstanceForThatRouteOnly()
    {
        // Two instances sharing one Redis, and a third one on the other route. No request is
        // made: a 429 with Close's body is settled through the first instance's gate, and the
        // others' next admissions wait it out. Lower bounds only: a wait cannot be shorter.
        Instance first(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 100);
        Instance second(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 100);
        const ApiRequest search {
            "POST", QStringLiteral("/api/v1/data/search/"), {}, {}, CloseClient::searchRoute()
        };
        const ApiRequest get {
            "GET", QStringLiteral("/api/v1/lead/lead_1/"), {}, {}, CloseClient::leadRoute()
        };
        std::optional<quint64> ticket;
        first.gate->admit(search, [&](quint64 t) { ticket = t; });
        QTRY_VERIFY(ticket);
        ApiResult limited;
        limited.outcome = CallOutcome::RateLimited;
        limited.httpStatus = 429;
        limited.body = R"({"error": {"message": "API call count exceeded", "rate_reset": 0.8}})";
        QCOMPARE(closeRateReset(limited.body), std::optional<milliseconds>(milliseconds { 800 }));
        first.gate->settle(*ticket, limited);

        // The penalty is in Redis (one script call away) before the others ask.
        QTRY_VERIFY(field(CloseClient::searchRoute(), "penalty_until") > 0);
        QElapsedTimer clock;
        clock.start();
        std::optional<qint64> searchAt, getAt;
        second.gate->admit(search, [&](quint64) { searchAt = clock.elapsed(); });
        second.gate->admit(get, [&](quint64) { getAt = clock.elapsed(); });
        QTRY_VERIFY_WITH_TIMEOUT(searchAt && getAt, 5000);
        QVERIFY2(*searchAt >= 700, qPrintable(QString::number(*searchAt)));
        QVERIFY2(*getAt < *searchAt, "the other route waited too");
    }

    void theRateLimitHeaderPacesTheRoute()
    {
        Instance first(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 100);
        Instance second(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 100);
        const ApiRequest get {
            "GET", QStringLiteral("/api/v1/lead/lead_1/"), {}, {}, CloseClient::leadRoute()
        };
        std::optional<quint64> ticket;
        first.gate->admit(get, [&](quint64 t) { ticket = t; });
        QTRY_VERIFY(ticket);
        ApiResult ok;
        ok.outcome = CallOutcome::Success;
        ok.httpStatus = 200;
        ok.rateLimit = "limit=20, remaining=2, reset=1.2"; // 2 left for 1.2 s: one per 600 ms
        const auto parsed = parseCloseRateLimit(ok.rateLimit);
        QVERIFY(parsed);
        QCOMPARE(closePaceGap(*parsed), milliseconds { 600 });
        first.gate->settle(*ticket, ok);
        QTRY_VERIFY(field(CloseClient::leadRoute(), "pace_until") > 0);
        QElapsedTimer clock;
        clock.start();
        std::optional<qint64> at;
        second.gate->admit(get, [&](quint64) { at = clock.elapsed(); });
        QTRY_VERIFY_WITH_TIMEOUT(at, 5000);
        QVERIFY2(*at >= 450, qPrintable(QString::number(*at)));
    }

    void aPerKeyLimitFarBelowTheCeilingStillFinishes()
    {
        // Close allows 2 searches/s per key here, Sluice's ceiling 50/s: the header paces the
        // route, and any 429 is waited out (rate_reset) and asked again, never a failure.
        CloseGroupLimit tight;
        tight.perKey = 2;
        tight.perOrg = 6;
        m_sandbox->setCloseLimit(QStringLiteral("search"), tight);
        nlohmann::json leads = nlohmann::json::array();
        for (int i = 0; i < 60; ++i)
            leads.push_back(closeLead(i));
        QCOMPARE(m_sandbox->store().close().putLeads(leads).status, 200);
        CloseLookupOptions options;
        options.batch = 10;
        Instance a(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 50, options);
        Instance b(m_sandbox->baseUrl(), m_redis.get(), m_prefix, 50, options);
        Answers answers;
        for (int i = 0; i < 60; ++i) {
            const QString id = QStringLiteral("lead_%1").arg(i);
            (i % 2 ? a : b).lookup->lookUp(id, answers.callback(id));
        }
        QTRY_COMPARE_WITH_TIMEOUT(answers.byId.size(), 60, 30'000);
        for (const CloseLookupAnswer &a : std::as_const(answers.byId))
            QCOMPARE(a.status, CloseLookupAnswer::Status::Found);
        const int searches = requestsTo(*m_sandbox, QStringLiteral("/api/v1/data/search/"), 200);
        const int limited = requestsTo(*m_sandbox, QStringLiteral("/api/v1/data/search/"), 429);
        QCOMPARE(searches, 6);
        // Each 429 holds both instances for its rate_reset, so they cannot pile up.
        QVERIFY2(limited <= 2, qPrintable(QString::number(limited)));
        QCOMPARE(requestsTo(*m_sandbox, QStringLiteral("/api/v1/lead/")), 0);
    }

private:
    /// A number in the shared limiter hash of one route; 0 when absent.
    qint64 field(const QString &route, const QByteArray &name)
    {
        const RedisResult r
            = test::execute(*m_redis, { "HGET", m_prefix + ':' + route.toUtf8(), name });
        return r.ok() && r.value().isString() ? qint64(r.value().bytes().toDouble()) : 0;
    }

    test::RedisServer m_server;
    std::unique_ptr<RedisClient> m_redis;
    std::unique_ptr<SandboxServer> m_sandbox;
    QByteArray m_prefix;
    int m_round = 0;
};

SLUICE_TEST_GUILESS_MAIN(TestCloseLookup)
#include "tst_closelookup.moc"
