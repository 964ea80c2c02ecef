// The alert rules on stepped readings and a stepped clock: which conditions hold, their
// severities and figures, the windows (dead letters growing, failures lasting, silence inside
// the watched hours), and the event's JSON as receivers get it.
#include "alerts/alertrules.h"
#include "common/suite.h"

#include <QTest>

using namespace sluice;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// Monday 2026-12-07 10:00 UTC.
const qint64 kMonday10 = QDateTime(QDate(2026, 12, 7), QTime(10, 0), Qt::UTC).toMSecsSinceEpoch();

AlertOptions utcOptions()
{
    AlertOptions o;
    o.hours.zone = QTimeZone::utc();
    return o;
}

std::vector<AlertKind> kinds(const std::vector<AlertCondition> &conditions)
{
    std::vector<AlertKind> out;
    for (const AlertCondition &c : conditions)
        out.push_back(c.kind);
    return out;
}

const AlertCondition *find(const std::vector<AlertCondition> &conditions, AlertKind kind)
{
    for (const AlertCondition &c : conditions)
        if (c.kind == kind)
            return &c;
    return nullptr;
}

AlertReading quiet()
{
    AlertReading r;
    r.delivering = true;
    r.fleetKnown = true;
    r.forecastKnown = true;
    return r;
}

} // namespace

