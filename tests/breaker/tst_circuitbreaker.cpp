// The circuit breaker's state machine as data tables. Each row is a script on a stepped clock;
// each script line is a few steps and the transitions they must produce, no more, no fewer:
//
//   ok fail slow timeout body 429 4xx   one call: allow() must permit it, then record()
//                                       (slow/timeout take slowCallDuration and 3× that)
//   ok*5                                the same call five times
//   allow  allow*3                      allow() must permit; the permit stays in flight
//   done:ok  done:fail*2                the oldest permits in flight come back with outcomes
//   deny  deny:5s                       allow() must refuse (and say to retry after 5 s)
//   +5s  +250ms  +2m                    the clock moves
//   update                              update(now)
//   forceopen:60s "why"  forceclosed:1m "why"  clear "why"
//   jitter:0.25                         the next random draw (default 0.5: no jitter)
//   roundtrip                           carry on with a breaker restored from saveState()
//   state:half_open  openings:2  metrics:10/5/0 (calls/failures/slow)   checks
//   =>open "part of the reason"         a transition this line must produce, in order
//
// After every line the runner also checks that transitions chain (from = the previous to) and
// that saveState() → restoreState() → saveState() is the identity.
#include "breaker/circuitbreaker.h"
#include "common/suite.h"

#include "breakerspec.h"
#include "core/clock.h"
#include "net/apitransport.h"

#include <QList>
#include <QRandomGenerator>
#include <QTest>

#include <deque>
#include <memory>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

/// Splits a script line into words; "quoted text" is one word (without the quotes).
QList<QByteArray> words(const QByteArray &line)
{
    QList<QByteArray> result;
    qsizetype i = 0;
    while (i < line.size()) {
        if (line.at(i) == ' ' || line.at(i) == '\t') {
            ++i;
        } else if (line.at(i) == '"') {
            const qsizetype end = line.indexOf('"', i + 1);
            result.append('"' + line.mid(i + 1, end < 0 ? -1 : end - i - 1));
            i = end < 0 ? line.size() : end + 1;
        } else {
            qsizetype end = i;
            while (end < line.size() && line.at(end) != ' ' && line.at(end) != '\t')
                ++end;
            result.append(line.mid(i, end - i));
            i = end;
        }
    }
    return result;
}

QString describeMetrics(const BreakerMetrics &m)
{
    return QStringLiteral("%1/%2/%3").arg(m.calls).arg(m.failures).arg(m.slowCalls);
}

/// Runs one script against a breaker on a ManualClock.
class Script
{
public:
    explicit Script(BreakerOptions options)
        : m_options(options)
    {
        m_breaker = makeBreaker();
    }

    /// nullopt when every line did what it says; else what went wrong, and where.
    std::optional<QString> run(const QByteArray &script)
    {
        int number = 0;
        for (const QByteArray &line : script.split('\n')) {
            ++number;
            if (line.trimmed().isEmpty())
                continue;
            if (std::optional<QString> problem = runLine(words(line)))
                return QStringLiteral("line %1 \"%2\": %3")
                    .arg(number)
                    .arg(QString::fromUtf8(line.trimmed()), *problem);
        }
        return std::nullopt;
    }

private:
    std::unique_ptr<CircuitBreaker> makeBreaker()
    {
        return std::make_unique<CircuitBreaker>(m_options, [this] {
            if (m_jitter.empty())
                return 0.5;
            const double next = m_jitter.front();
            m_jitter.pop_front();
            return next;
        });
    }

    milliseconds now() const { return m_clock.now(); }

