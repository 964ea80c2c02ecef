#pragma once

// What the process-level suites share: a `sluice serve` child process, Close webhook bodies,
// the load generator, and questions to the sandbox ("which emails arrived?").

#include "common/httpreply.h"
#include "common/validschedule.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "runs/webhookfirer.h"
#include "sandbox/sandboxserver.h"
#include "store/rediskeys.h"

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

/// Close lead `lead_<i>` as Close holds it: one contact with webhookEmail(i).
inline nlohmann::json closeLeadJson(int i)
{
    using json = nlohmann::json;
    const std::string n = std::to_string(i);
    return { { "id", "lead_" + n },
             { "display_name", "Company " + n },
             { "contacts",
               json::array(
                   { { { "name", "Test Lead" + n },
                       { "emails",
                         json::array({ { { "email", webhookEmail(i).toStdString() } } }) } } }) } };
}

/// Puts Close leads `first` .. `first + count - 1` in the sandbox's Close, as Close would hold
/// the leads its webhooks name; false if the sandbox refused one.
inline bool seedCloseLeads(SandboxServer &sandbox, int first, int count)
{
    for (int i = first; i < first + count; ++i)
        if (sandbox.store().putCloseLead(closeLeadJson(i)).status != 200)
            return false;
    return true;
}

enum class LeadShape {
    LeadLess, ///< as Close sends it: the task and its lead id only (seed the lead first)
    Inline, ///< with a top-level `lead`: a test convenience, no lookup needed
};

/// A Close `task.lead` / `created` webhook for lead `i` (event id `ev_<i>`) whose task text
/// names `campaign`. Lead-less by default, as Close sends every webhook: the serve under test
/// looks `lead_<i>` up in the sandbox's Close (seedCloseLeads()).
inline QByteArray closeWebhook(int i, const QString &campaign,
                               LeadShape shape = LeadShape::LeadLess)
{
    using json = nlohmann::json;
    const std::string n = std::to_string(i);
    json body = {
        { "subscription_id", "sub_test" },
        { "event",
          { { "id", "ev_" + n },
            { "object_type", "task.lead" },
            { "action", "created" },
            { "lead_id", "lead_" + n },
            { "object_id", "task_" + n },
            { "data",
              { { "text", "Instantly: " + campaign.toStdString() },
                { "lead_id", "lead_" + n } } } } },
    };
    if (shape == LeadShape::Inline)
        body["lead"] = closeLeadJson(i);
    return QByteArray::fromStdString(body.dump());
}

