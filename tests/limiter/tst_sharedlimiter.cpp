// The shared limiter against a real redis-server: the Lua script decides exactly as the C++
// model does (stepped clock), 429 penalties and slow-downs reach every instance, the audit
// sees what was sent, Redis dying switches to the local fallback and back, and four separate
// processes together stay under the caps while using the safe rate.
#include "common/steppedclock.h"
#include "common/suite.h"
#include "core/windowstats.h"
#include "limiter/sendaudit.h"
#include "limiter/sharedratelimiter.h"
#include "net/apitransport.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"

#include <QEventLoop>
#include <QProcess>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

#include <memory>

using namespace sluice;
using sluice::test::RedisServer;
using sluice::test::SteppedClock;
using std::chrono::milliseconds;

namespace {

ApiResult answer(CallOutcome outcome, int status)
{
    ApiResult r;
    r.outcome = outcome;
    r.httpStatus = status;
    r.endpoint = QStringLiteral("POST /api/v2/leads/add");
    return r;
}

} // namespace

class TestSharedLimiter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_key = "sluice:test:limiter:" + QByteArray::number(m_round);
    }

    void luaMatchesTheModel_data()
    {
        QTest::addColumn<double>("safety");
        QTest::addColumn<int>("meanGapMs");
        QTest::newRow("80%, flooding") << 0.8 << 20;
        QTest::newRow("100%, flooding") << 1.0 << 20;
        QTest::newRow("80%, near the rate") << 0.8 << 120;
    }
    void luaMatchesTheModel()
    {
        QFETCH(double, safety);
        QFETCH(int, meanGapMs);
        LimiterOptions options;
        options.safetyFactor = safety;
        SteppedClock clock;
        auto redis = connect();
        SharedRateLimiter shared(redis.get(), m_key, options, &clock);
        LocalRateLimiter model(options);
        QRandomGenerator random(7);
        for (int i = 0; i < 300; ++i) {
            const LimiterDecision expected = model.acquire(clock.now());
            const LimiterGrant got = grant(shared);
            QVERIFY(!got.degraded);
            QCOMPARE(got.allowed, expected.allowed);
            QCOMPARE(got.wait.count(), expected.wait.count());
            QCOMPARE(got.grantedAtMs, clock.now().count());
            clock.advance(milliseconds { random.bounded(2 * meanGapMs) });
        }
    }

    void penaltyAndSlowDownReachEveryInstance()
    {
        SteppedClock clock;
        auto redisA = connect();
        auto redisB = connect();
        LimiterOptions options;
        SharedRateLimiter a(redisA.get(), m_key, options, &clock);
        SharedRateLimiter b(redisB.get(), m_key, options, &clock);
        const LimiterGrant first = grant(a);
        QVERIFY(first.allowed);
        clock.advance(milliseconds { 300 });

        // A's request was refused upstream: everybody waits 1 s and goes at half the rate.
        QSignalSpy rateB(&b, &SharedRateLimiter::effectiveRateChanged);
        a.report(answer(CallOutcome::RateLimited, 429), first);
        QTRY_COMPARE(a.effectivePerSecond(), 4.0);
        const LimiterGrant blocked = grant(b);
        QVERIFY(!blocked.allowed);
        QCOMPARE(blocked.wait.count(), 1000);
        QCOMPARE(blocked.rateFactor, 0.5);
        QCOMPARE(b.effectivePerSecond(), 4.0);
        QCOMPARE(rateB.count(), 1);

        // A second 429 of the same burst (sent before the penalty) changes nothing.
        a.report(answer(CallOutcome::RateLimited, 429), first);
        QCOMPARE(grant(b).wait.count(), 1000);

        // Retry-After is honoured when present.
        clock.advance(milliseconds { 1000 });
        LimiterGrant later = grant(b);
        QVERIFY(later.allowed);
        ApiResult withRetryAfter = answer(CallOutcome::RateLimited, 429);
        withRetryAfter.retryAfter = milliseconds { 7000 };
        b.report(withRetryAfter, later);
        QTRY_VERIFY(!grant(a).allowed);
        QCOMPARE(grant(a).wait.count(), 7000);
    }

    void auditSeesWhatWasSent()
    {
        auto redis = connect();
        const QByteArray stream = m_key + ":audit";
        SendAudit audit(redis.get(), stream, QStringLiteral("box-1"));
        SendAudit other(redis.get(), stream, QStringLiteral("box-2"));
        // Sent times in the recent past: the stream is read by insertion time around them.
        const qint64 t0 = QDateTime::currentMSecsSinceEpoch() - 100'000;
        // 12 sends in one second (two of them 429s), then 5 spread over the next minute.
        for (int i = 0; i < 12; ++i)
            (i % 2 ? audit : other)
                .record(answer(i < 2 ? CallOutcome::RateLimited : CallOutcome::Success,
                               i < 2 ? 429 : 200),
                        t0 + i * 80);
        for (int i = 0; i < 5; ++i)
            audit.record(answer(CallOutcome::Transient, 0), t0 + 2000 + i * 10'000);
        std::optional<Result<AuditSummary, RedisError>> summary;
        audit.summarize(t0, t0 + 120'000,
                        [&](Result<AuditSummary, RedisError> s) { summary.emplace(std::move(s)); });
        QTRY_VERIFY(summary.has_value());
        QVERIFY2(summary->ok(),
                 qPrintable(summary->ok() ? QString() : summary->error().describe()));
        const AuditSummary &s = summary->value();
        QCOMPARE(s.requests, 17);
        QCOMPARE(s.worst1s, 12);
        QCOMPARE(s.worst60s, 17);
        QCOMPARE(s.rateLimited, 2);
        QCOMPARE(s.byStatus.value(0), 5);
        QCOMPARE(s.byInstance.value(QStringLiteral("box-2")), 6);
        QCOMPARE(s.firstSentMs, t0);
        QCOMPARE(s.lastSentMs, t0 + 42'000);

        // A narrower span counts only what was sent in it.
        summary.reset();
        audit.summarize(t0 + 1000, t0 + 25'000,
                        [&](Result<AuditSummary, RedisError> s) { summary.emplace(std::move(s)); });
        QTRY_VERIFY(summary.has_value());
        QCOMPARE(summary->value().requests, 3);
    }

    void fallsBackWhenRedisDiesAndComesBack()
    {
        auto redis = connect();
        LimiterOptions options; // fallback: 10/s at 80% x 0.5 share = 4/s
        SharedRateLimiter limiter(redis.get(), m_key, options);
        QSignalSpy degraded(&limiter, &SharedRateLimiter::degradedChanged);
        QVERIFY(!grant(limiter).degraded);

        m_server.kill();
        QTRY_VERIFY(redis->state() != RedisClient::State::Connected);
        // Decisions go on, locally, and say so.
        QTRY_VERIFY(grant(limiter).degraded);
        QVERIFY(limiter.degraded());
        QCOMPARE(degraded.count(), 1);
        QCOMPARE(degraded.at(0).at(0).toBool(), true);
        QVERIFY(degraded.at(0).at(1).toString().contains(QStringLiteral("locally")));
        int granted = 0;
        QElapsedTimer local;
        local.start();
        while (granted < 5) {
            limiter.acquire([&](const LimiterGrant &g) { granted += g.degraded ? 1 : 0; });
            const int before = granted;
            QTRY_VERIFY_WITH_TIMEOUT(granted > before, 5000);
        }
        // Five local grants at 4/s with one interval of catch-up take at least ~0.75 s.
        QVERIFY2(local.elapsed() >= 700, qPrintable(QString::number(local.elapsed())));

        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(redis->state() == RedisClient::State::Connected, 15'000);
        QTRY_VERIFY(!grant(limiter).degraded);
        QVERIFY(!limiter.degraded());
        QCOMPARE(degraded.count(), 2);
    }

    void theFallbackShareFollowsTheInstancesSeenAlive()
    {
        // No --instances-hint: two instances announce themselves, so each paces at half the
        // fallback share when Redis goes away; one of them gone, the other takes it all.
        auto redis = connect();
        LimiterOptions options; // fallbackShare 0.5
        const QByteArray presence = m_key + ":instances";
        SharedRateLimiter one(redis.get(), m_key, options);
        auto two = std::make_unique<SharedRateLimiter>(redis.get(), m_key, options);
        QCOMPARE(one.fleetSize(), 1);
        one.announcePresence(presence, QStringLiteral("one"), milliseconds { 100 });
        two->announcePresence(presence, QStringLiteral("two"), milliseconds { 100 });
        QTRY_COMPARE(one.fleetSize(), 2);
        QTRY_COMPARE(two->fleetSize(), 2);
        QCOMPARE(one.fallbackShare(), 0.25);
        two.reset(); // stops announcing: out of the count after three intervals
        QTRY_COMPARE(one.fleetSize(), 1);
        QCOMPARE(one.fallbackShare(), 0.5);

        SharedRateLimiter three(redis.get(), m_key, options);
        three.announcePresence(presence, QStringLiteral("three"), milliseconds { 100 });
        QTRY_COMPARE(one.fleetSize(), 2);
        QSignalSpy degraded(&one, &SharedRateLimiter::degradedChanged);
        m_server.kill();
        QTRY_VERIFY(grant(one).degraded);
        QVERIFY2(degraded.at(0).at(1).toString().contains(QStringLiteral("at 25% of the budget")),
                 qPrintable(degraded.at(0).at(1).toString()));
        QCOMPARE(one.fleetSize(), 2); // the last count seen, kept while Redis is away
        QVERIFY2(m_server.start(), qPrintable(m_server.errorString()));
        QTRY_VERIFY_WITH_TIMEOUT(redis->state() == RedisClient::State::Connected, 15'000);
    }

    /// The proof: four separate processes acquiring as fast as they can for 20 s
    /// against 10/s and 600/min never exceed 10 in any second, and use >= 95% of the safe rate.
    void fourProcessesShareOneBudget()
    {
        const QByteArray stream = m_key + ":audit";
        const qint64 durationMs = 20'000;
        const qint64 started = QDateTime::currentMSecsSinceEpoch();
        std::vector<std::unique_ptr<QProcess>> probes;
        for (int i = 0; i < 4; ++i) {
            auto p = std::make_unique<QProcess>();
            p->setProcessChannelMode(QProcess::ForwardedErrorChannel);
            p->start(QStringLiteral(LIMITER_PROBE),
                     { m_server.url(), QString::fromUtf8(m_key), QString::fromUtf8(stream),
                       QString::number(durationMs), QStringLiteral("probe-%1").arg(i) });
            QVERIFY(p->waitForStarted());
            probes.push_back(std::move(p));
        }
        for (auto &p : probes) {
            QTRY_VERIFY_WITH_TIMEOUT(p->state() == QProcess::NotRunning, durationMs + 30'000);
            QCOMPARE(p->exitCode(), 0);
            const QString out = QString::fromUtf8(p->readAllStandardOutput()).trimmed();
            QVERIFY2(out.endsWith(QStringLiteral(" 0 degraded")), qPrintable(out));
            qInfo("%s", qPrintable(out));
        }
        auto redis = connect();
        SendAudit audit(redis.get(), stream, QStringLiteral("reader"));
        std::optional<Result<AuditSummary, RedisError>> summary;
        audit.summarize(started, QDateTime::currentMSecsSinceEpoch(),
                        [&](Result<AuditSummary, RedisError> s) { summary.emplace(std::move(s)); });
        QTRY_VERIFY(summary.has_value());
        QVERIFY(summary->ok());
        const AuditSummary &s = summary->value();
        const double span = double(s.lastSentMs - s.firstSentMs) / 1000.0;
        qInfo("4 processes: %d sends in %.2f s (%.2f/s), worst 1 s window %d, worst 60 s window "
              "%d, per process %d/%d/%d/%d",
              s.requests, span, s.requests / span, s.worst1s, s.worst60s,
              s.byInstance.value(QStringLiteral("probe-0")),
              s.byInstance.value(QStringLiteral("probe-1")),
              s.byInstance.value(QStringLiteral("probe-2")),
              s.byInstance.value(QStringLiteral("probe-3")));
        QVERIFY(s.worst1s <= 10);
        QVERIFY(s.worst60s <= 600);
        for (int i = 0; i < 4; ++i)
            QVERIFY(s.byInstance.value(QStringLiteral("probe-%1").arg(i)) > 0);
        // The safe rate is 8/s; over the span the sends covered, they used at least 95% of it.
        QVERIFY2(s.requests >= 0.95 * 8.0 * span, qPrintable(QString::number(s.requests)));
        QVERIFY(span >= 19.0);
    }

private:
    std::unique_ptr<RedisClient> connect()
    {
        RedisOptions options;
        options.url = m_server.url();
        options.commandTimeout = milliseconds { 2000 };
        options.connectTimeout = milliseconds { 1000 };
        auto client = std::make_unique<RedisClient>(options);
        client->connectToServer();
        return client;
    }

    static LimiterGrant grant(SharedRateLimiter &limiter)
    {
        // An event loop rather than QTest::qWaitFor, which sleeps 10 ms between its checks.
        std::optional<LimiterGrant> g;
        QEventLoop loop;
        QTimer::singleShot(10'000, &loop, &QEventLoop::quit);
        limiter.tryAcquire([&](const LimiterGrant &r) {
            g = r;
            loop.quit();
        });
        if (!g)
            loop.exec();
        if (!g)
            qFatal("no limiter decision within 10 s");
        return *g;
    }

    RedisServer m_server;
    int m_round = 0;
    QByteArray m_key;
};

SLUICE_TEST_GUILESS_MAIN(TestSharedLimiter)
#include "tst_sharedlimiter.moc"