    std::optional<QString> runLine(const QList<QByteArray> &line)
    {
        struct Expected
        {
            BreakerState to;
            QString reasonPart;
        };
        std::vector<Expected> expected;
        for (qsizetype i = 0; i < line.size(); ++i) {
            const QByteArray &word = line.at(i);
            const QString quoted = i + 1 < line.size() && line.at(i + 1).startsWith('"')
                ? QString::fromUtf8(line.at(i + 1).mid(1))
                : QString();
            if (word.startsWith("=>")) {
                const auto to = breakerStateFromName(QString::fromUtf8(word.mid(2)));
                if (!to)
                    return QStringLiteral("unknown state in %1").arg(QString::fromUtf8(word));
                expected.push_back({ *to, quoted });
                i += quoted.isEmpty() ? 0 : 1;
                continue;
            }
            if (word.startsWith("forceopen:") || word.startsWith("forceclosed:")) {
                const auto length = test::parseDuration(word.mid(word.indexOf(':') + 1));
                if (!length)
                    return QStringLiteral("bad duration in %1").arg(QString::fromUtf8(word));
                const auto problem = word.startsWith("forceopen:")
                    ? m_breaker->forceOpen(now(), quoted, now() + *length)
                    : m_breaker->forceClosed(now(), quoted, now() + *length);
                if (problem)
                    return QStringLiteral("forcing refused: ") + *problem;
                i += quoted.isEmpty() ? 0 : 1;
                continue;
            }
            if (word == "clear") {
                m_breaker->clearForce(now(), quoted);
                i += quoted.isEmpty() ? 0 : 1;
                continue;
            }
            if (std::optional<QString> problem = step(word))
                return QStringLiteral("at \"%1\": %2").arg(QString::fromUtf8(word), *problem);
        }

        const std::vector<BreakerTransition> seen = m_breaker->takeTransitions();
        QStringList seenText;
        for (const BreakerTransition &t : seen)
            seenText.append(t.describe());
        const QString seenList
            = seenText.isEmpty() ? QStringLiteral("none") : seenText.join(QStringLiteral(" | "));
        if (seen.size() != expected.size())
            return QStringLiteral("expected %1 transitions, got %2: %3")
                .arg(expected.size())
                .arg(seen.size())
                .arg(seenList);
        for (std::size_t k = 0; k < seen.size(); ++k) {
            const BreakerTransition &t = seen[k];
            if (t.to != expected[k].to || !t.reason.contains(expected[k].reasonPart))
                return QStringLiteral("expected -> %1 \"%2\", got: %3")
                    .arg(breakerStateName(expected[k].to), expected[k].reasonPart, seenList);
            if (t.from != m_lastState)
                return QStringLiteral("transition from %1, but the state was %2: %3")
                    .arg(breakerStateName(t.from), breakerStateName(m_lastState), seenList);
            if (t.at > now())
                return QStringLiteral("a transition in the future: %1").arg(t.describe());
            // A change of state starts a new generation; re-forcing the same state does not.
            const quint64 generation = m_lastGeneration + (t.from != t.to ? 1 : 0);
            if (t.generation != generation)
                return QStringLiteral("generation %1, expected %2: %3")
                    .arg(t.generation)
                    .arg(generation)
                    .arg(t.describe());
            m_lastState = t.to;
            m_lastGeneration = t.generation;
        }
        if (m_lastState != m_breaker->state() || m_lastGeneration != m_breaker->generation())
            return QStringLiteral("the transitions end in %1 but the breaker is %2")
                .arg(breakerStateName(m_lastState), breakerStateName(m_breaker->state()));

        // Whatever the state, it survives the trip through the flat map.
        const CircuitBreaker::Fields saved = m_breaker->saveState();
        CircuitBreaker copy(m_options);
        if (std::optional<QString> problem = copy.restoreState(saved))
            return QStringLiteral("restoreState refused its own state: ") + *problem;
        if (copy.saveState() != saved)
            return QStringLiteral("saveState after restoreState differs");
        return std::nullopt;
    }

    std::optional<QString> step(const QByteArray &word)
    {
        QByteArray name = word;
        int times = 1;
        if (const qsizetype star = word.indexOf('*'); star > 0) {
            name = word.left(star);
            times = word.mid(star + 1).toInt();
        }
        for (int n = 0; n < times; ++n) {
            if (std::optional<QString> problem = stepOnce(name))
                return problem;
        }
        return std::nullopt;
    }

    struct Call
    {
        CallOutcome outcome;
        milliseconds latency;
    };
    std::optional<Call> call(const QByteArray &name) const
    {
        const milliseconds fast { 100 };
        if (name == "ok")
            return Call { CallOutcome::Success, fast };
        if (name == "slow")
            return Call { CallOutcome::Success, m_options.slowCallDuration };
        if (name == "fail")
            return Call { CallOutcome::Transient, fast };
        if (name == "timeout")
            return Call { CallOutcome::Transient, 3 * m_options.slowCallDuration };
        if (name == "body")
            return Call { CallOutcome::ErrorInBody, fast };
        if (name == "429")
            return Call { CallOutcome::RateLimited, fast };
        if (name == "4xx")
            return Call { CallOutcome::Permanent, fast };
        return std::nullopt;
    }

