// Alerts as a headless operator gets them (issue 17): `sluice serve --alert-url` against the
// sandbox and a real redis-server, with a local listener standing in for Slack. Each condition
// POSTs one "firing" and, when it clears, one "resolved", once for the whole fleet; a URL
// that hangs holds nothing up.
#include "close/closesignature.h"
#include "common/alertreceiver.h"
#include "common/suite.h"
#include "control/operatorcontrol.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

using namespace sluice;
using namespace sluice::test;

namespace {

/// The flags every serve here gets: alerts to `receiver`, evaluated five times a second.
QStringList alertFlags(const AlertReceiver &receiver)
{
    return { QStringLiteral("--alert-url"), receiver.url().toString(),
             QStringLiteral("--alert-interval"), QStringLiteral("200ms") };
}

/// The kinds of the alerts /healthz lists as firing; {"?"} when it does not answer.
QStringList firingKinds(ServeProcess &serve)
{
    const nlohmann::json health = serve.health().parsed();
    if (!health.is_object() || !health.contains("alerts"))
        return { QStringLiteral("?") };
    QStringList kinds;
    for (const nlohmann::json &a : health["alerts"])
        kinds << QString::fromStdString(a.value("kind", ""));
    return kinds;
}

/// A Close lead with no email at all: Sluice cannot deliver it and dead-letters it.
nlohmann::json closeLeadWithoutEmail(int i)
{
    return { { "id", "lead_" + std::to_string(i) },
             { "display_name", "No Mail " + std::to_string(i) },
             { "contacts",
               nlohmann::json::array(
                   { { { "name", "Nobody" }, { "emails", nlohmann::json::array() } } }) } };
}

/// Accepts connections and never answers: an alert URL that hangs.
class BlackHole
{
public:
    BlackHole()
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, [this] {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                ++m_connections;
                m_sockets.push_back(s); // kept open, read, never answered
            }
        });
    }
    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QString url() const
    {
        return QStringLiteral("http://127.0.0.1:%1/hang").arg(m_server.serverPort());
    }
    int connections() const { return m_connections; }

private:
    QTcpServer m_server;
    std::vector<QTcpSocket *> m_sockets; // owned by m_server
    int m_connections = 0;
};

/// A `sluice serve` under test with everything around it: the sandbox (holding `campaign`),
/// a redis-server of its own and an alert receiver; the serve starts with alertFlags().
struct AlertStack
{
    explicit AlertStack(QString campaignName, const SandboxOptions &limits = {},
                        const RedisServer::Options &redisOptions = {})
        : sandbox(limits)
        , redis(redisOptions)
        , campaign(std::move(campaignName))
    { }

    /// Empty when everything started, else what did not.
    QString start(const QStringList &flags, const QList<QPair<QString, QString>> &env = {},
                  bool withReceiver = true)
    {
        if (sandbox.start() == 0)
            return QStringLiteral("the sandbox did not start");
        if (!createCampaign(sandbox, campaign))
            return QStringLiteral("the sandbox refused the campaign");
        if (!redis.start())
            return redis.errorString();
        if (!receiver.listen())
            return QStringLiteral("the receiver cannot listen");
        ServeSetup setup(sandbox.baseUrl(), redis.url(),
                         (withReceiver ? alertFlags(receiver) : QStringList {}) + flags);
        setup.env = env;
        serve = std::make_unique<ServeProcess>(setup);
        return serve->start() ? QString() : serve->error();
    }

    /// Puts Close leads first .. first + n - 1 in the sandbox and fires their lead-less
    /// webhooks at the serve; empty when every one was accepted.
    QString send(int first, int n, std::vector<FireRequest> requests = {})
    {
        if (!seedCloseLeads(sandbox, first, n))
            return QStringLiteral("the sandbox refused a Close lead");
        if (requests.empty())
            requests = webhookRequests(first, n, campaign);
        return unacceptedAnswers(fireWebhooks(serve->addLeadUrl(), std::move(requests), 10))
            .join(QLatin1Char('\n'));
    }

    /// Every lead of webhooks first .. first + n - 1 is in Instantly, once.
    bool delivered(int first, int n)
    {
        return exactlyOnceProblem(sandbox, webhookEmails(first, n)).isEmpty();
    }

    SandboxServer sandbox;
    RedisServer redis;
    AlertReceiver receiver;
    QString campaign;
    std::unique_ptr<ServeProcess> serve;
};

} // namespace

