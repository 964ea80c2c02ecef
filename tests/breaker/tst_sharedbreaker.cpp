// The breaker shared through a real redis-server: an opening on one instance reaches the
// others, a new process starts from the stored state, forced states carry their reason to
// everyone, and each transition is logged in the stream.
#include "breaker/sharedbreaker.h"
#include "common/steppedclock.h"
#include "common/suite.h"
#include "net/apitransport.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"

#include <QSignalSpy>
#include <QTest>

#include <memory>

using namespace sluice;
using sluice::test::RedisServer;
using sluice::test::SteppedClock;
using std::chrono::milliseconds;

namespace {

BreakerOptions smallWindow()
{
    BreakerOptions o;
    o.windowCalls = 4;
    o.minimumCalls = 4;
    o.openWaitJitter = 0; // exact waits
    return o;
}

} // namespace

class TestSharedBreaker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }
    void init() { m_key = "sluice:test:breaker:" + QByteArray::number(++m_round); }

    void openingReachesEveryInstance()
    {
        auto redisA = connect();
        auto redisB = connect();
        SharedBreaker a(redisA.get(), m_key, smallWindow(), &m_clock, nullptr,
                        milliseconds { 100 });
        SharedBreaker b(redisB.get(), m_key, smallWindow(), &m_clock, nullptr,
                        milliseconds { 100 });
        QTRY_VERIFY(a.synced() && b.synced());
        QSignalSpy changedB(&b, &SharedBreaker::stateChanged);
        for (int i = 0; i < 4; ++i)
            a.record(a.allow(), CallOutcome::Transient, milliseconds { 30 });
        QCOMPARE(a.state(), BreakerState::Open);
        QTRY_COMPARE(b.state(), BreakerState::Open);
        QVERIFY(!b.allow().permitted);
        QCOMPARE(changedB.count(), 1);

        // A process started now remembers.
        auto redisC = connect();
        SharedBreaker c(redisC.get(), m_key, smallWindow(), &m_clock);
        QTRY_VERIFY(c.synced());
        QCOMPARE(c.state(), BreakerState::Open);

        // After the open wait, one instance's trials close it for all.
        m_clock.advance(milliseconds { 5000 });
        for (int i = 0; i < 3; ++i) {
            const BreakerDecision trial = b.allow();
            QVERIFY(trial.permitted);
            b.record(trial, CallOutcome::Success, milliseconds { 20 });
        }
        QCOMPARE(b.state(), BreakerState::Closed);
        QTRY_COMPARE(a.state(), BreakerState::Closed);
        QTRY_COMPARE(c.state(), BreakerState::Closed);

        const RedisReply log = command(*redisA, { "XRANGE", m_key + ":transitions", "-", "+" });
        QCOMPARE(log.elements().size(),
                 size_t(3)); // closed->open, open->half_open, half_open->closed
        QCOMPARE(log.elements()[0].at(1).at(3).bytes(), QByteArray("open"));
    }

    void forcedStatesCarryTheirReason()
    {
        auto redisA = connect();
        auto redisB = connect();
        SharedBreaker a(redisA.get(), m_key, smallWindow(), &m_clock, nullptr,
                        milliseconds { 100 });
        SharedBreaker b(redisB.get(), m_key, smallWindow(), &m_clock, nullptr,
                        milliseconds { 100 });
        QTRY_VERIFY(a.synced() && b.synced());
        QVERIFY(
            a.forceOpen(QString(), milliseconds { 60'000 }).has_value()); // a reason is required
        QCOMPARE(
            a.forceOpen(QStringLiteral("Instantly maintenance window"), milliseconds { 60'000 }),
            std::nullopt);
        QTRY_COMPARE(b.state(), BreakerState::ForcedOpen);
        QCOMPARE(b.replica().force()->reason, QStringLiteral("Instantly maintenance window"));
        QVERIFY(!b.allow().permitted);

        // The force expires by itself, into HALF_OPEN (trials first).
        m_clock.advance(milliseconds { 60'000 });
        QCOMPARE(b.state(), BreakerState::HalfOpen);
        QTRY_COMPARE(a.state(), BreakerState::HalfOpen);
    }

    void worksAloneWhileRedisIsAway()
    {
        auto redis = connect();
        SharedBreaker breaker(redis.get(), m_key, smallWindow(), &m_clock, nullptr,
                              milliseconds { 100 });
        QTRY_VERIFY(breaker.synced());
        m_server.kill();
        QTRY_VERIFY(redis->state() != RedisClient::State::Connected);
        for (int i = 0; i < 4; ++i)
            breaker.record(breaker.allow(), CallOutcome::Transient, milliseconds { 30 });
        QCOMPARE(breaker.state(), BreakerState::Open); // decided locally, nothing crashed
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(redis->state() == RedisClient::State::Connected, 15'000);
        // What it decided alone is written once Redis answers, and the others learn it.
        auto other = connect();
        SharedBreaker late(other.get(), m_key, smallWindow(), &m_clock, nullptr,
                           milliseconds { 100 });
        QTRY_COMPARE(late.state(), BreakerState::Open);
        const RedisReply log = command(*other, { "XRANGE", m_key + ":transitions", "-", "+" });
        QCOMPARE(log.elements().size(), size_t(1));
    }

private:
    std::unique_ptr<RedisClient> connect()
    {
        RedisOptions options;
        options.url = m_server.url();
        options.connectTimeout = milliseconds { 1000 };
        auto client = std::make_unique<RedisClient>(options);
        client->connectToServer();
        return client;
    }

    static RedisReply command(RedisClient &redis, const QList<QByteArray> &argv)
    {
        std::optional<RedisResult> result;
        redis.command(argv, [&](RedisResult r) { result.emplace(std::move(r)); });
        if (!QTest::qWaitFor([&] { return result.has_value(); }, 10'000) || !result->ok())
            qFatal("redis command failed");
        return result->value();
    }

    RedisServer m_server;
    SteppedClock m_clock;
    int m_round = 0;
    QByteArray m_key;
};

SLUICE_TEST_GUILESS_MAIN(TestSharedBreaker)
#include "tst_sharedbreaker.moc"