    std::optional<QString> stepOnce(const QByteArray &word)
    {
        const qsizetype colon = word.indexOf(':');
        const QByteArray name = colon < 0 ? word : word.left(colon);
        const QByteArray arg = colon < 0 ? QByteArray() : word.mid(colon + 1);

        if (const std::optional<Call> c = call(name)) {
            const BreakerDecision decision = m_breaker->allow(now());
            if (!decision.permitted)
                return QStringLiteral("refused in %1").arg(breakerStateName(decision.state));
            m_breaker->record(now(), decision.generation, c->outcome, c->latency);
            return std::nullopt;
        }
        if (name.startsWith('+')) {
            const auto step = test::parseDuration(name.mid(1));
            if (!step)
                return QStringLiteral("bad duration");
            m_clock.advance(*step);
            return std::nullopt;
        }
        if (name == "allow") {
            const BreakerDecision decision = m_breaker->allow(now());
            if (!decision.permitted)
                return QStringLiteral("refused in %1").arg(breakerStateName(decision.state));
            m_inFlight.push_back(decision.generation);
            return std::nullopt;
        }
        if (name == "deny") {
            const BreakerDecision decision = m_breaker->allow(now());
            if (decision.permitted)
                return QStringLiteral("permitted in %1").arg(breakerStateName(decision.state));
            if (!arg.isEmpty() && test::parseDuration(arg) != decision.retryAfter)
                return QStringLiteral("retry after %1 ms").arg(decision.retryAfter.count());
            return std::nullopt;
        }
        if (name == "done") {
            const std::optional<Call> c = call(arg);
            if (!c || m_inFlight.empty())
                return QStringLiteral("no such outcome, or nothing in flight");
            m_breaker->record(now(), m_inFlight.front(), c->outcome, c->latency);
            m_inFlight.pop_front();
            return std::nullopt;
        }
        if (name == "update") {
            m_breaker->update(now());
            return std::nullopt;
        }
        if (name == "jitter") {
            m_jitter.push_back(arg.toDouble());
            return std::nullopt;
        }
        if (name == "roundtrip") {
            std::unique_ptr<CircuitBreaker> restored = makeBreaker();
            if (std::optional<QString> problem = restored->restoreState(m_breaker->saveState()))
                return problem;
            if (m_breaker->hasTransitions())
                return QStringLiteral(
                    "roundtrip with transitions pending (put it on its own line)");
            m_breaker = std::move(restored);
            return std::nullopt;
        }
        if (name == "state") {
            if (breakerStateName(m_breaker->state()) != QString::fromUtf8(arg))
                return QStringLiteral("the state is %1").arg(breakerStateName(m_breaker->state()));
            return std::nullopt;
        }
        if (name == "openings") {
            if (m_breaker->consecutiveOpenings() != arg.toInt())
                return QStringLiteral("openings are %1").arg(m_breaker->consecutiveOpenings());
            return std::nullopt;
        }
        if (name == "metrics") {
            const QString seen = describeMetrics(m_breaker->metrics(now()));
            if (seen != QString::fromUtf8(arg))
                return QStringLiteral("the metrics are %1").arg(seen);
            return std::nullopt;
        }
        return QStringLiteral("unknown step");
    }

    BreakerOptions m_options;
    ManualClock m_clock; // starts at 1 000 000 ms: second 1000 of a time window
    std::deque<double> m_jitter;
    std::unique_ptr<CircuitBreaker> m_breaker;
    std::deque<quint64> m_inFlight;
    BreakerState m_lastState = BreakerState::Closed;
    quint64 m_lastGeneration = 0;
};

} // namespace

