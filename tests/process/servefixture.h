#pragma once

// What the process-level suites share: a `sluice serve` child process, Close webhook bodies,
// the load generator, and questions to the sandbox ("which emails arrived?").

#include "common/httpreply.h"
#include "runs/webhookfirer.h"
#include "sandbox/sandboxserver.h"

#include <QDir>
#include <QEventLoop>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSet>
#include <QStringList>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <nlohmann/json.hpp>

#include <csignal>
#include <memory>
#include <vector>

#ifndef SLUICE_BINARY
#error "SLUICE_BINARY (the sluice executable) must be defined; see tests/process/CMakeLists.txt"
#endif

namespace sluice::test {

/// A loopback port that was free a moment ago (a tiny race with other processes).
inline quint16 freeTcpPort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

/// The email of webhook `i`'s lead.
inline QString webhookEmail(int i)
{
    return QStringLiteral("lead%1@example.com").arg(i);
}

/// The emails of webhooks first .. first + count - 1.
inline QSet<QString> webhookEmails(int first, int count)
{
    QSet<QString> emails;
    for (int i = first; i < first + count; ++i)
        emails.insert(webhookEmail(i));
    return emails;
}

/// A Close `task.lead` / `created` webhook for lead `i` (event id `ev_<i>`) whose task text
/// names `campaign`, with the lead inline, so no Close lookup is needed.
inline QByteArray closeWebhook(int i, const QString &campaign)
{
    using json = nlohmann::json;
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
              json::array({ { { "name", "Test Lead" + n },
                              { "emails",
                                json::array({ { { "email",
                                                  webhookEmail(i).toStdString() } } }) } } }) } } },
    };
    return QByteArray::fromStdString(body.dump());
}

/// Creates a campaign in the sandbox's workspace; false if the sandbox refused.
inline bool createCampaign(SandboxServer &sandbox, const QString &name)
{
    const nlohmann::json body
        = { { "name", name.toStdString() },
            { "campaign_schedule",
              { { "schedules", nlohmann::json::array({ { { "name", "x" } } }) } } } };
    return sandbox.store().createCampaign(body).status == 200;
}

/// The email of every lead in the sandbox, one entry per lead: a lead stored twice appears
/// twice, so compare both the size and the set.
inline QStringList sandboxEmails(SandboxServer &sandbox)
{
    QStringList emails;
    for (const nlohmann::json &lead : sandbox.store().allLeads())
        emails.append(QString::fromStdString(lead["email"].get<std::string>()));
    return emails;
}

/// How many requests the sandbox answered with `status`.
inline int sandboxAnswers(const SandboxServer &sandbox, int status)
{
    int n = 0;
    for (const SandboxLogEntry &e : sandbox.requestLog())
        n += e.status == status ? 1 : 0;
    return n;
}

