// Benchmark (not part of the suite): shared-limiter decisions per second over one Redis
// connection, the latency one acquire adds, and the circuit breaker's cost per call.
// Prints a Markdown table. Run with `cmake --build --preset release --target bench`.
#include "breaker/circuitbreaker.h"
#include "limiter/gcra.h"
#include "limiter/sharedratelimiter.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTest>
#include <QTextStream>

#include <algorithm>
#include <vector>

using namespace sluice;

namespace {

double percentile(std::vector<double> values, double p)
{
    std::sort(values.begin(), values.end());
    return values.empty() ? 0 : values[size_t(p * double(values.size() - 1))];
}

} // namespace

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QTextStream out(stdout);
    test::RedisServer server;
    if (!server.start()) {
        QTextStream(stderr) << "bench: " << server.errorString() << "\n";
        return 1;
    }
    RedisOptions redisOptions;
    redisOptions.url = server.url();
    RedisClient redis(redisOptions);
    redis.connectToServer();
    LimiterOptions options;
    options.caps = { { 1'000'000, std::chrono::milliseconds { 1000 } } }; // never the bottleneck
    SharedRateLimiter limiter(&redis, "bench:limiter", options);

    // Throughput: decisions in flight together, pipelined on one connection.
    const int total = 50'000;
    int answered = 0;
    QElapsedTimer timer;
    timer.start();
    for (int i = 0; i < total; ++i)
        limiter.tryAcquire([&](const LimiterGrant &) { ++answered; });
    if (!QTest::qWaitFor([&] { return answered == total; }, 120'000))
        return 1;
    const double perSecond = total / (double(timer.nsecsElapsed()) / 1e9);

    // Latency: one decision at a time, as a dispatcher taking a slot before its request does.
    std::vector<double> latencyUs;
    // (A QEventLoop, not QTest::qWaitFor, which sleeps 10 ms between its checks.)
    for (int i = 0; i < 5000; ++i) {
        QEventLoop loop;
        QElapsedTimer one;
        one.start();
        limiter.tryAcquire([&](const LimiterGrant &) {
            latencyUs.push_back(double(one.nsecsElapsed()) / 1000.0);
            loop.quit();
        });
        loop.exec();
    }

    // The in-process model (what the fallback costs).
    Gcra gcra(pacedRules(options.caps, options.safetyFactor));
    timer.restart();
    int allowed = 0;
    for (int i = 0; i < 5'000'000; ++i)
        allowed += gcra.acquire(std::chrono::milliseconds { i }).allowed ? 1 : 0;
    const double gcraNs = double(timer.nsecsElapsed()) / 5e6;

    // The breaker's cost per call: allow() before and record() after, mostly successes with a
    // failure in ten (it stays closed at the default 50% threshold).
    CircuitBreaker breaker;
    timer.restart();
    const int calls = 2'000'000;
    int permitted = 0;
    for (int i = 0; i < calls; ++i) {
        const std::chrono::milliseconds now { 1'000'000 + i / 10 };
        const BreakerDecision d = breaker.allow(now);
        permitted += d.permitted ? 1 : 0;
        breaker.record(now, d.generation,
                       i % 10 == 0 ? BreakerOutcome::Failure : BreakerOutcome::Success,
                       std::chrono::milliseconds { 50 });
    }
    const double breakerNs = double(timer.nsecsElapsed()) / calls;

    out << "| measure | value |\n|---|---|\n";
    out << "| shared limiter decisions/s, one connection, pipelined | " << qRound(perSecond)
        << " |\n";
    out << "| added latency per acquire, p50 | "
        << QString::number(percentile(latencyUs, 0.5), 'f', 1) << " µs |\n";
    out << "| added latency per acquire, p99 | "
        << QString::number(percentile(latencyUs, 0.99), 'f', 1) << " µs |\n";
    out << "| in-process GCRA decision (fallback) | " << QString::number(gcraNs, 'f', 1) << " ns ("
        << allowed << " allowed) |\n";
    out << "| circuit breaker allow() + record() per call | " << QString::number(breakerNs, 'f', 1)
        << " ns (" << permitted << " permitted) |\n";
    out.flush();
    return 0;
}