class TestCircuitBreaker : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void machine_data();
    void machine()
    {
        QFETCH(QByteArray, options);
        QFETCH(QByteArray, script);
        const auto parsed = test::parseBreakerOptions(options);
        QVERIFY2(parsed.ok(), qPrintable(parsed.ok() ? QString() : parsed.error()));
        QCOMPARE(parsed->problem(), std::nullopt);
        Script runner(*parsed);
        if (const std::optional<QString> problem = runner.run(script))
            QFAIL(qPrintable(*problem));
    }

    void outcomeMapping_data()
    {
        QTest::addColumn<CallOutcome>("outcome");
        QTest::addColumn<BreakerOutcome>("expected");
        QTest::newRow("success") << CallOutcome::Success << BreakerOutcome::Success;
        QTest::newRow("5xx, timeout, connection: failure")
            << CallOutcome::Transient << BreakerOutcome::Failure;
        QTest::newRow("error in a 2xx body: failure")
            << CallOutcome::ErrorInBody << BreakerOutcome::Failure;
        QTest::newRow("429: the limiter's business")
            << CallOutcome::RateLimited << BreakerOutcome::Ignored;
        QTest::newRow("4xx: the lead's fault") << CallOutcome::Permanent << BreakerOutcome::Ignored;
    }
    void outcomeMapping()
    {
        QFETCH(CallOutcome, outcome);
        QFETCH(BreakerOutcome, expected);
        QCOMPARE(breakerOutcomeFor(outcome), expected);
    }

    void openWait_data()
    {
        QTest::addColumn<QByteArray>("options");
        QTest::addColumn<int>("opening");
        QTest::addColumn<double>("random");
        QTest::addColumn<qint64>("expectedMs");
        const QByteArray defaults; // 5 s ×2 up to 300 s, ±20%
        QTest::newRow("first opening, no jitter") << defaults << 1 << 0.5 << qint64(5000);
        QTest::newRow("second doubles") << defaults << 2 << 0.5 << qint64(10'000);
        QTest::newRow("sixth: 160 s") << defaults << 6 << 0.5 << qint64(160'000);
        QTest::newRow("seventh: 320 s capped at 300 s") << defaults << 7 << 0.5 << qint64(300'000);
        QTest::newRow("far past the cap") << defaults << 5000 << 0.5 << qint64(300'000);
        QTest::newRow("opening 0 counts as the first") << defaults << 0 << 0.5 << qint64(5000);
        QTest::newRow("jitter low edge: -20%") << defaults << 1 << 0.0 << qint64(4000);
        QTest::newRow("jitter high edge: just under +20%")
            << defaults << 1 << 0.99999 << qint64(6000);
        QTest::newRow("jitter quarter: -10%") << defaults << 2 << 0.25 << qint64(9000);
        QTest::newRow("jitter at the cap goes down") << defaults << 9 << 0.0 << qint64(240'000);
        QTest::newRow("jitter at the cap never goes up") << defaults << 9 << 0.9 << qint64(300'000);
        QTest::newRow("a random above 1 is clamped") << defaults << 1 << 7.0 << qint64(6000);
        QTest::newRow("a NaN random means no jitter")
            << defaults << 1 << std::numeric_limits<double>::quiet_NaN() << qint64(5000);
        QTest::newRow("multiplier 1: constant")
            << QByteArray("mult:1 jitter:0") << 40 << 0.9 << qint64(5000);
        QTest::newRow("multiplier 1.5")
            << QByteArray("mult:1.5 jitter:0") << 3 << 0.9 << qint64(11'250);
        QTest::newRow("tiny base never 0 ms")
            << QByteArray("base:1ms cap:1ms jitter:0.9") << 1 << 0.0 << qint64(1);
    }
    void openWait()
    {
        QFETCH(QByteArray, options);
        QFETCH(int, opening);
        QFETCH(double, random);
        QFETCH(qint64, expectedMs);
        const auto parsed = test::parseBreakerOptions(options);
        QVERIFY(parsed.ok());
        QCOMPARE(breakerOpenWait(*parsed, opening, random).count(), expectedMs);
    }

    /// Property: for any draw in [0, 1), the wait is within ±jitter of the grown wait and never
    /// above the cap.
    void openWaitBounds()
    {
        const BreakerOptions options;
        QRandomGenerator random(42);
        for (int opening = 1; opening <= 12; ++opening) {
            const double grown = std::min(
                300'000.0, 5000.0 * std::pow(options.openWaitMultiplier, double(opening - 1)));
            for (int draw = 0; draw < 500; ++draw) {
                const qint64 wait
                    = breakerOpenWait(options, opening, random.generateDouble()).count();
                QVERIFY(wait >= qint64(std::floor(grown * 0.8)));
                QVERIFY(wait <= qint64(std::ceil(std::min(300'000.0, grown * 1.2))));
            }
        }
    }

    void defaultRandomStaysInBounds()
    {
        CircuitBreaker breaker(BreakerOptions {}); // QRandomGenerator::global()
        milliseconds now { 0 };
        for (int i = 0; i < 10; ++i) {
            const BreakerDecision d = breaker.allow(now);
            breaker.record(now, d.generation, BreakerOutcome::Failure, milliseconds { 5 });
        }
        QCOMPARE(breaker.state(), BreakerState::Open);
        QVERIFY(breaker.openUntil().has_value());
        QVERIFY(*breaker.openUntil() >= milliseconds { 4000 });
        QVERIFY(*breaker.openUntil() <= milliseconds { 6000 });
    }

    void forcingNeedsAReasonAndAFutureExpiry()
    {
        CircuitBreaker breaker;
        const milliseconds now { 1000 };
        const auto blank = breaker.forceOpen(now, QStringLiteral("  "), now + milliseconds { 1 });
        QVERIFY(blank && blank->contains(QStringLiteral("needs a reason")));
        const auto past
            = breaker.forceClosed(now, QStringLiteral("x"), now - milliseconds { 2000 });
        QVERIFY(past
                && past->contains(QStringLiteral("must end after now (it would end 2 s ago)")));
        const auto atNow = breaker.forceOpen(now, QStringLiteral("x"), now);
        QVERIFY(atNow.has_value());
        QCOMPARE(breaker.state(), BreakerState::Closed);
        QVERIFY(!breaker.hasTransitions());
        QVERIFY(!breaker.isForced());
    }

    void forceIsVisible()
    {
        CircuitBreaker breaker;
        const milliseconds now { 1000 };
        QCOMPARE(breaker.forceOpen(now, QStringLiteral("Instantly maintenance"),
                                   now + milliseconds { 60'000 }),
                 std::nullopt);
        QCOMPARE(breaker.state(), BreakerState::ForcedOpen);
        QVERIFY(isOpenState(breaker.state()));
        QVERIFY(breaker.isForced());
        QCOMPARE(breaker.force()->reason, QStringLiteral("Instantly maintenance"));
        QCOMPARE(breaker.force()->since, now);
        QCOMPARE(breaker.force()->until, milliseconds { 61'000 });
        const auto transitions = breaker.takeTransitions();
        QCOMPARE(transitions.size(), std::size_t(1));
        QCOMPARE(
            transitions[0].describe(),
            QStringLiteral("closed -> forced_open: forced open for 60 s: Instantly maintenance"));
        QCOMPARE(transitions[0].at, now);
        QCOMPARE(transitions[0].generation, quint64(1));
        QVERIFY(breaker.takeTransitions().empty());
    }

    void savedFields()
    {
        // The stored form, field by field: what the Redis hash will hold.
        CircuitBreaker breaker(BreakerOptions {}, [] { return 0.5; });
        milliseconds now { 1'000'000 };
        for (int i = 0; i < 10; ++i) {
            const BreakerDecision d = breaker.allow(now);
            breaker.record(now, d.generation, i < 5 ? CallOutcome::Success : CallOutcome::Transient,
                           milliseconds { 100 });
        }
        now += milliseconds { 5000 };
        const BreakerDecision trial = breaker.allow(now);
        breaker.record(now, trial.generation, CallOutcome::Transient, milliseconds { 20'000 });
        QCOMPARE(breaker.allow(now).permitted, true);
        const CircuitBreaker::Fields expected {
            { "format", "1" },           { "state", "half_open" },
            { "generation", "2" },       { "since_ms", "1005000" },
            { "openings", "1" },         { "open_until_ms", "0" },
            { "force_reason", "" },      { "force_since_ms", "0" },
            { "force_until_ms", "0" },   { "trial_permits", "2" },
            { "trial_calls", "1" },      { "trial_failures", "1" },
            { "trial_slow_calls", "1" }, { "trial_last_permit_ms", "1005000" },
            { "window_type", "count" },  { "window", "" },
        };
        QCOMPARE(breaker.saveState(), expected);
    }

    void restoreRejects_data()
    {
        QTest::addColumn<QByteArray>("field");
        QTest::addColumn<QByteArray>("value"); ///< "<absent>" removes the field
        QTest::addColumn<QString>("expected");
        QTest::newRow("no format") << QByteArray("format") << QByteArray("<absent>")
                                   << QStringLiteral("format \"\", expected \"1\"");
        QTest::newRow("future format") << QByteArray("format") << QByteArray("2")
                                       << QStringLiteral("format \"2\", expected \"1\"");
        QTest::newRow("unknown state") << QByteArray("state") << QByteArray("ajar")
                                       << QStringLiteral("state \"ajar\" is unknown");
        QTest::newRow("no state") << QByteArray("state") << QByteArray("<absent>")
                                  << QStringLiteral("state \"\" is unknown");
        QTest::newRow("generation not a number")
            << QByteArray("generation") << QByteArray("x")
            << QStringLiteral("field \"generation\" is not a number: \"x\"");
        QTest::newRow("negative generation")
            << QByteArray("generation") << QByteArray("-1")
            << QStringLiteral("field \"generation\" is not a number");
        QTest::newRow("time not a number") << QByteArray("since_ms") << QByteArray("soon")
                                           << QStringLiteral("field \"since_ms\" is not a number");
        QTest::newRow("openings beyond int")
            << QByteArray("openings") << QByteArray("4294967296")
            << QStringLiteral("field \"openings\" is not a number");
        QTest::newRow("negative openings")
            << QByteArray("openings") << QByteArray("-1")
            << QStringLiteral("counters are inconsistent (openings -1");
        QTest::newRow("more trial failures than trials")
            << QByteArray("trial_failures") << QByteArray("2")
            << QStringLiteral("counters are inconsistent");
        QTest::newRow("more slow trials than trials")
            << QByteArray("trial_slow_calls") << QByteArray("5")
            << QStringLiteral("counters are inconsistent");
        QTest::newRow("forced without a reason")
            << QByteArray("state") << QByteArray("forced_closed")
            << QStringLiteral("stored as forced_closed without a reason and an expiry");
        QTest::newRow("bad window")
            << QByteArray("window") << QByteArray("..?") << QStringLiteral("unknown call '?' at 2");
    }
    void restoreRejects()
    {
        QFETCH(QByteArray, field);
        QFETCH(QByteArray, value);
        QFETCH(QString, expected);
        // A breaker in a half-open trial and one closed with a window, as a source of fields.
        CircuitBreaker source(BreakerOptions {}, [] { return 0.5; });
        milliseconds now { 1'000'000 };
        for (int i = 0; i < 3; ++i) {
            const BreakerDecision d = source.allow(now);
            source.record(now, d.generation, CallOutcome::Transient, milliseconds { 1 });
        }
        CircuitBreaker::Fields fields = source.saveState();
        fields.insert("trial_calls", "1");
        if (value == "<absent>")
            fields.remove(field);
        else
            fields.insert(field, value);

        CircuitBreaker target(BreakerOptions {}, [] { return 0.5; });
        QCOMPARE(target.forceClosed(now, QStringLiteral("before"), now + milliseconds { 1000 }),
                 std::nullopt);
        const CircuitBreaker::Fields before = target.saveState();
        const std::optional<QString> problem = target.restoreState(fields);
        QVERIFY(problem.has_value());
        QVERIFY2(problem->contains(expected), qPrintable(*problem));
        QCOMPARE(target.saveState(), before);
    }

    void restoreWithOtherOptions_data()
    {
        QTest::addColumn<QByteArray>("saveOptions");
        QTest::addColumn<QByteArray>("restoreOptions");
        QTest::addColumn<QByteArray>("window"); ///< after restoring
        QTest::newRow("same") << QByteArray("count:20") << QByteArray("count:20")
                              << QByteArray("xxxx.....");
        QTest::newRow("smaller count window keeps the newest")
            << QByteArray("count:20") << QByteArray("count:5 min:5") << QByteArray(".....");
        QTest::newRow("count into time starts empty")
            << QByteArray("count:20") << QByteArray("time:60s") << QByteArray();
        QTest::newRow("time into count starts empty")
            << QByteArray("time:60s") << QByteArray("count:20") << QByteArray();
        QTest::newRow("time into a shorter time window")
            << QByteArray("time:60s") << QByteArray("time:5s") << QByteArray("1000:9:4:0");
    }
    void restoreWithOtherOptions()
    {
        QFETCH(QByteArray, saveOptions);
        QFETCH(QByteArray, restoreOptions);
        QFETCH(QByteArray, window);
        const auto saveWith = test::parseBreakerOptions(saveOptions);
        const auto restoreWith = test::parseBreakerOptions(restoreOptions);
        QVERIFY(saveWith.ok() && restoreWith.ok());
        CircuitBreaker source(*saveWith);
        const milliseconds now { 1'000'000 };
        for (int i = 0; i < 9; ++i) {
            const BreakerDecision d = source.allow(now);
            source.record(now, d.generation, i < 4 ? CallOutcome::Transient : CallOutcome::Success,
                          milliseconds { 1 });
        }
        QCOMPARE(source.state(), BreakerState::Closed);
        CircuitBreaker target(*restoreWith);
        QCOMPARE(target.restoreState(source.saveState()), std::nullopt);
        QCOMPARE(target.saveState().value("window"), window);
        QCOMPARE(target.saveState().value("generation"), source.saveState().value("generation"));
    }
};

void TestCircuitBreaker::machine_data()
{
    QTest::addColumn<QByteArray>("options");
    QTest::addColumn<QByteArray>("script");
    const auto row = [](const char *name, const char *options, const char *script) {
        QTest::newRow(name) << QByteArray(options) << QByteArray(script);
    };

    // --- CLOSED: judging the window -------------------------------------------------------
    row("stays closed under the minimum number of calls", "count:20 min:10", R"--(
        fail*9                    state:closed metrics:9/9/0 openings:0
        fail                      =>open "failure rate 100% >= 50% over 10 calls; open 5 s (opening 1)"
        state:open openings:1 metrics:0/0/0
    )--");
    row("opens at exactly the failure threshold", "count:10 min:10", R"--(
        ok*5 fail*4               state:closed metrics:9/4/0
        fail                      =>open "failure rate 50% >= 50% over 10 calls"
        deny:5s
    )--");
    row("just under the threshold stays closed", "count:10 min:10", R"--(
        ok*6 fail*4               state:closed metrics:10/4/0
        ok*100                    state:closed metrics:10/0/0
    )--");
    row("the threshold is a share of the window, not a count", "count:20 min:10 fail:25", R"--(
        ok*15 fail*4              state:closed metrics:19/4/0
        fail                      =>open "failure rate 25% >= 25% over 20 calls"
    )--");
    row("a count window slides: the oldest call leaves", "count:4 min:4", R"--(
        fail ok ok ok             metrics:4/1/0
        ok                        metrics:4/0/0
        fail                      metrics:4/1/0 state:closed
        fail                      =>open "failure rate 50% >= 50% over 4 calls"
    )--");
    row("fractional rates in the reason", "count:3 min:3 fail:60", R"--(
        fail ok                   state:closed
        fail                      =>open "failure rate 66.7% >= 60% over 3 calls"
    )--");
    row("slow successes open it", "count:10 min:10 slowcall:2s", R"--(
        slow*7 ok*2               state:closed metrics:9/0/7
        slow                      =>open "slow-call rate 80% >= 80% over 10 calls; open 5 s"
    )--");
    row("just under the slow-call threshold stays closed", "count:10 min:10", R"--(
        slow*7 ok*3               state:closed metrics:10/0/7
    )--");
    row("slow failures count in both rates", "count:10 min:10 slow:50", R"--(
        timeout*5 ok*4            state:closed metrics:9/5/5
        timeout                   =>open "failure rate 60% >= 50% and slow-call rate 60% >= 50% over 10 calls"
    )--");
    row("429s never open it", "count:10 min:5", R"--(
        429*50                    state:closed metrics:0/0/0
        fail*4 429*20             state:closed metrics:4/4/0
        fail                      =>open "failure rate 100% >= 50% over 5 calls"
    )--");
    row("4xx never open it: the lead's fault", "count:10 min:5", R"--(
        4xx*50                    state:closed metrics:0/0/0
        ok*4 4xx*10               state:closed metrics:4/0/0
    )--");
    row("an error in a 2xx body is a failure", "count:10 min:10", R"--(
        body*5 ok*4               state:closed metrics:9/5/0
        body                      =>open "failure rate 60% >= 50% over 10 calls"
    )--");

    // --- time-based window ------------------------------------------------------------------
    row("time window forgets old failures as time steps", "time:10s min:5", R"--(
        fail*4                    metrics:4/4/0
        +9999ms                   metrics:4/4/0
        +1ms                      metrics:0/0/0
        ok*4 fail                 state:closed metrics:5/1/0
    )--");
    row("time window opens on failures spread inside it", "time:10s min:4", R"--(
        fail +3s fail +3s fail +3s metrics:3/3/0
        fail                      =>open "failure rate 100% >= 50% over 4 calls in the last 10 s"
    )--");
    row("time window: the same failures spread wider do not", "time:10s min:4", R"--(
        fail +4s fail +4s fail +4s metrics:2/2/0
        fail                      metrics:3/3/0 state:closed
    )--");
    row("time window reuses its one-second slots", "time:3s min:4", R"--(
        fail +1s fail +1s ok +1s ok metrics:3/1/0
        ok                        metrics:4/1/0
        +2s fail                  metrics:3/1/0
        fail                      =>open "failure rate 50% >= 50% over 4 calls in the last 3 s"
    )--");
    row("time window: 429s and 4xx are not calls", "time:60s min:3", R"--(
        429*100 fail*2 4xx*30     metrics:2/2/0 state:closed
        +59s ok                   =>open "failure rate 66.7% >= 50% over 3 calls"
    )--");

    // --- OPEN -> HALF_OPEN ------------------------------------------------------------------
    row("open refuses until the wait is over, then half-open", "count:4 min:4", R"--(
        fail*4                    =>open "open 5 s (opening 1)"
        deny:5s +4999ms deny:1ms  state:open
        +1ms allow                =>half_open "open wait of 5 s over; 3 trial calls"
        state:half_open metrics:0/0/0
    )--");
    row("update() moves open to half-open without a call", "count:4 min:4", R"--(
        fail*4                    =>open
        +4999ms update            state:open
        +1ms update               =>half_open
    )--");

    // --- HALF_OPEN --------------------------------------------------------------------------
    row("half-open: trials pass, it closes and the growth starts over", "count:4 min:4", R"--(
        fail*4                    =>open "open 5 s (opening 1)"
        +5s ok*2                  =>half_open metrics:2/0/0 state:half_open
        ok                        =>closed "trials passed: failure rate 0% < 50%, slow-call rate 0% < 80% over 3 trial calls"
        openings:0 metrics:0/0/0
        fail*4                    =>open "open 5 s (opening 1)"
    )--");
    row("half-open: one failure in three still closes", "count:4 min:4", R"--(
        fail*4                    =>open
        +5s fail ok ok            =>half_open =>closed "failure rate 33.3% < 50%"
    )--");
    row("half-open: failing trials reopen for longer", "count:4 min:4", R"--(
        fail*4                    =>open "open 5 s (opening 1)"
        +5s fail*2                =>half_open state:half_open metrics:2/2/0
        ok                        =>open "trials failed: failure rate 66.7% >= 50%, slow-call rate 0% < 80% over 3 trial calls; open 10 s (opening 2)"
        deny:10s +9999ms deny:1ms
        +1ms fail*3               =>half_open =>open "open 20 s (opening 3)"
        +20s ok*3                 =>half_open =>closed
        fail*4                    =>open "open 5 s (opening 1)"
    )--");
    row("half-open: slow trials reopen", "count:4 min:4 slowcall:1s", R"--(
        fail*4                    =>open
        +5s slow*3                =>half_open =>open "slow-call rate 100% >= 80% over 3 trial calls; open 10 s"
    )--");
    row("growth doubles up to the cap", "count:1 min:1 trials:1 base:1s cap:5s", R"--(
        fail                      =>open "open 1 s (opening 1)"
        +1s fail                  =>half_open =>open "open 2 s (opening 2)"
        +2s fail                  =>half_open =>open "open 4 s (opening 3)"
        +4s fail                  =>half_open =>open "open 5 s (opening 4)"
        +5s fail                  =>half_open =>open "open 5 s (opening 5)"
        openings:5
        +5s ok                    =>half_open =>closed
        fail                      =>open "open 1 s (opening 1)"
    )--");
    row("jitter spreads each wait within 20% either way", "count:1 min:1 trials:1 base:10s", R"--(
        jitter:0 fail             =>open "open 8 s (opening 1)"
        deny:8s +8s jitter:0.75 fail =>half_open =>open "open 22 s (opening 2)"
        +22s jitter:0.25 fail     =>half_open =>open "open 36 s (opening 3)"
        +35999ms deny:1ms
    )--");
    row("jitter never pushes a wait past the cap", "count:1 min:1 trials:1 base:10s cap:10s", R"--(
        jitter:0.999 fail         =>open "open 10 s (opening 1)"
        +10s jitter:0 fail        =>half_open =>open "open 8 s (opening 2)"
    )--");
    row("half-open permits only its trials", "count:4 min:4 trials:3", R"--(
        fail*4                    =>open
        +5s allow*3               =>half_open
        deny:1s deny:1s           state:half_open
        done:ok done:ok           state:half_open metrics:2/0/0
        deny
        done:ok                   =>closed
        allow*10
    )--");
    row("a 429 or a 4xx in a trial gives its permit back", "count:4 min:4", R"--(
        fail*4                    =>open
        +5s allow*3               =>half_open
        deny
        done:429 allow deny       metrics:0/0/0
        done:4xx allow deny
        done:ok*3                 =>closed
    )--");
    row("lost trials are handed out again after the trial timeout",
        "count:4 min:4 trialtimeout:30s", R"--(
        fail*4                    =>open
        +5s allow*3               =>half_open
        +29s deny:1s +999ms deny:1ms
        +1ms allow*3 deny         state:half_open
        done:ok*3                 =>closed
    )--");
    row("a lost trial answering late still counts", "count:4 min:4 trials:2 trialtimeout:10s", R"--(
        fail*4                    =>open
        +5s allow*2               =>half_open
        +10s allow*2 deny
        done:fail                 metrics:1/1/0
        done:fail                 =>open "over 2 trial calls; open 10 s (opening 2)"
    )--");
    row("outcomes from before a transition are dropped", "count:4 min:4", R"--(
        allow*2
        fail*4                    =>open
        +5s allow                 =>half_open
        done:fail*2               state:half_open metrics:0/0/0
        done:ok ok*2              =>closed
    )--");
    row("a late trial answer after closing is dropped", "count:4 min:4 trials:1 trialtimeout:10s",
        R"--(
        fail*4                    =>open
        +5s allow                 =>half_open
        +10s allow
        done:ok                   =>closed
        done:fail                 state:closed metrics:0/0/0
    )--");

    // --- forced states ----------------------------------------------------------------------
    row("forced open refuses until it expires, then probes", "", R"--(
        ok*3
        forceopen:60s "Instantly maintenance" =>forced_open "forced open for 60 s: Instantly maintenance"
        deny:60s +59999ms deny:1ms state:forced_open
        +1ms allow                =>half_open "force expired: Instantly maintenance; 3 trial calls"
        done:ok ok*2              =>closed
    )--");
    row("forced open over an open breaker keeps the opening count", "count:4 min:4", R"--(
        fail*4                    =>open "opening 1"
        forceopen:10m "hold it"   =>forced_open
        +5s deny:595s             state:forced_open openings:1
        clear "fixed upstream"    =>half_open "force cleared: fixed upstream; 3 trial calls"
        fail*3                    =>open "open 10 s (opening 2)"
    )--");
    row("forced closed lets failures through, judged when it ends", "count:4 min:4", R"--(
        forceclosed:1m "false alarm" =>forced_closed "forced closed for 60 s: false alarm"
        fail*10                   state:forced_closed metrics:4/4/0
        +1m update                =>closed "force expired: false alarm" =>open "failure rate 100% >= 50% over 4 calls; open 5 s (opening 1)"
    )--");
    row("forced closed over an open breaker ends closed when calls were fine", "count:4 min:4",
        R"--(
        fail*4                    =>open
        forceclosed:30s "override" =>forced_closed metrics:0/0/0
        ok*5 429*3                metrics:4/0/0
        +30s allow                =>closed "force expired: override" state:closed openings:0 metrics:4/0/0
    )--");
    row("re-forcing replaces the reason and the expiry", "", R"--(
        forceopen:1m "a"          =>forced_open "forced open for 60 s: a"
        +30s forceopen:2m "b"     =>forced_open "forced open for 120 s: b"
        +60s deny:60s
        forceclosed:1m "c"        =>forced_closed "forced closed for 60 s: c"
        ok
        +1m update                =>closed "force expired: c"
        clear "nothing to clear"
    )--");
    row("an expired force is logged before the next one", "", R"--(
        forceclosed:10s "first"   =>forced_closed
        +20s forceopen:10s "second" =>closed "force expired: first" =>forced_open "second"
    )--");
    row("half-open trials in flight are dropped by a force", "count:4 min:4", R"--(
        fail*4                    =>open
        +5s allow*2               =>half_open
        forceclosed:1m "ops"      =>forced_closed
        done:fail*2               metrics:0/0/0
    )--");

    // --- serialisation mid-state ------------------------------------------------------------
    row("round trip: closed with a partial count window", "count:10 min:10", R"--(
        ok*3 fail*5
        roundtrip                 metrics:8/5/0 state:closed
        ok fail                   =>open "failure rate 60% >= 50% over 10 calls"
    )--");
    row("round trip: a time window keeps its seconds", "time:10s min:5", R"--(
        fail +1s fail +1s ok +1s ok
        roundtrip                 metrics:4/2/0
        +7s                       metrics:3/1/0
        fail                      metrics:4/2/0
        fail                      =>open "failure rate 60% >= 50% over 5 calls in the last 10 s"
    )--");
    row("round trip: open keeps its wait", "count:4 min:4", R"--(
        fail*4                    =>open "open 5 s"
        +2s
        roundtrip                 state:open openings:1 deny:3s
        +3s allow                 =>half_open
    )--");
    row("round trip: half-open keeps its trials and permits", "count:4 min:4", R"--(
        fail*4                    =>open
        +5s allow*2 ok            =>half_open
        roundtrip                 state:half_open metrics:1/0/0
        deny
        done:ok                   metrics:2/0/0
        done:ok                   =>closed
    )--");
    row("round trip: forced open keeps reason and expiry", "", R"--(
        forceopen:1m "maintenance" =>forced_open
        roundtrip                 state:forced_open deny:60s
        +1m allow                 =>half_open "force expired: maintenance"
    )--");
    row("round trip: forced closed keeps what it measured", "count:4 min:4", R"--(
        forceclosed:1m "override" =>forced_closed
        fail*3 ok
        roundtrip                 state:forced_closed metrics:4/3/0
        +1m update                =>closed "force expired: override" =>open "failure rate 75% >= 50% over 4 calls"
    )--");
}

SLUICE_TEST_APPLESS_MAIN(TestCircuitBreaker)
#include "tst_circuitbreaker.moc"
