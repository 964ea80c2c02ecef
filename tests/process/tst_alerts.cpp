// Alerts as a headless operator gets them (issue 17): `sluice serve --alert-url` against the
// sandbox and a real redis-server, with a local listener standing in for Slack. Each condition
// POSTs one "firing" and, when it clears, one "resolved", once for the whole fleet; a URL
// that hangs holds nothing up.
#include "common/alertreceiver.h"
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

} // namespace

class TestAlerts : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void breakerOpenFiresOnceAndResolvesOnceForTwoServes()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Outage Run")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        AlertReceiver receiver;
        QVERIFY(receiver.listen());
        const QStringList flags = alertFlags(receiver)
            + QStringList { QStringLiteral("--single"), QStringLiteral("--breaker-open"),
                            QStringLiteral("1s") };
        ServeProcess a(ServeSetup(sandbox.baseUrl(), redis.url(), flags));
        ServeProcess b(ServeSetup(sandbox.baseUrl(), redis.url(), flags));
        QVERIFY2(a.start(), qPrintable(a.error()));
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
        RedisProbe probe(redis.url());
        QCOMPARE(probe.streamLength(probe.keys().alertLog()), 2);
        QVERIFY(a.terminate());
        QVERIFY(b.terminate());
    }

    void aPauseDeadLettersAndAMissingCampaignEachAlert()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Real")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        AlertReceiver receiver;
        QVERIFY(receiver.listen());
        ServeProcess serve(ServeSetup(
            sandbox.baseUrl(), redis.url(),
            alertFlags(receiver)
                + QStringList { QStringLiteral("--alert-dead-letters"), QStringLiteral("3"),
                                QStringLiteral("--alert-dead-letters-within"),
                                QStringLiteral("10m") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

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
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Slow Drain")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        AlertReceiver receiver;
        QVERIFY(receiver.listen());
        // 2 leads a second, and the backlog must clear within 3 s: 24 leads cannot.
        ServeProcess serve(ServeSetup(
            sandbox.baseUrl(), redis.url(),
            alertFlags(receiver)
                + QStringList { QStringLiteral("--single"), QStringLiteral("--burst-rate"),
                                QStringLiteral("2/s"), QStringLiteral("--rate"),
                                QStringLiteral("120/min"), QStringLiteral("--alert-drain-within"),
                                QStringLiteral("3s") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));
        const int n = 24;
        QVERIFY(seedCloseLeads(sandbox, 1, n));
        QVERIFY(
            unacceptedAnswers(fireWebhooks(serve.addLeadUrl(),
                                           webhookRequests(1, n, QStringLiteral("Slow Drain")), 10))
                .isEmpty());
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("drain_slow", "firing") == 1,
                                  qPrintable(receiver.describe()), 30'000);
        const nlohmann::json slow = receiver.of("drain_slow", "firing").front();
        QVERIFY2(slow["detail"].value("backlog", 0) > 6, slow.dump().c_str());
        QCOMPARE(slow["detail"].value("limit_ms", 0), 3000);
        // Once the backlog is gone, it resolves.
        QTRY_VERIFY2_WITH_TIMEOUT(receiver.count("drain_slow", "resolved") == 1,
                                  qPrintable(receiver.describe()), 90'000);
        QTRY_VERIFY_WITH_TIMEOUT(exactlyOnceProblem(sandbox, webhookEmails(1, n)).isEmpty(),
                                 30'000);
        QCOMPARE(receiver.count("drain_slow", "firing"), 1);
        QVERIFY(serve.terminate());
    }

    void anotherClientsRequestsFireRateLimited()
    {
        SandboxOptions limits;
        limits.perSecond = 10;
        limits.perMinute = 600;
        SandboxServer sandbox(limits);
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Shared Budget")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        AlertReceiver receiver;
        QVERIFY(receiver.listen());
        // Sluice keeps to half the workspace's budget ...
        ServeProcess serve(ServeSetup(
            sandbox.baseUrl(), redis.url(),
            alertFlags(receiver)
                + QStringList { QStringLiteral("--single"), QStringLiteral("--burst-rate"),
                                QStringLiteral("5/s"), QStringLiteral("--rate"),
                                QStringLiteral("300/min"), QStringLiteral("--alert-rate-limited"),
                                QStringLiteral("2") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));
        const int n = 40;
        QVERIFY(seedCloseLeads(sandbox, 1, n));
        QVERIFY(unacceptedAnswers(
                    fireWebhooks(serve.addLeadUrl(),
                                 webhookRequests(1, n, QStringLiteral("Shared Budget")), 10))
                    .isEmpty());
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
        QTRY_VERIFY_WITH_TIMEOUT(exactlyOnceProblem(sandbox, webhookEmails(1, n)).isEmpty(),
                                 90'000);
        QVERIFY(serve.terminate());
    }

    void anAlertUrlThatHangsHoldsNothingUp()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Hung Hook")));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        BlackHole hole;
        QVERIFY(hole.listen());
        AlertReceiver flaky(2); // answers 500 twice: the alert must be retried to arrive
        QVERIFY(flaky.listen());
        // intake_silent fires after a second without webhooks at any hour, so alerts are
        // being POSTed while the leads go out.
        ServeProcess serve(
            ServeSetup(sandbox.baseUrl(), redis.url(),
                       { QStringLiteral("--alert-url"), hole.url(), QStringLiteral("--alert-url"),
                         flaky.url().toString(), QStringLiteral("--alert-interval"),
                         QStringLiteral("200ms"), QStringLiteral("--alert-intake-silent-for"),
                         QStringLiteral("1s"), QStringLiteral("--alert-hours"),
                         QStringLiteral("always"), QStringLiteral("--single") }));
        QVERIFY2(serve.start(), qPrintable(serve.error()));
        QTRY_VERIFY_WITH_TIMEOUT(hole.connections() >= 1, 10'000);
        // The flaky receiver gets it on the third try (retried after 1 s and 2 s).
        QTRY_VERIFY2_WITH_TIMEOUT(flaky.count("intake_silent", "firing") == 1,
                                  qPrintable(flaky.describe()), 30'000);
        QCOMPARE(flaky.posts(), 3);

        // Leads go out while one alert URL hangs: nothing waits for it.
        const int n = 30;
        QVERIFY(seedCloseLeads(sandbox, 1, n));
        QVERIFY(
            unacceptedAnswers(fireWebhooks(serve.addLeadUrl(),
                                           webhookRequests(1, n, QStringLiteral("Hung Hook")), 10))
                .isEmpty());
        QTRY_VERIFY_WITH_TIMEOUT(exactlyOnceProblem(sandbox, webhookEmails(1, n)).isEmpty(),
                                 60'000);
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

QTEST_GUILESS_MAIN(TestAlerts)
#include "tst_alerts.moc"
