// `sluice serve` as a process, the way an operator runs it: against the sandbox (in this
// test process) and its own private redis-server, webhooks posted concurrently end up in
// Instantly exactly once, duplicates are dropped, and SIGTERM ends it cleanly with exit 0.
#include "redis/redisserver.h"
#include "sandbox/sandboxserver.h"

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <nlohmann/json.hpp>

#include <csignal>

using namespace sluice;
using json = nlohmann::json;

namespace {

quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

QByteArray webhook(int i, const QString &campaign)
{
    const std::string n = std::to_string(i);
    const json body = {
        { "subscription_id", "sub_test" },
        { "event",
          { { "id", "ev_" + n },
            { "object_type", "task.lead" },
            { "action", "created" },
            { "lead_id", "lead_" + n },
            { "data",
              { { "text", "Instantly: " + campaign.toStdString() },
                { "lead_id", "lead_" + n } } } } },
        { "lead",
          { { "id", "lead_" + n },
            { "display_name", "Company " + n },
            { "contacts",
              json::array(
                  { { { "name", "Test Lead" + n },
                      { "emails",
                        json::array({ { { "email", "lead" + n + "@example.com" } } }) } } }) } } },
    };
    return QByteArray::fromStdString(body.dump());
}

/// True once the listener answers /healthz with 200 (it starts in the background).
bool waitUntilListening(QNetworkAccessManager &http, quint16 port)
{
    return QTest::qWaitFor(
        [&] {
            QNetworkReply *r = http.get(
                QNetworkRequest(QUrl(QStringLiteral("http://127.0.0.1:%1/healthz").arg(port))));
            const bool up = QTest::qWaitFor([r] { return r->isFinished(); }, 2000)
                && r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 200;
            r->deleteLater();
            return up;
        },
        20'000);
}

} // namespace

class TestServe : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void deliversWebhooksExactlyOnceAndStopsCleanly()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        json schedule = { { "name", "Spring Outreach" },
                          { "campaign_schedule",
                            { { "schedules", json::array({ { { "name", "x" } } }) } } } };
        QCOMPARE(sandbox.store().createCampaign(schedule).status, 200);

        QTemporaryDir dir;
        const quint16 port = freePort();
        QProcess serve;
        serve.setProcessChannelMode(QProcess::MergedChannels);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sandbox"));
        env.insert(QStringLiteral("CLOSE_API_KEY"), QStringLiteral("sandbox"));
        serve.setProcessEnvironment(env);
        serve.start(QStringLiteral(SLUICE_BINARY),
                    { QStringLiteral("serve"), QStringLiteral("--listen"),
                      QStringLiteral("127.0.0.1:%1").arg(port), QStringLiteral("--instantly-url"),
                      sandbox.baseUrl().toString(), QStringLiteral("--close-url"),
                      sandbox.baseUrl().toString(), QStringLiteral("--data-dir"),
                      dir.filePath(QStringLiteral("data")) });
        QVERIFY(serve.waitForStarted());

        QNetworkAccessManager http;
        const QUrl url(QStringLiteral("http://127.0.0.1:%1/instantly/add_lead").arg(port));
        auto post = [&](const QByteArray &body) {
            QNetworkRequest request(url);
            request.setHeader(QNetworkRequest::ContentTypeHeader,
                              QByteArrayLiteral("application/json"));
            return http.post(request, body);
        };
        QVERIFY(waitUntilListening(http, port));