/// Waits for a reply (events keep flowing) and copies its answer; status 0 when none came.
inline HttpReply awaitReply(QNetworkReply *reply, int timeoutMs = 10'000)
{
    if (!reply->isFinished()) {
        QEventLoop loop;
        QObject::connect(reply, &QNetworkReply::finished, &loop, &QEventLoop::quit);
        QTimer::singleShot(timeoutMs, &loop, &QEventLoop::quit);
        loop.exec();
    }
    if (!reply->isFinished()) {
        reply->abort();
        reply->deleteLater();
        return {};
    }
    return HttpReply::from(reply);
}

/// Posts `requests` to `target` over `concurrency` keep-alive connections with WebhookFirer and
/// waits until every one is answered (or `waitMs` passed: then some results are unsent).
inline std::vector<FireResult> fireWebhooks(const QUrl &target, std::vector<FireRequest> requests,
                                            int concurrency, int waitMs = 120'000)
{
    FireOptions options;
    options.target = target;
    options.concurrency = concurrency;
    WebhookFirer firer(options, std::move(requests));
    QEventLoop loop;
    QObject::connect(&firer, &WebhookFirer::finished, &loop, &QEventLoop::quit);
    QTimer::singleShot(waitMs, &loop, &QEventLoop::quit);
    firer.start();
    if (!firer.isFinished())
        loop.exec();
    if (!firer.isFinished()) {
        firer.stop();
        (void)QTest::qWaitFor([&] { return firer.isFinished(); }, 35'000);
    }
    return firer.results();
}

/// Close webhooks first .. first + count - 1 for `campaign`, ready to fire.
inline std::vector<FireRequest> webhookRequests(int first, int count, const QString &campaign)
{
    std::vector<FireRequest> requests;
    requests.reserve(size_t(count));
    for (int i = first; i < first + count; ++i)
        requests.push_back({ closeWebhook(i, campaign), {} });
    return requests;
}

/// Statuses of results that are not 202 with a task id, "status xx: error" each, for messages.
inline QStringList unacceptedAnswers(const std::vector<FireResult> &results)
{
    QStringList bad;
    for (size_t i = 0; i < results.size(); ++i) {
        const FireResult &r = results[i];
        if (r.status != 202 || !r.body.contains("\"task_id\""))
            bad.append(QStringLiteral("#%1: %2 %3 %4")
                           .arg(i)
                           .arg(r.status)
                           .arg(r.error, QString::fromUtf8(r.body.left(200))));
    }
    return bad;
}

/// How one `sluice serve` is started. The process gets INSTANTLY_API_KEY and CLOSE_API_KEY
/// "sandbox" (the sandbox's keys) besides the test's own environment.
struct ServeSetup
{
    ServeSetup(QUrl sandboxUrl, QString redis = {}, QStringList flags = {})
        : sandbox(std::move(sandboxUrl))
        , redisUrl(std::move(redis))
        , args(std::move(flags))
    { }

    QUrl sandbox; ///< --instantly-url and --close-url
    QString redisUrl; ///< --redis; empty: the serve starts its private redis-server
    QStringList args; ///< more flags (--single, --burst-rate 20/s, ...)
    QList<QPair<QString, QString>> env; ///< more environment (CLOSE_WEBHOOK_SECRET, ...)
    QString dataDir; ///< --data-dir; empty: a temporary directory of the ServeProcess
    quint16 port = 0; ///< --listen 127.0.0.1:port; 0: a free port
};

/// `sluice serve` as a child process, the way an operator runs it. Its output (stdout and
/// stderr) is collected all along, so a chatty serve never blocks on a full pipe; the process
/// is killed when this object goes, so a failed test leaves nothing running.
class ServeProcess
{
public:
    explicit ServeProcess(ServeSetup setup)
        : m_setup(std::move(setup))
    {
        if (m_setup.port == 0)
            m_setup.port = freeTcpPort();
        if (m_setup.dataDir.isEmpty())
            m_setup.dataDir = m_dir.filePath(QStringLiteral("data"));
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        QObject::connect(&m_process, &QProcess::readyReadStandardOutput, &m_process,
                         [this] { m_log += m_process.readAllStandardOutput(); });
    }
    ~ServeProcess() { kill(); }
    ServeProcess(const ServeProcess &) = delete;
    ServeProcess &operator=(const ServeProcess &) = delete;

    /// Starts the process and waits until GET /healthz answers 200. False (see error()) if it
    /// exits or does not answer within `timeoutMs`.
    bool start(int timeoutMs = 30'000)
    {
        QStringList args { QStringLiteral("serve"),
                           QStringLiteral("--listen"),
                           QStringLiteral("127.0.0.1:%1").arg(m_setup.port),
                           QStringLiteral("--instantly-url"),
                           m_setup.sandbox.toString(),
                           QStringLiteral("--close-url"),
                           m_setup.sandbox.toString(),
                           QStringLiteral("--data-dir"),
                           m_setup.dataDir };
        if (!m_setup.redisUrl.isEmpty())
            args << QStringLiteral("--redis") << m_setup.redisUrl;
        args << m_setup.args;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("sandbox"));
        env.insert(QStringLiteral("CLOSE_API_KEY"), QStringLiteral("sandbox"));
        for (const auto &[name, value] : m_setup.env)
            env.insert(name, value);
        m_process.setProcessEnvironment(env);
        m_log.clear();
        m_process.start(QStringLiteral(SLUICE_BINARY), args);
        if (!m_process.waitForStarted(10'000)) {
            m_error = QStringLiteral("sluice serve did not start: ") + m_process.errorString();
            return false;
        }
        const bool up
            = QTest::qWaitFor([this] { return !isRunning() || health().status == 200; }, timeoutMs);
        if (!up || !isRunning()) {
            m_error
                = QStringLiteral("sluice serve did not answer /healthz (%1):\n%2")
                      .arg(isRunning() ? QStringLiteral("timed out") : QStringLiteral("it exited"),
                           log());
            return false;
        }
        return true;
    }

    /// SIGTERM, then waits for the exit. True when it exited normally with code 0.
    bool terminate(int timeoutMs = 30'000)
    {
        if (!isRunning())
            return false;
        ::kill(pid_t(m_process.processId()), SIGTERM);
        if (!QTest::qWaitFor([this] { return !isRunning(); }, timeoutMs))
            return false;
        m_log += m_process.readAll();
        return m_process.exitStatus() == QProcess::NormalExit && m_process.exitCode() == 0;
    }

    /// SIGKILL, as in a crash; waits until the process is gone.
    void kill()
    {
        if (!isRunning())
            return;
        m_process.kill();
        m_process.waitForFinished(10'000);
        m_log += m_process.readAll();
    }

    bool isRunning() const { return m_process.state() != QProcess::NotRunning; }

    /// GET /healthz: status 0 when no answer came.
    HttpReply health(int timeoutMs = 2000) { return get(QStringLiteral("/healthz"), timeoutMs); }
    HttpReply get(const QString &path, int timeoutMs = 10'000)
    {
        return awaitReply(m_http.get(QNetworkRequest(url(path))), timeoutMs);
    }
    /// POST with Content-Type application/json (unless `headers` name another) and `headers`.
    HttpReply post(const QString &path, const QByteArray &body,
                   const QList<QPair<QByteArray, QByteArray>> &headers = {})
    {
        QNetworkRequest request(url(path));
        request.setRawHeader("Content-Type", "application/json");
        for (const auto &[name, value] : headers)
            request.setRawHeader(name, value);
        return awaitReply(m_http.post(request, body));
    }

    QUrl url(const QString &path) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_setup.port).arg(path));
    }
    QUrl addLeadUrl() const { return url(QStringLiteral("/instantly/add_lead")); }
    quint16 port() const { return m_setup.port; }
    const ServeSetup &setup() const { return m_setup; }
    /// The spool file the intake writes while Redis is unreachable.
    QString spoolPath() const
    {
        return QDir(m_setup.dataDir).filePath(QStringLiteral("intake-spool.jsonl"));
    }

    /// Everything the process printed so far.
    QString log() const { return QString::fromUtf8(m_log); }
    QString error() const { return m_error; }
    QProcess &process() { return m_process; }
    QNetworkAccessManager &http() { return m_http; }

private:
    ServeSetup m_setup;
    QTemporaryDir m_dir;
    QByteArray m_log;
    QString m_error;
    QNetworkAccessManager m_http;
    QProcess m_process; ///< last: its output handler writes m_log
};

} // namespace sluice::test
