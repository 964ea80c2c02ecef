// `sluice serve` as a process, the way an operator runs it: against the sandbox (in this
// test process) and its own private redis-server, webhooks posted concurrently end up in
// Instantly exactly once, duplicates are dropped, and SIGTERM ends it cleanly with exit 0.
#include "common/suite.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace sluice;
using namespace sluice::test;

namespace {

/// redis-server processes working in `dir` (from /proc: their name and current directory).
int redisServersIn(const QString &dir)
{
    const QString wanted = QFileInfo(dir).canonicalFilePath();
    int n = 0;
    for (const QString &entry : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool isPid = false;
        entry.toLongLong(&isPid);
        if (!isPid)
            continue;
        QFile comm(QStringLiteral("/proc/%1/comm").arg(entry));
        if (!comm.open(QIODevice::ReadOnly) || !comm.readAll().startsWith("redis-server"))
            continue;
        if (QFileInfo(QStringLiteral("/proc/%1/cwd").arg(entry)).symLinkTarget() == wanted)
            ++n;
    }
    return n;
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
        QVERIFY(createCampaign(sandbox, QStringLiteral("Spring Outreach")));
        QVERIFY(seedCloseLeads(sandbox, 0, 60));

        ServeProcess serve(ServeSetup(sandbox.baseUrl()));
        QVERIFY2(serve.start(), qPrintable(serve.error()));

        QNetworkAccessManager http;
        auto post = [&](const QByteArray &body) {
            QNetworkRequest request(serve.addLeadUrl());
            request.setHeader(QNetworkRequest::ContentTypeHeader,
                              QByteArrayLiteral("application/json"));
            return http.post(request, body);
        };
        const int n = 60;
        QList<QNetworkReply *> replies;
        for (int i = 0; i < n; ++i)
            replies.append(post(closeWebhook(i, QStringLiteral("Spring Outreach"))));
        replies.append(
            post(closeWebhook(7, QStringLiteral("Spring Outreach")))); // Close delivered twice
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
        const QStringList emails = sandboxEmails(sandbox);
        QCOMPARE(emails.size(), n); // none twice
        QCOMPARE(QSet<QString>(emails.begin(), emails.end()), webhookEmails(0, n));
        QCOMPARE(sandbox.worstWindow(std::chrono::milliseconds { 1000 }) <= 10, true);
        QCOMPARE(sandboxAnswers(sandbox, 429), 0);

        // /healthz's forecast: the stream drained, the per-minute cap (600 by default) less
        // what the fleet sent in the minute, and no 429 to explain.
        nlohmann::json forecast;
        QTRY_VERIFY2_WITH_TIMEOUT(
            (forecast = serve.health().parsed().value("forecast", nlohmann::json())).is_object()
                && forecast.value("backlog", -1) == 0
                && forecast["budget_left_this_minute"].is_number()
                && forecast.value("budget_left_this_minute", 600) < 600,
            forecast.dump().c_str(), 10'000);
        QVERIFY2(forecast.value("budget_left_this_minute", -1) >= 600 - 30,
                 forecast.dump().c_str());
        QCOMPARE(forecast.value("time_to_drain_ms", -1), 0);
        QCOMPARE(forecast.value("unexplained_429", -1), 0);

        const bool clean = serve.terminate();
        QVERIFY2(clean, qPrintable(serve.exitSummary()));
        QVERIFY2(serve.log().contains(QStringLiteral("stopped")), qPrintable(serve.exitSummary()));
        QVERIFY2(!serve.log().contains(QStringLiteral("sandbox\"")),
                 "the API key must not be logged");
    }

    /// SIGKILL in the middle of delivery, then a restart on the same Redis and data directory:
    /// the restarted serve is the same instance, takes back its own unsettled leads at once
    /// (not after --claim-idle, 10 minutes here), and every lead ends up in Instantly once.
    void survivesSigkillMidDelivery()
    {
        SandboxOptions sandboxOptions;
        sandboxOptions.perSecond = 20;
        SandboxServer sandbox(sandboxOptions);
        QVERIFY(sandbox.start() != 0);
        QVERIFY(createCampaign(sandbox, QStringLiteral("Crash Test")));
        QVERIFY(seedCloseLeads(sandbox, 1000, 40));
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        QTemporaryDir dir;
        ServeSetup setup { sandbox.baseUrl(),
                           redis.url(),
                           { QStringLiteral("--single"), QStringLiteral("--burst-rate"),
                             QStringLiteral("20/s"), QStringLiteral("--claim-idle"),
                             QStringLiteral("10m") } };
        setup.dataDir = dir.filePath(QStringLiteral("data"));
        ServeProcess first(setup);
        QVERIFY2(first.start(), qPrintable(first.error()));

        const int n = 40;
        int accepted = 0;
        for (int i = 0; i < n; ++i) {
            const HttpReply r = first.post(QStringLiteral("/instantly/add_lead"),
                                           closeWebhook(1000 + i, QStringLiteral("Crash Test")));
            accepted += r.status == 202 ? 1 : 0;
        }
        QCOMPARE(accepted, n);
        // Kill it while leads are being delivered (one request each, 8/s: 80% of 600/min).
        QTRY_VERIFY_WITH_TIMEOUT(sandbox.store().leadCount() >= 5, 20'000);
        first.kill();
        QVERIFY2(sandbox.store().leadCount() < n,
                 "delivery finished before the kill; the test proves nothing");

        setup.port = first.port();
        ServeProcess second(setup);
        QVERIFY2(second.start(), qPrintable(second.error()));
        // Its own earlier entries, taken back at once: far sooner than --claim-idle.
        QTRY_COMPARE_WITH_TIMEOUT(sandbox.store().leadCount(), n, 60'000);
        const QRegularExpression instance(QStringLiteral("instance (\\S+) \\(slot 0"));
        const auto firstName = instance.match(first.log());
        QVERIFY2(firstName.hasMatch(), qPrintable(first.exitSummary()));
        QVERIFY2(
            second.log().contains(QStringLiteral("instance %1 (slot 0").arg(firstName.captured(1))),
            qPrintable(second.exitSummary()));
        const QStringList emails = sandboxEmails(sandbox);
        QCOMPARE(emails.size(), n);
        QCOMPARE(QSet<QString>(emails.begin(), emails.end()), webhookEmails(1000, n));
        QVERIFY2(second.terminate(), qPrintable(second.exitSummary()));
    }

    /// The smallest clean stop: started, asked nothing, SIGTERM. Exit code 0 and nothing left
    /// behind (under the asan preset, a leak at exit makes the exit code non-zero).
    void stopsCleanlyRightAfterStart()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        RedisServer redis;
        QVERIFY2(redis.start(), qPrintable(redis.errorString()));
        ServeProcess serve(ServeSetup(sandbox.baseUrl(), redis.url()));
        QVERIFY2(serve.start(), qPrintable(serve.error()));
        QVERIFY2(serve.terminate(), qPrintable(serve.exitSummary(3000)));
    }

    /// A second serve on the same data directory finds the private redis-server running but
    /// not answering (busy, or loading a large AOF; here SIGSTOPped): it waits, then gives up
    /// saying so, and never starts a second server on the same append-only file.
    void aBusyPrivateRedisIsWaitedForNeverReplaced()
    {
        SandboxServer sandbox;
        QVERIFY(sandbox.start() != 0);
        QTemporaryDir dir(QDir::tempPath() + QStringLiteral("/sluice-bz-XXXXXX")); // short: socket
        QVERIFY(dir.isValid());
        ServeSetup setup(sandbox.baseUrl()); // no --redis: the private redis-server
        setup.dataDir = dir.filePath(QStringLiteral("d"));
        ServeProcess first(setup);
        QVERIFY2(first.start(), qPrintable(first.error()));
        const QString redisDir = QDir(setup.dataDir).filePath(QStringLiteral("redis"));
        QFile pidFile(QDir(redisDir).filePath(QStringLiteral("redis.pid")));
        QVERIFY(pidFile.open(QIODevice::ReadOnly));
        const qint64 pid = pidFile.readAll().trimmed().toLongLong();
        QVERIFY(pid > 0);
        QCOMPARE(redisServersIn(redisDir), 1);

        QVERIFY(::kill(pid_t(pid), SIGSTOP) == 0);
        ServeProcess second(setup);
        const bool started = second.start(60'000);
        const int servers = redisServersIn(redisDir);
        ::kill(pid_t(pid), SIGCONT);
        QVERIFY2(!started, "a serve started while the private redis-server could not answer");
        QVERIFY2(second.log().contains(QStringLiteral("never replaced")), qPrintable(second.log()));
        QCOMPARE(servers, 1);

        // The first serve carries on, and as the last user takes its redis-server with it.
        QTRY_COMPARE_WITH_TIMEOUT(first.health().status, 200, 10'000);
        QVERIFY2(first.terminate(), qPrintable(first.exitSummary()));
        QTRY_VERIFY_WITH_TIMEOUT(::kill(pid_t(pid), 0) != 0, 10'000);
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

SLUICE_TEST_GUILESS_MAIN(TestServe)
#include "tst_serve.moc"