class TestAlertRules : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void aQuietFleetHasNoAlerts()
    {
        AlertRules rules(utcOptions(), kMonday10);
        QVERIFY(rules.evaluate(kMonday10 + 1000, quiet()).empty());
    }

    void breakerOpenIsCriticalUntilItCloses()
    {
        AlertRules rules(utcOptions(), kMonday10);
        AlertReading r = quiet();
        r.breakerOpen = true;
        r.breakerState = QStringLiteral("open");
        auto out = rules.evaluate(kMonday10, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::BreakerOpen });
        QCOMPARE(out[0].severity, AlertSeverity::Critical);
        QVERIFY(out[0].detail["breaker"] == "open");
        // Not while nothing delivers here: the breaker figure is then not this instance's.
        r.delivering = false;
        QVERIFY(rules.evaluate(kMonday10, r).empty());
    }

    void aPauseByHandWarnsAndASelfMadeOneIsCritical()
    {
        AlertRules rules(utcOptions(), kMonday10);
        AlertReading r = quiet();
        r.pausedReason = QStringLiteral("maintenance");
        r.pauseCause = QStringLiteral("operator");
        auto out = rules.evaluate(kMonday10, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::DispatchPaused });
        QCOMPARE(out[0].severity, AlertSeverity::Warning);
        QVERIFY(out[0].summary.contains(QLatin1String("maintenance")));
        r.pauseCause = QStringLiteral("plan_exhausted");
        out = rules.evaluate(kMonday10, r);
        QCOMPARE(out[0].severity, AlertSeverity::Critical);
        QVERIFY(out[0].detail["cause"] == "plan_exhausted");
    }

    void deadLettersFireAtTheThresholdWithinTheWindow()
    {
        AlertOptions o = utcOptions();
        o.deadLettersGrowth = 5;
        AlertRules rules(o, kMonday10);
        AlertReading r = quiet();
        // Not read (Redis away): nothing to say.
        QVERIFY(rules.evaluate(kMonday10, r).empty());
        // 4 within the window: under the threshold.
        r.recentDeadLetters
            = std::vector<std::pair<QString, qint64>> { { QStringLiteral("no_usable_email"), 2 },
                                                        { QStringLiteral("invalid_email"), 2 } };
        QVERIFY(rules.evaluate(kMonday10, r).empty());
        // The fifth: fires, with the count per reason.
        r.recentDeadLetters->front().second = 3;
        auto out = rules.evaluate(kMonday10, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::DeadLetters });
        QVERIFY(out[0].detail["grew_by"] == 5);
        QVERIFY(out[0].detail["by_reason"]["no_usable_email"] == 3);
        QVERIFY(out[0].detail["by_reason"]["invalid_email"] == 2);
        QVERIFY(out[0].detail["at_least"] == false);
        QVERIFY(out[0].summary.startsWith(QLatin1String("5 lead(s)")));
        // A capped read says "at least".
        r.recentDeadLettersCapped = true;
        out = rules.evaluate(kMonday10, r);
        QVERIFY(out[0].summary.startsWith(QLatin1String("at least 5")));
        // They leave the window (or are retried): the alert clears.
        r.recentDeadLetters->clear();
        QVERIFY(rules.evaluate(kMonday10, r).empty());
    }

    void parkedLeadsNameTheirCampaigns()
    {
        AlertRules rules(utcOptions(), kMonday10);
        AlertReading r = quiet();
        r.parked = { { QStringLiteral("Spring Promo"), 12 }, { QStringLiteral("Q3"), 1 } };
        auto out = rules.evaluate(kMonday10, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::CampaignMissing });
        QVERIFY(out[0].detail["parked_leads"] == 13);
        QVERIFY(out[0].detail["campaigns"]["Spring Promo"] == 12);
        QVERIFY(out[0].summary.contains(QLatin1String("\"Spring Promo\"")));
    }

    void drainSlowComparesTheForecastWithTheLimit()
    {
        AlertOptions o = utcOptions();
        o.drainWithin = minutes { 30 };
        AlertRules rules(o, kMonday10);
        AlertReading r = quiet();
        r.backlog = 12'000;
        r.drainPerSecond = 10;
        r.timeToDrainMs = 1'200'000; // 20 min
        QVERIFY(rules.evaluate(kMonday10, r).empty());
        r.timeToDrainMs = 2'400'000; // 40 min
        auto out = rules.evaluate(kMonday10, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::DrainSlow });
        QVERIFY(out[0].detail["backlog"] == 12'000);
        // Nothing drains it at all: also too slow.
        r.timeToDrainMs.reset();
        QVERIFY(find(rules.evaluate(kMonday10, r), AlertKind::DrainSlow));
        // A pause stops the drain and has its own alert: no drain_slow beside it.
        r.pausedReason = QStringLiteral("maintenance");
        r.pauseCause = QStringLiteral("operator");
        QCOMPARE(kinds(rules.evaluate(kMonday10, r)),
                 std::vector<AlertKind> { AlertKind::DispatchPaused });
        // No backlog, nothing to drain.
        r.pausedReason.reset();
        r.backlog = 0;
        QVERIFY(rules.evaluate(kMonday10, r).empty());
    }

    void unexplained429sFireAtTheThreshold()
    {
        AlertOptions o = utcOptions();
        o.rateLimited429 = 3;
        AlertRules rules(o, kMonday10);
        AlertReading r = quiet();
        r.unexplained429 = 2;
        QVERIFY(rules.evaluate(kMonday10, r).empty());
        r.unexplained429 = 3;
        auto out = rules.evaluate(kMonday10, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::RateLimited });
        QVERIFY(out[0].detail["unexplained_429"] == 3);
        QVERIFY(out[0].summary.contains(QLatin1String("another key or tool")));
    }

    void intakeFailingNeedsAStreakAsLongAsTheThreshold()
    {
        AlertOptions o = utcOptions();
        o.intakeFailingFor = minutes { 5 };
        AlertRules rules(o, kMonday10);
        AlertReading r = quiet();
        r.listening = true;
        qint64 t = kMonday10;
        QVERIFY(rules.evaluate(t, r).empty()); // the baseline
        // A failure every 30 s for 4.5 minutes: not yet.
        for (int i = 1; i <= 9; ++i) {
            r.intakeBadSignature = i;
            t += 30'000;
            QVERIFY2(rules.evaluate(t, r).empty(), qPrintable(QString::number(i)));
        }
        r.intakeUnavailable = 1;
        t += 30'000; // the streak began at the first failure, 4.5 min ago: still not 5
        QVERIFY(rules.evaluate(t, r).empty());
        r.intakeUnavailable = 2;
        t += 30'000;
        auto out = rules.evaluate(t, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::IntakeFailing });
        QCOMPARE(out[0].severity, AlertSeverity::Critical);
        QVERIFY(out[0].summary.contains(QLatin1String("3 days")));
        QVERIFY(out[0].detail["bad_signature"] == 9);
        // Quiet for more than a minute: the streak is over.
        t += 61'000;
        QVERIFY(rules.evaluate(t, r).empty());
        // One new failure starts a new streak, which must last again.
        r.intakeBadSignature = 10;
        t += 1000;
        QVERIFY(rules.evaluate(t, r).empty());
    }

    void intakeSilenceCountsInsideTheHoursOnly()
    {
        AlertOptions o = utcOptions();
        o.intakeSilentFor = minutes { 30 };
        o.hours = *AlertHours::parse(QStringLiteral("Mon-Fri 08:00-18:00"));
        o.hours.zone = QTimeZone::utc();
        // Watching since Sunday: the last webhook came on Friday.
        const qint64 sunday = kMonday10 - 24 * 3600'000LL;
        AlertRules rules(o, sunday);
        AlertReading r = quiet();
        r.listening = true;
        r.lastIntakeMs = kMonday10 - 3 * 24 * 3600'000LL;
        // Sunday noon: outside the hours.
        QVERIFY(rules.evaluate(sunday + 2 * 3600'000LL, r).empty());
        // Monday 08:20: inside, but only 20 minutes of the hours have been silent.
        const qint64 monday8 = kMonday10 - 2 * 3600'000LL;
        QVERIFY(rules.evaluate(monday8 + 20 * 60'000, r).empty());
        // 08:31: 31 silent minutes inside the hours.
        auto out = rules.evaluate(monday8 + 31 * 60'000, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::IntakeSilent });
        QVERIFY(out[0].detail["silent_for_ms"] == 31 * 60'000);
        // A webhook at 09:00: silent again only from 09:30.
        r.lastIntakeMs = monday8 + 60 * 60'000;
        QVERIFY(rules.evaluate(monday8 + 89 * 60'000, r).empty());
        QVERIFY(!rules.evaluate(monday8 + 91 * 60'000, r).empty());
        // 18:10: after hours.
        QVERIFY(rules.evaluate(monday8 + 10 * 3600'000LL + 10 * 60'000, r).empty());
        // Without a listener there is nothing to be silent.
        r.listening = false;
        QVERIFY(rules.evaluate(monday8 + 91 * 60'000, r).empty());
    }

    void hoursParseDaysSpansAndZones()
    {
        QString why;
        QVERIFY(!AlertHours::parse(QStringLiteral("weekdays"), &why));
        QVERIFY(why.contains(QLatin1String("DAYS")));
        QVERIFY(!AlertHours::parse(QStringLiteral("Mon-Fry 08:00-18:00"), &why));
        QVERIFY(why.contains(QLatin1String("Fry")));
        QVERIFY(!AlertHours::parse(QStringLiteral("Mon 25:00-26:00"), &why));
        // Overnight, Friday night into Saturday morning.
        auto night = AlertHours::parse(QStringLiteral("Fri 22:00-06:00"));
        QVERIFY(night);
        night->zone = QTimeZone::utc();
        const qint64 friday23
            = QDateTime(QDate(2026, 12, 11), QTime(23, 0), Qt::UTC).toMSecsSinceEpoch();
        QCOMPARE(night->stretchStart(friday23),
                 QDateTime(QDate(2026, 12, 11), QTime(22, 0), Qt::UTC).toMSecsSinceEpoch());
        QCOMPARE(night->stretchStart(friday23 + 6 * 3600'000LL),
                 QDateTime(QDate(2026, 12, 11), QTime(22, 0), Qt::UTC).toMSecsSinceEpoch());
        QVERIFY(!night->contains(friday23 + 8 * 3600'000LL));
        QVERIFY(!night->contains(friday23 - 24 * 3600'000LL)); // Thursday
        // A zone moves the hours: 09:00-17:00 in Berlin (UTC+1 in December) holds 16:30 UTC.
        auto berlin = AlertHours::parse(QStringLiteral("daily 09:00-17:00"));
        QVERIFY(berlin);
        berlin->zone = QTimeZone("Europe/Berlin");
        QVERIFY(berlin->zone.isValid());
        const qint64 utc1630
            = QDateTime(QDate(2026, 12, 7), QTime(15, 30), Qt::UTC).toMSecsSinceEpoch();
        QVERIFY(berlin->contains(utc1630));
        QVERIFY(!berlin->contains(utc1630 + 3600'000));
        // "always" has no start: silence counts from whenever it began.
        auto always = AlertHours::parse(QStringLiteral("always"));
        QVERIFY(always);
        QCOMPARE(always->stretchStart(utc1630), 0);
    }

    void planLowAndRedisFallback()
    {
        AlertOptions o = utcOptions();
        o.planLow = 500;
        AlertRules rules(o, kMonday10);
        AlertReading r = quiet();
        r.remainingInPlan = 500;
        QVERIFY(rules.evaluate(kMonday10, r).empty());
        r.remainingInPlan = 499;
        auto out = rules.evaluate(kMonday10, r);
        QCOMPARE(kinds(out), std::vector<AlertKind> { AlertKind::PlanLow });
        QCOMPARE(out[0].severity, AlertSeverity::Warning);
        r.remainingInPlan = 0;
        QCOMPARE(rules.evaluate(kMonday10, r)[0].severity, AlertSeverity::Critical);
        r.remainingInPlan = -1; // unknown
        r.limiterFallback = true;
        QCOMPARE(kinds(rules.evaluate(kMonday10, r)),
                 std::vector<AlertKind> { AlertKind::RedisFallback });
    }

    void theEventCarriesEveryFieldAndATextLine()
    {
        AlertEvent e;
        e.kind = AlertKind::RateLimited;
        e.severity = AlertSeverity::Warning;
        e.summary = QStringLiteral("429s nobody here explains");
        e.detail = { { "unexplained_429", 7 } };
        e.atMs = kMonday10;
        e.instance = QStringLiteral("host-1");
        e.instanceLocal = true;
        const nlohmann::json j = e.toJson();
        for (const char *key :
             { "kind", "state", "severity", "summary", "detail", "at", "instance", "text" })
            QVERIFY2(j.contains(key), key);
        QVERIFY(j["kind"] == "rate_limited");
        QVERIFY(j["state"] == "firing");
        QVERIFY(j["at"] == "2026-12-07T10:00:00.000Z");
        QVERIFY(j["scope"] == "instance");
        const QString text = QString::fromStdString(j["text"].get<std::string>());
        QVERIFY(text.contains(QLatin1String("FIRING rate_limited")));
        QVERIFY(text.contains(QLatin1String("instance-local")));
        const auto back = AlertEvent::fromJson(j);
        QVERIFY(back);
        QCOMPARE(back->atMs, kMonday10);
        QCOMPARE(back->kind, AlertKind::RateLimited);
        QVERIFY(back->instanceLocal);
        QVERIFY(back->detail["unexplained_429"] == 7);
        QVERIFY(!AlertEvent::fromJson(nlohmann::json { { "kind", "nonsense" } }));
    }

    void urlsAreShownMasked()
    {
        QCOMPARE(maskedAlertUrl(QStringLiteral("https://hooks.slack.com/services/T0/B0/secret")),
                 QStringLiteral("https://hooks.slack.com/…"));
        QCOMPARE(maskedAlertUrl(QStringLiteral("http://user:pw@127.0.0.1:9000/x?token=1")),
                 QStringLiteral("http://127.0.0.1:9000/…"));
        AlertOptions o;
        o.urls = { QStringLiteral("ftp://example.com/secret-path") };
        const auto problem = o.problem();
        QVERIFY(problem);
        QVERIFY(!problem->contains(QLatin1String("secret-path")));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestAlertRules)
#include "tst_alertrules.moc"