/// Creates a campaign in the sandbox's workspace; false if the sandbox refused.
inline bool createCampaign(SandboxServer &sandbox, const QString &name)
{
    const nlohmann::json body = { { "name", name.toStdString() },
                                  { "campaign_schedule", sluice::test::validCampaignSchedule() } };
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

/// Empty when the sandbox holds exactly the leads with `expected` emails, each once; otherwise
/// what is wrong (leads stored twice, missing or unexpected emails, a few of each named).
inline QString exactlyOnceProblem(SandboxServer &sandbox, const QSet<QString> &expected)
{
    const QStringList emails = sandboxEmails(sandbox);
    const QSet<QString> got(emails.begin(), emails.end());
    QStringList problems;
    if (emails.size() != got.size())
        problems.append(
            QStringLiteral("%1 lead(s) stored more than once").arg(emails.size() - got.size()));
    auto some = [](const QSet<QString> &set) {
        QStringList list(set.begin(), set.end());
        list.sort();
        return list.mid(0, 5).join(QStringLiteral(", "));
    };
    const QSet<QString> missing = expected - got;
    if (!missing.isEmpty())
        problems.append(
            QStringLiteral("%1 missing (%2 ...)").arg(missing.size()).arg(some(missing)));
    const QSet<QString> extra = got - expected;
    if (!extra.isEmpty())
        problems.append(
            QStringLiteral("%1 unexpected (%2 ...)").arg(extra.size()).arg(some(extra)));
    return problems.join(QStringLiteral("; "));
}

/// Requests the sandbox logged for `path` (any status, any method).
inline int sandboxRequests(const SandboxServer &sandbox, const QString &path)
{
    int n = 0;
    for (const SandboxLogEntry &e : sandbox.requestLog())
        n += e.path == path ? 1 : 0;
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

/// Posts `requests` over `concurrency` keep-alive connections per target with one
/// WebhookFirer per target, all at once: request i goes to targets[i % targets.size()]. Waits
/// until every one is answered (or `waitMs` passed: then some are unsent). The results are
/// index-aligned with `requests`.
inline std::vector<FireResult> fireWebhooks(const QList<QUrl> &targets,
                                            std::vector<FireRequest> requests, int concurrency,
                                            int waitMs = 120'000)
{
    const size_t k = size_t(targets.size());
    std::vector<std::vector<FireRequest>> shares(k);
    for (size_t i = 0; i < requests.size(); ++i)
        shares[i % k].push_back(std::move(requests[i]));
    std::vector<std::unique_ptr<WebhookFirer>> firers;
    for (size_t t = 0; t < k; ++t) {
        FireOptions options;
        options.target = targets[qsizetype(t)];
        options.concurrency = concurrency;
        firers.push_back(std::make_unique<WebhookFirer>(options, std::move(shares[t])));
    }
    auto allFinished = [&] {
        return std::all_of(firers.begin(), firers.end(),
                           [](const auto &f) { return f->isFinished(); });
    };
    QEventLoop loop;
    for (const auto &firer : firers)
        QObject::connect(firer.get(), &WebhookFirer::finished, &loop, [&] {
            if (allFinished())
                loop.quit();
        });
    QTimer::singleShot(waitMs, &loop, &QEventLoop::quit);
    for (const auto &firer : firers)
        firer->start();
    if (!allFinished())
        loop.exec();
    if (!allFinished()) {
        for (const auto &firer : firers)
            firer->stop();
        (void)QTest::qWaitFor(allFinished, 35'000);
    }
    std::vector<FireResult> results(requests.size());
    for (size_t i = 0; i < results.size(); ++i) {
        const auto &share = firers[i % k]->results();
        if (i / k < share.size())
            results[i] = share[i / k];
    }
    return results;
}

inline std::vector<FireResult> fireWebhooks(const QUrl &target, std::vector<FireRequest> requests,
                                            int concurrency, int waitMs = 120'000)
{
    return fireWebhooks(QList<QUrl> { target }, std::move(requests), concurrency, waitMs);
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

/// Sums over the progress hashes of every task (RedisKeys::task), for "every lead once".
struct TaskTotals
{
    int tasks = 0;
    qint64 total = 0, processed = 0, succeeded = 0, skipped = 0, failed = 0, dead = 0;
    int done = 0; ///< tasks in state "done"
    QString error; ///< set when Redis could not be read

    QString describe() const
    {
        if (!error.isEmpty())
            return error;
        return QStringLiteral("%1 tasks (%2 done): total %3, processed %4, succeeded %5, "
                              "skipped %6, failed %7, dead %8")
            .arg(tasks)
            .arg(done)
            .arg(total)
            .arg(processed)
            .arg(succeeded)
            .arg(skipped)
            .arg(failed)
            .arg(dead);
    }
};

/// The test's own connection to the Redis a serve uses, to look at what it stored.
class RedisProbe
{
public:
    explicit RedisProbe(const QString &url, const QString &ns = QStringLiteral("default"))
        : m_keys(ns)
    {
        RedisOptions options;
        options.url = url;
        m_client = std::make_unique<RedisClient>(options);
        m_client->connectToServer();
    }

    const RedisKeys &keys() const { return m_keys; }
    RedisClient &client() { return *m_client; }
    RedisResult run(const QList<QByteArray> &argv) { return execute(*m_client, argv); }
    /// An integer reply (XLEN, SCARD, ZCARD, EXISTS, ...); -1 when the command failed.
    qint64 integer(const QList<QByteArray> &argv)
    {
        const RedisResult r = run(argv);
        return r.ok() && r.value().isInteger() ? r.value().integer() : -1;
    }
    qint64 streamLength(const QByteArray &key) { return integer({ "XLEN", key }); }
    /// Members of the delivered set ("<campaign id>|<email>").
    qint64 deliveredCount() { return integer({ "ZCARD", m_keys.delivered() }); }
    qint64 deadLetterCount() { return integer({ "XLEN", m_keys.deadLetters() }); }
    qint64 taskCount() { return integer({ "ZCARD", m_keys.tasks() }); }
    /// Nothing left to deliver: the stream is empty (settled entries are deleted from it) and
    /// no retry waits.
    bool queueEmpty()
    {
        return streamLength(m_keys.leads()) == 0 && integer({ "ZCARD", m_keys.retries() }) == 0;
    }

    TaskTotals taskTotals()
    {
        const RedisResult ids = run({ "ZRANGE", m_keys.tasks(), "0", "-1" });
        if (!ids.ok()) {
            TaskTotals t;
            t.error = ids.error().describe();
            return t;
        }
        // Pipelined: every HMGET goes out at once, the replies are summed as they come. The
        // callbacks share the sums, so a late one after a timeout touches nothing gone.
        struct Sum
        {
            TaskTotals totals;
            int pending = 0;
        };
        auto sum = std::make_shared<Sum>();
        for (const RedisReply &id : ids.value().elements()) {
            ++sum->pending;
            m_client->command({ "HMGET", m_keys.task(QString::fromUtf8(id.bytes())), "total",
                                "processed", "succeeded", "skipped", "failed", "dead", "state" },
                              [sum](RedisResult r) {
                                  --sum->pending;
                                  TaskTotals &t = sum->totals;
                                  if (!r.ok()) {
                                      t.error = r.error().describe();
                                      return;
                                  }
                                  const auto &v = r.value().elements();
                                  ++t.tasks;
                                  t.total += v.at(0).bytes().toLongLong();
                                  t.processed += v.at(1).bytes().toLongLong();
                                  t.succeeded += v.at(2).bytes().toLongLong();
                                  t.skipped += v.at(3).bytes().toLongLong();
                                  t.failed += v.at(4).bytes().toLongLong();
                                  t.dead += v.at(5).bytes().toLongLong();
                                  t.done += v.at(6).bytes() == "done" ? 1 : 0;
                              });
        }
        TaskTotals t = sum->totals;
        if (!QTest::qWaitFor([sum] { return sum->pending == 0; }, 30'000))
            t.error = QStringLiteral("Redis did not answer every HMGET");
        else
            t = sum->totals;
        return t;
    }

    /// The shared breaker's logged transitions (its `:transitions` stream), as "from>to".
    QStringList breakerTransitions()
    {
        QStringList out;
        const RedisResult r = run({ "XRANGE", m_keys.breaker() + ":transitions", "-", "+" });
        if (!r.ok())
            return out;
        for (const RedisReply &entry : r.value().elements()) {
            QByteArray from, to;
            const auto &fields = entry.at(1).elements();
            for (size_t i = 0; i + 1 < fields.size(); i += 2) {
                if (fields[i].bytes() == "from")
                    from = fields[i + 1].bytes();
                else if (fields[i].bytes() == "to")
                    to = fields[i + 1].bytes();
            }
            out.append(QString::fromUtf8(from + '>' + to));
        }
        return out;
    }

private:
    RedisKeys m_keys;
    std::unique_ptr<RedisClient> m_client;
};

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
    /// The spool file the intake writes while Redis is unreachable (one per process:
    /// intake-spool-<instance>.jsonl; this serve is the only process in its data directory).
    QString spoolPath() const
    {
        const QDir dir(m_setup.dataDir);
        const QStringList spools
            = dir.entryList({ QStringLiteral("intake-spool-*.jsonl") }, QDir::Files);
        return dir.filePath(spools.isEmpty() ? QStringLiteral("intake-spool-(none).jsonl")
                                             : spools.constFirst());
    }

    /// Everything the process printed so far.
    QString log() const { return QString::fromUtf8(m_log); }
    /// How it ended and the end of its output: QTest cuts long messages short, and the end
    /// (a sanitizer report, the last error) is what tells why.
    QString exitSummary(qsizetype tailChars = 700) const
    {
        const QString state = isRunning()
            ? QStringLiteral("still running")
            : QStringLiteral("%1 with code %2")
                  .arg(m_process.exitStatus() == QProcess::NormalExit ? QStringLiteral("exited")
                                                                      : QStringLiteral("crashed"))
                  .arg(m_process.exitCode());
        return QStringLiteral("sluice serve %1; its output ends:\n%2")
            .arg(state, log().right(tailChars));
    }
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