class TestAlerts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void breakerOpenFiresOnceAndResolvesOnceForTwoServes()
    {
        AlertStack stack(QStringLiteral("Outage Run"));
        const QStringList flags { QStringLiteral("--single"), QStringLiteral("--breaker-open"),
                                  QStringLiteral("1s") };
        const QString problem = stack.start(flags);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        SandboxServer &sandbox = stack.sandbox;
        AlertReceiver &receiver = stack.receiver;
        ServeProcess &a = *stack.serve;
        // A second serve on the same Redis: one fleet, one shared breaker.
        ServeProcess b(
            ServeSetup(sandbox.baseUrl(), stack.redis.url(), alertFlags(receiver) + flags));
        QVERIFY2(b.start(), qPrintable(b.error()));

        // A first lead goes out on both (each has the campaign's id from then on) ...
        QVERIFY(seedCloseLeads(sandbox, 0, 2));
        QVERIFY(
            unacceptedAnswers(fireWebhooks({ a.addLeadUrl(), b.addLeadUrl() },
                                           webhookRequests(0, 2, QStringLiteral("Outage Run")), 2))
                .isEmpty());
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), 2, 30'000);
        // ... then Instantly is down: every request is a 500, so the shared breaker opens.
        FaultOptions outage;
        outage.errorRate = 1.0;
        sandbox.setFaults(outage);
        const int n = 30;
        QVERIFY(seedCloseLeads(sandbox, 2, n));
        const auto results = fireWebhooks({ a.addLeadUrl(), b.addLeadUrl() },
                                          webhookRequests(2, n, QStringLiteral("Outage Run")), 10);
        QVERIFY(unacceptedAnswers(results).isEmpty());
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("breaker_open", "firing") >= 1,
                                  qPrintable(receiver.describe()), 30'000);
        // Both instances see it open (the breaker is shared) and list the one alert.
        QTRY_VERIFY_WITH_TIMEOUT(firingKinds(a).contains(QLatin1String("breaker_open"))
                                     && firingKinds(b).contains(QLatin1String("breaker_open")),
                                 10'000);
        const nlohmann::json fired = receiver.of("breaker_open", "firing").front();
        QCOMPARE(fired.value("severity", ""), "critical");
        QCOMPARE(fired.value("scope", ""), "fleet");
        QVERIFY(fired.value("text", "").find("breaker_open") != std::string::npos);
        QVERIFY(!fired.value("instance", "").empty());
        QVERIFY(fired.contains("at") && fired.contains("detail") && fired.contains("summary"));

        // Instantly recovers: the breaker half-opens, closes, and every lead goes out.
        sandbox.setFaults({});
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("breaker_open", "resolved") >= 1,
                                  qPrintable(receiver.describe()), 60'000);
        QTRY_VERIFY_WITH_TIMEOUT(exactlyOnceProblem(sandbox, webhookEmails(0, n + 2)).isEmpty(),
                                 60'000);
        QTRY_VERIFY_WITH_TIMEOUT(!firingKinds(a).contains(QLatin1String("breaker_open"))
                                     && !firingKinds(b).contains(QLatin1String("breaker_open")),
                                 10'000);
        // Two instances, one outage: one firing and one resolved, not one per instance.
        QCOMPARE(receiver.count("breaker_open", "firing"), 1);
        QCOMPARE(receiver.count("breaker_open", "resolved"), 1);
        // The alert log in Redis holds both, for every console.
        RedisProbe probe(stack.redis.url());
        QCOMPARE(probe.streamLength(probe.keys().alertLog()), 2);
        QVERIFY(a.terminate());
        QVERIFY(b.terminate());
    }

    void aPauseDeadLettersAndAMissingCampaignEachAlert()
    {
        AlertStack stack(QStringLiteral("Real"));
        const QString problem
            = stack.start({ QStringLiteral("--alert-dead-letters"), QStringLiteral("3"),
                            QStringLiteral("--alert-dead-letters-within"), QStringLiteral("10m") });
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        SandboxServer &sandbox = stack.sandbox;
        AlertReceiver &receiver = stack.receiver;
        ServeProcess &serve = *stack.serve;
        RedisServer &redis = stack.redis;

        // Three Close leads with no email: three dead letters.
        for (int i = 1; i <= 3; ++i)
            QCOMPARE(sandbox.store().putCloseLead(closeLeadWithoutEmail(i)).status, 200);
        // Two leads for a campaign Instantly does not have: parked.
        QVERIFY(seedCloseLeads(sandbox, 10, 2));
        std::vector<FireRequest> requests = webhookRequests(1, 3, QStringLiteral("Real"));
        for (FireRequest &r : webhookRequests(10, 2, QStringLiteral("Ghost Campaign")))
            requests.push_back(std::move(r));
        QVERIFY(
            unacceptedAnswers(fireWebhooks(serve.addLeadUrl(), std::move(requests), 5)).isEmpty());

        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("dead_letters", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        const nlohmann::json dead = receiver.of("dead_letters", "firing").front();
        QCOMPARE(dead["detail"].value("grew_by", 0), 3);
        QCOMPARE(dead["detail"]["by_reason"].value("no_usable_email", 0), 3);
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("campaign_missing", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        const nlohmann::json missing = receiver.of("campaign_missing", "firing").front();
        QCOMPARE(missing["detail"]["campaigns"].value("Ghost Campaign", 0), 2);

        // An operator pauses the fleet, then resumes it.
        RedisProbe probe(redis.url());
        OperatorControl control(&probe.client(), probe.keys(), nullptr);
        QVERIFY(!control.pause(QStringLiteral("maintenance window")));
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("dispatch_paused", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        const nlohmann::json paused = receiver.of("dispatch_paused", "firing").front();
        QCOMPARE(paused["detail"].value("reason", ""), "maintenance window");
        QCOMPARE(paused["detail"].value("cause", ""), "operator");
        QCOMPARE(paused.value("severity", ""), "warning");
        QVERIFY(firingKinds(serve).contains(QLatin1String("dispatch_paused")));
        // `sluice status` reads the same from Redis, with no process of its own.
        QProcess status;
        status.start(QStringLiteral(SLUICE_BINARY),
                     { QStringLiteral("status"), QStringLiteral("--redis"), redis.url() });
        QVERIFY(status.waitForFinished(30'000));
        const QString text = QString::fromUtf8(status.readAllStandardOutput());
        QCOMPARE(status.exitCode(), 0);
        QVERIFY2(text.contains(QLatin1String("PAUSED (operator): maintenance window")),
                 qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("campaign_missing")), qPrintable(text));
        QVERIFY2(text.contains(QLatin1String("dispatch_paused")), qPrintable(text));
        status.start(QStringLiteral(SLUICE_BINARY),
                     { QStringLiteral("status"), QStringLiteral("--redis"), redis.url(),
                       QStringLiteral("--json") });
        QVERIFY(status.waitForFinished(30'000));
        const auto json
            = nlohmann::json::parse(status.readAllStandardOutput().toStdString(), nullptr, false);
        QVERIFY(json.is_object());
        QCOMPARE(json["instances"].size(), size_t(1));
        QVERIFY(json["instances"][0].contains("budget_left_this_minute"));
        QCOMPARE(json["alerts"].size(), size_t(3)); // dead_letters, campaign_missing, the pause
        control.resume();
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("dispatch_paused", "resolved") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        // Each condition told once; the dead letters and the parked leads are still there.
        QCOMPARE(receiver.count("dead_letters", "firing"), 1);
        QCOMPARE(receiver.count("campaign_missing", "firing"), 1);
        QCOMPARE(receiver.count("dispatch_paused", "firing"), 1);
        // /metrics has a gauge per kind.
        const QByteArray metrics = serve.get(QStringLiteral("/metrics")).body;
        QVERIFY(metrics.contains("sluice_alert_active{kind=\"campaign_missing\"} 1"));
        QVERIFY(metrics.contains("sluice_alert_active{kind=\"dispatch_paused\"} 0"));
        // The log line says it too.
        QVERIFY(serve.log().contains(QLatin1String("FIRING campaign_missing (warning)")));
        QVERIFY(serve.terminate());
    }

    void aBacklogBeyondTheLimitFiresDrainSlow()
    {
        // 2 leads a second, and the backlog must clear within 3 s: 24 leads cannot.
        AlertStack stack(QStringLiteral("Slow Drain"));
        const QString problem = stack.start(
            { QStringLiteral("--single"), QStringLiteral("--burst-rate"), QStringLiteral("2/s"),
              QStringLiteral("--rate"), QStringLiteral("120/min"),
              QStringLiteral("--alert-drain-within"), QStringLiteral("3s") });
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        AlertReceiver &receiver = stack.receiver;
        ServeProcess &serve = *stack.serve;
        const int n = 24;
        QCOMPARE(stack.send(1, n), QString());
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("drain_slow", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        const nlohmann::json slow = receiver.of("drain_slow", "firing").front();
        QVERIFY2(slow["detail"].value("backlog", 0) > 6, slow.dump().c_str());
        QCOMPARE(slow["detail"].value("limit_ms", 0), 3000);
        // Once the backlog is gone, it resolves.
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("drain_slow", "resolved") == 1,
                                  qPrintable(receiver.describe()), 90'000);
        QTRY_VERIFY_WITH_TIMEOUT(stack.delivered(1, n), 30'000);
        QCOMPARE(receiver.count("drain_slow", "firing"), 1);
        QVERIFY(serve.terminate());
    }

    void anotherClientsRequestsFireRateLimited()
    {
        SandboxOptions limits;
        limits.perSecond = 10;
        limits.perMinute = 600;
        // Sluice keeps to half the workspace's budget ...
        AlertStack stack(QStringLiteral("Shared Budget"), limits);
        const QString problem = stack.start(
            { QStringLiteral("--single"), QStringLiteral("--burst-rate"), QStringLiteral("5/s"),
              QStringLiteral("--rate"), QStringLiteral("300/min"),
              QStringLiteral("--alert-rate-limited"), QStringLiteral("2") });
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        SandboxServer &sandbox = stack.sandbox;
        AlertReceiver &receiver = stack.receiver;
        ServeProcess &serve = *stack.serve;
        const int n = 40;
        QCOMPARE(stack.send(1, n), QString());
        // ... while another script with the same workspace's key spends the rest and more.
        QNetworkAccessManager other;
        QTimer hammer;
        hammer.setInterval(25);
        QObject::connect(&hammer, &QTimer::timeout, [&] {
            QNetworkRequest request(
                sandbox.baseUrl().resolved(QUrl(QStringLiteral("/api/v2/campaigns"))));
            request.setRawHeader("Authorization", "Bearer sandbox");
            QNetworkReply *reply = other.get(request);
            QObject::connect(reply, &QNetworkReply::finished, reply, &QObject::deleteLater);
        });
        hammer.start();
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("rate_limited", "firing") >= 1,
                                  qPrintable(receiver.describe()), 45'000);
        hammer.stop();
        const nlohmann::json limited = receiver.of("rate_limited", "firing").front();
        QVERIFY2(limited["detail"].value("unexplained_429", 0) >= 2, limited.dump().c_str());
        QVERIFY(limited.value("summary", "").find("another key or tool") != std::string::npos);
        // Nothing lost to the 429s: every lead arrives once.
        QTRY_VERIFY_WITH_TIMEOUT(stack.delivered(1, n), 90'000);
        QVERIFY(serve.terminate());
    }

    void failingWebhooksFireIntakeFailingAndAnEmptyPlanPlanLow()
    {
        AlertStack stack(QStringLiteral("Plan"));
        const QString problem = stack.start(
            { QStringLiteral("--alert-intake-failing-for"), QStringLiteral("1s"),
              QStringLiteral("--alert-plan-low"), QStringLiteral("100") },
            { { QStringLiteral("CLOSE_WEBHOOK_SECRET"), QStringLiteral("00ff00ff") } });
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        SandboxServer &sandbox = stack.sandbox;
        AlertReceiver &receiver = stack.receiver;
        ServeProcess &serve = *stack.serve;
        sandbox.store().setRemainingInPlan(40);

        // Bulk answers carry remaining_in_plan: 40 is below 100.
        std::vector<FireRequest> signed_;
        for (int i = 1; i <= 5; ++i) {
            FireRequest r { closeWebhook(i, QStringLiteral("Plan")), {} };
            const QByteArray stamp = QByteArray::number(QDateTime::currentSecsSinceEpoch());
            r.headers.append({ "close-sig-timestamp", stamp });
            r.headers.append({ "close-sig-hash", closeSignatureHash("00ff00ff", stamp, r.body) });
            signed_.push_back(std::move(r));
        }
        QCOMPARE(stack.send(1, 5, std::move(signed_)), QString());
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("plan_low", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        const nlohmann::json plan = receiver.of("plan_low", "firing").front();
        QCOMPARE(plan["detail"].value("remaining_in_plan", 0), 35);
        QCOMPARE(plan.value("severity", ""), "warning");

        // Someone's sender signs with the wrong key: every webhook is refused with 401.
        QTimer bad;
        bad.setInterval(150);
        int refused = 0;
        QObject::connect(&bad, &QTimer::timeout, [&] {
            QNetworkRequest request(serve.addLeadUrl());
            request.setRawHeader("Content-Type", "application/json");
            request.setRawHeader("close-sig-timestamp", "1");
            request.setRawHeader("close-sig-hash", "00");
            QNetworkReply *reply
                = serve.http().post(request, closeWebhook(99, QStringLiteral("Plan")));
            QObject::connect(reply, &QNetworkReply::finished, reply, [reply, &refused] {
                refused
                    += reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 401;
                reply->deleteLater();
            });
        });
        bad.start();
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("intake_failing", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        bad.stop();
        const nlohmann::json failing = receiver.of("intake_failing", "firing").front();
        QVERIFY(failing["detail"].value("bad_signature", 0) >= 2);
        QCOMPARE(failing.value("severity", ""), "critical");
        QVERIFY(failing.value("summary", "").find("3 days") != std::string::npos);
        QVERIFY(refused >= 2);
        // The failures stop: it resolves.
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("intake_failing", "resolved") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        QVERIFY(serve.terminate());
    }

    void withRedisGoneTheFallbackIsAlertedByTheInstanceAlone()
    {
        RedisServer::Options persistent;
        persistent.appendOnly = true; // nothing queued is lost across the restart
        AlertStack stack(QStringLiteral("Fallback"), {}, persistent);
        const QString problem = stack.start(
            { QStringLiteral("--single"), QStringLiteral("--burst-rate"), QStringLiteral("4/s"),
              QStringLiteral("--rate"), QStringLiteral("240/min") });
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        SandboxServer &sandbox = stack.sandbox;
        AlertReceiver &receiver = stack.receiver;
        ServeProcess &serve = *stack.serve;
        RedisServer &redis = stack.redis;
        const int n = 40;
        QCOMPARE(stack.send(1, n), QString());
        QTRY_VERIFY_WITH_TIMEOUT(sandbox.store().leadCount() >= 3, 30'000);
        // Redis goes away with leads in hand: the limiter paces them on its local fallback.
        redis.stop();
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("redis_fallback", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        const nlohmann::json alone = receiver.of("redis_fallback", "firing").front();
        QCOMPARE(alone.value("scope", ""), "instance");
        QVERIFY(alone.value("text", "").find("instance-local") != std::string::npos);
        // Redis is back: the limiter decides in Redis again and the alert ends.
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("redis_fallback", "resolved") == 1,
                                  qPrintable(receiver.describe()), 60'000);
        // And through it all, every lead reaches Instantly exactly once.
        QTRY_COMPARE_WITH_TIMEOUT(exactlyOnceProblem(sandbox, webhookEmails(1, n)), QString(),
                                  60'000);
        QVERIFY(serve.terminate());
    }

    void anAlertUrlThatHangsHoldsNothingUp()
    {
        AlertStack stack(QStringLiteral("Hung Hook"));
        BlackHole hole;
        QVERIFY(hole.listen());
        AlertReceiver flaky(2); // answers 500 twice: the alert must be retried to arrive
        QVERIFY(flaky.listen());
        // intake_silent fires after a second without webhooks at any hour, so alerts are
        // being POSTed while the leads go out.
        const QString problem = stack.start(
            { QStringLiteral("--alert-url"), hole.url(), QStringLiteral("--alert-url"),
              flaky.url().toString(), QStringLiteral("--alert-interval"), QStringLiteral("200ms"),
              QStringLiteral("--alert-intake-silent-for"), QStringLiteral("1s"),
              QStringLiteral("--alert-hours"), QStringLiteral("always"),
              QStringLiteral("--single") },
            {}, false);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        ServeProcess &serve = *stack.serve;
        QTRY_VERIFY_WITH_TIMEOUT(hole.connections() >= 1, 10'000);
        // The flaky receiver gets it on the third try (retried after 1 s and 2 s).
        QTRY_VERIFY2_WITH_TIMEOUT(flaky.count("intake_silent", "firing") == 1,
                                  qPrintable(flaky.describe()), 30'000);
        QCOMPARE(flaky.posts(), 3);

        // Leads go out while one alert URL hangs: nothing waits for it.
        const int n = 30;
        QCOMPARE(stack.send(1, n), QString());
        QTRY_VERIFY_WITH_TIMEOUT(stack.delivered(1, n), 60'000);
        // The webhooks ended the silence: resolved. (Silence after them fires it again: the
        // events alternate, each transition told once.)
        QTRY_VERIFY2_WITH_TIMEOUT(flaky.count("intake_silent", "resolved") >= 1,
                                  qPrintable(flaky.describe()), 30'000);
        QString last;
        for (const nlohmann::json &e : flaky.events()) {
            if (e.value("kind", "") != "intake_silent")
                continue;
            const QString state = QString::fromStdString(e.value("state", ""));
            QVERIFY2(state != last, qPrintable(flaky.describe()));
            last = state;
        }
        QVERIFY(hole.connections() >= 1);
        // The hung URL is never named in full: only its scheme and host are logged.
        QVERIFY(!serve.log().contains(QLatin1String("/hang")));
        QVERIFY(serve.terminate());
    }
};

SLUICE_TEST_GUILESS_MAIN(TestAlerts)
#include "tst_alerts.moc"
