// The delivery engine on its own thread, fed by the intake on this one, against a real
// redis-server and the sandbox: webhooks (inline leads and Close lookups) are delivered once,
// the snapshot and /metrics count them, Close lookups go through their own gate, and stop()
// ends the thread cleanly.
#include "common/suite.h"
#include "common/validschedule.h"
#include "delivery/deliveryengine.h"
#include "intake/intakeserver.h"
#include "redis/redisclient.h"
#include "redis/redisserver.h"
#include "runs/webhookfirer.h"
#include "sandbox/sandboxserver.h"
#include "telemetry/metrics.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;
using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

QByteArray webhook(int i, bool inlineLead)
{
    const std::string n = std::to_string(i);
    json body = {
        { "subscription_id", "sub_engine" },
        { "event",
          { { "id", "ev_engine_" + n },
            { "object_type", "task.lead" },
            { "action", "created" },
            { "lead_id", "lead_" + n },
            { "data", { { "text", "Instantly: Engine Test" }, { "lead_id", "lead_" + n } } } } },
    };
    if (inlineLead) {
        body["lead"] = {
            { "id", "lead_" + n },
            { "display_name", "Company " + n },
            { "contacts",
              json::array(
                  { { { "name", "Test Lead" + n },
                      { "emails",
                        json::array({ { { "email", "engine" + n + "@example.com" } } }) } } }) },
        };
    }
    return QByteArray::fromStdString(body.dump());
}

} // namespace