        const int n = 60;
        QList<QNetworkReply *> replies;
        for (int i = 0; i < n; ++i)
            replies.append(post(webhook(i, QStringLiteral("Spring Outreach"))));
        replies.append(
            post(webhook(7, QStringLiteral("Spring Outreach")))); // Close delivered twice
        QTRY_VERIFY_WITH_TIMEOUT(std::all_of(replies.begin(), replies.end(),
                                             [](QNetworkReply *r) { return r->isFinished(); }),
                                 20'000);
        int accepted = 0, duplicates = 0;
        for (QNetworkReply *r : replies) {
            const int status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            accepted += status == 202 ? 1 : 0;
            duplicates += status == 200 ? 1 : 0;
            r->deleteLater();
        }
        QCOMPARE(accepted, n);
        QCOMPARE(duplicates, 1);

        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 30'000);
        const json leads = sandbox.store().allLeads();
        QSet<QString> emails;
        for (const json &lead : leads)
            emails.insert(QString::fromStdString(lead["email"].get<std::string>()));
        QCOMPARE(emails.size(), n); // none twice
        QCOMPARE(sandbox.worstWindow(std::chrono::milliseconds { 1000 }) <= 10, true);
        int limited = 0;
        for (const SandboxLogEntry &e : sandbox.requestLog())
            limited += e.status == 429 ? 1 : 0;
        QCOMPARE(limited, 0);

        ::kill(pid_t(serve.processId()), SIGTERM);
        QTRY_VERIFY_WITH_TIMEOUT(serve.state() == QProcess::NotRunning, 20'000);
        const QString log = QString::fromUtf8(serve.readAll());
        QVERIFY2(serve.exitStatus() == QProcess::NormalExit && serve.exitCode() == 0,
                 qPrintable(log));
        QVERIFY2(log.contains(QStringLiteral("stopped")), qPrintable(log));
        QVERIFY2(!log.contains(QStringLiteral("sandbox\"")), "the API key must not be logged");
    }

    /// SIGKILL in the middle of delivery, then a restart on the same Redis: every lead ends
    /// up in Instantly exactly once.
    void survivesSigkillMidDelivery()
    {
        SandboxOptions sandboxOptions;
        sandboxOptions.perSecond = 20;
        SandboxServer sandbox(sandboxOptions);
        QVERIFY(sandbox.start() != 0);
        json campaign = { { "name", "Crash Test" },
                          { "campaign_schedule",
                            { { "schedules", json::array({ { { "name", "x" } } }) } } } };
        QCOMPARE(sandbox.store().createCampaign(campaign).status, 200);
        test::RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTemporaryDir dir;
        const quint16 port = freePort();
        const QStringList args {
            QStringLiteral("serve"),           QStringLiteral("--single"),
            QStringLiteral("--burst-rate"),    QStringLiteral("20/s"),
            QStringLiteral("--listen"),        QStringLiteral("127.0.0.1:%1").arg(port),
            QStringLiteral("--instantly-url"), sandbox.baseUrl().toString(),
            QStringLiteral("--close-url"),     sandbox.baseUrl().toString(),
            QStringLiteral("--redis"),         redis.url(),
            QStringLiteral("--claim-idle"),    QStringLiteral("2s"),
            QStringLiteral("--data-dir"),      dir.filePath(QStringLiteral("data"))
        };
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sandbox"));
        QProcess first;
        first.setProcessEnvironment(env);
        first.setProcessChannelMode(QProcess::MergedChannels);
        first.start(QStringLiteral(SLUICE_BINARY), args);
        QVERIFY(first.waitForStarted());

        QNetworkAccessManager http;
        QVERIFY(waitUntilListening(http, port));
        const QUrl url(QStringLiteral("http://127.0.0.1:%1/instantly/add_lead").arg(port));
        const int n = 40;
        int accepted = 0;
        for (int i = 0; i < n; ++i) {
            QNetworkRequest request(url);
            request.setHeader(QNetworkRequest::ContentTypeHeader,
                              QByteArrayLiteral("application/json"));
            QNetworkReply *r = http.post(request, webhook(1000 + i, QStringLiteral("Crash Test")));
            QVERIFY(QTest::qWaitFor([r] { return r->isFinished(); }, 10'000));
            accepted
                += r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() == 202 ? 1 : 0;
            r->deleteLater();
        }
        QCOMPARE(accepted, n);
        // Kill it while leads are being delivered (20/s, one request each).
        QTRY_VERIFY_WITH_TIMEOUT(sandbox.store().leadCount() >= 5, 20'000);
        first.kill();
        QVERIFY(first.waitForFinished(10'000));
        QVERIFY2(sandbox.store().leadCount() < n,
                 "delivery finished before the kill; the test proves nothing");

        QProcess second;
        second.setProcessEnvironment(env);
        second.setProcessChannelMode(QProcess::MergedChannels);
        second.start(QStringLiteral(SLUICE_BINARY), args);
        QVERIFY(second.waitForStarted());
        // The killed consumer's unacknowledged entries are reclaimed once idle for 2 s.
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 120'000);
        QSet<QString> emails;
        for (const json &lead : sandbox.store().allLeads())
            emails.insert(QString::fromStdString(lead["email"].get<std::string>()));
        QCOMPARE(emails.size(), n);
        ::kill(pid_t(second.processId()), SIGTERM);
        QVERIFY(second.waitForFinished(20'000));
        QCOMPARE(second.exitCode(), 0);
    }

    void refusesBadOptionsClearly()
    {
        QProcess serve;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sandbox"));
        serve.setProcessEnvironment(env);
        serve.start(QStringLiteral(SLUICE_BINARY),
                    { QStringLiteral("serve"), QStringLiteral("--rate"), QStringLiteral("fast") });
        QVERIFY(serve.waitForFinished(20'000));
        QCOMPARE(serve.exitCode(), 2);
        QVERIFY(QString::fromUtf8(serve.readAllStandardError())
                    .contains(QStringLiteral("--rate: 'fast' is not a rate")));
    }
};

QTEST_GUILESS_MAIN(TestServe)
#include "tst_serve.moc"