class TestDeliveryEngine : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void deliversOnItsOwnThreadAndCounts()
    {
        test::RedisServer redisServer;
        QVERIFY2(redisServer.start(), qPrintable(redisServer.errorString()));
        SandboxOptions sandboxOptions;
        sandboxOptions.perSecond = 50;
        sandboxOptions.perMinute = 3000;
        SandboxServer sandbox(sandboxOptions);
        QVERIFY(sandbox.start() != 0);
        json campaign = { { "name", "Engine Test" },
                          { "campaign_schedule", sluice::test::validCampaignSchedule() } };
        QCOMPARE(sandbox.store().createCampaign(campaign).status, 200);
        // Five leads Close must be asked for (the webhook carries only the id).
        for (int i = 100; i < 105; ++i) {
            const std::string n = std::to_string(i);
            QCOMPARE(sandbox.store()
                         .putCloseLead(
                             { { "id", "lead_" + n },
                               { "display_name", "Looked Up " + n },
                               { "contacts",
                                 json::array(
                                     { { { "name", "Close Person" },
                                         { "emails",
                                           json::array(
                                               { { { "email",
                                                     "close" + n + "@example.com" } } }) } } }) } })
                         .status,
                     200);
        }

        Metrics metrics;
        RedisOptions redisOptions;
        redisOptions.url = redisServer.url();
        RedisClient intakeRedis(redisOptions);
        intakeRedis.connectToServer();
        QTemporaryDir dir;
        IntakeOptions intakeOptions;
        intakeOptions.port = 0;
        intakeOptions.ns = QStringLiteral("engine");
        intakeOptions.spoolPath = dir.filePath(QStringLiteral("spool.jsonl"));
        IntakeServer intake(intakeOptions, &intakeRedis, &metrics);
        const auto port = intake.start();
        QVERIFY2(port.ok(), qPrintable(port.ok() ? QString() : port.error()));

        DeliverySettings settings;
        settings.redis = redisOptions;
        settings.ns = QStringLiteral("engine");
        settings.instance = QStringLiteral("engine-test");
        settings.instantly.baseUrl = sandbox.baseUrl();
        settings.instantly.apiKey = QStringLiteral("sandbox");
        settings.close.baseUrl = sandbox.baseUrl();
        settings.close.apiKey = QStringLiteral("sandbox");
        settings.limiter.caps = { { 40, milliseconds { 1000 } } };
        settings.closeCaps = { { 2, milliseconds { 1000 } } };
        settings.limiter.safetyFactor = 1.0;
        settings.dispatcher.coalescingWindow = milliseconds { 50 };
        settings.workers = 2;
        DeliveryEngine engine(settings, &metrics);
        QSignalSpy changed(&engine, &DeliveryEngine::snapshotChanged);
        const auto problem = engine.start();
        QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
        QVERIFY(engine.isRunning());

        std::vector<FireRequest> requests;
        for (int i = 0; i < 40; ++i)
            requests.push_back({ webhook(i, true), {} });
        for (int i = 100; i < 105; ++i)
            requests.push_back({ webhook(i, false), {} });
        FireOptions fire;
        fire.target = QUrl(QStringLiteral("http://127.0.0.1:%1/instantly/add_lead").arg(*port));
        fire.concurrency = 10;
        WebhookFirer firer(fire, std::move(requests));
        firer.start();
        QTRY_VERIFY_WITH_TIMEOUT(firer.isFinished(), 20'000);
        for (const FireResult &r : firer.results())
            QCOMPARE(r.status, 202);

        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), 45, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(engine.snapshot().delivered(), qint64(45), 5000);
        QVERIFY(changed.size() > 0); // the owner's thread heard about it
        const DeliverySnapshot s = engine.snapshot();
        QVERIFY(s.running);
        QCOMPARE(int(s.dispatchers.size()), 2);
        QCOMPARE(s.breaker, BreakerState::Closed);
        QCOMPARE(s.upstreamRateLimited, 0);
        QCOMPARE(s.configuredPerSecond, 40.0);

        // The five lookups went out together, as searches (one per dispatcher at most, since
        // they arrived together), within Close's own budget of 2/s; no lead was asked for
        // singly.
        int searches = 0, singles = 0;
        std::vector<qint64> closeTimes;
        for (const SandboxLogEntry &e : sandbox.requestLog()) {
            if (e.path.startsWith(QLatin1String("/api/v1/lead/")))
                ++singles;
            if (e.path.startsWith(QLatin1String("/api/v1/data/search/")))
                ++searches;
            if (!e.closeGroup.isEmpty())
                closeTimes.push_back(e.arrivedSteady.count());
            QVERIFY(e.status != 429);
        }
        QCOMPARE(singles, 0);
        QVERIFY2(searches >= 1 && searches <= 2, qPrintable(QString::number(searches)));
        const int closeRequests = searches;
        for (size_t i = 2; i < closeTimes.size(); ++i)
            QVERIFY2(closeTimes[i] - closeTimes[i - 2] >= 900,
                     "three Close requests within one second");

        const QByteArray page = metrics.render();
        QVERIFY2(page.contains("sluice_leads_delivered_total 45"), page.constData());
        const QByteArray closeLine
            = QByteArray("sluice_upstream_requests_total{api=\"close\",status=\"200\"} ")
            + QByteArray::number(closeRequests);
        QVERIFY2(page.contains(closeLine), page.constData());
        QVERIFY(page.contains("sluice_upstream_requests_total{api=\"instantly\",status=\"200\"}"));
        QVERIFY(page.contains("sluice_breaker_state 0"));
        QVERIFY(page.contains("sluice_limiter_effective_rate 40"));

        QVERIFY(engine.stop(milliseconds { 10'000 }));
        QVERIFY(!engine.isRunning());
        QVERIFY(!engine.snapshot().running);
    }

    void refusesBadSettingsWithoutStarting()
    {
        DeliverySettings settings;
        settings.workers = 0;
        DeliveryEngine engine(settings);
        const auto problem = engine.start();
        QVERIFY(problem.has_value());
        QVERIFY(problem->contains(QStringLiteral("workers")));
        QVERIFY(!engine.isRunning());
        settings.workers = 1;
        DeliveryEngine keyless(settings);
        QCOMPARE(keyless.start().value_or(QString()), QStringLiteral("no Instantly API key"));
    }
};

SLUICE_TEST_GUILESS_MAIN(TestDeliveryEngine)
#include "tst_deliveryengine.moc"
