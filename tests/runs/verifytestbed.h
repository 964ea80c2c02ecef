#pragma once

#include "breaker/sharedbreaker.h"
#include "common/apiwait.h"
#include "common/validschedule.h"
#include "core/jsonvariant.h"
#include "instantly/instantlyclient.h"
#include "limiter/sharedratelimiter.h"
#include "net/upstreamgate.h"
#include "redis/capturedreply.h"
#include "redis/redisclient.h"
#include "runs/run.h"
#include "sandbox/sandboxserver.h"
#include "store/rediskeys.h"

#include <QTest>

#include <nlohmann/json.hpp>

#include <memory>

namespace sluice::test {

/// What verify and clean-up meet in production, in one process: an in-process sandbox with
/// this team's real limits (10/s, 600/min), a real redis-server, and an InstantlyClient gated
/// by the shared limiter and breaker with their default options. Test data is planted through
/// the sandbox's store, not over HTTP, so setting up spends none of the workspace's budget and
/// the request log holds only what the code under test sent.
class VerifyTestbed
{
public:
    /// Call from init(); QVERIFY failures end the test there.
    void setUp(const QString &redisUrl, const QString &ns)
    {
        keys = RedisKeys(ns);
        sandbox = std::make_unique<SandboxServer>(SandboxOptions {});
        QVERIFY(sandbox->start() != 0);
        RedisOptions redisOptions;
        redisOptions.url = redisUrl;
        redis = std::make_unique<RedisClient>(redisOptions);
        redis->connectToServer();
        limiter
            = std::make_unique<SharedRateLimiter>(redis.get(), keys.limiter(), LimiterOptions {});
        breaker = std::make_unique<SharedBreaker>(redis.get(), keys.breaker(), BreakerOptions {});
        gate = std::make_unique<UpstreamGate>(limiter.get(), breaker.get(), nullptr);
        client = std::make_unique<InstantlyClient>(instantlyOptions());
        client->transport()->setGate(gate.get());
    }

    /// Call from cleanup().
    void tearDown()
    {
        client.reset();
        gate.reset();
        breaker.reset();
        limiter.reset();
        redis.reset();
        sandbox.reset();
    }

    InstantlyOptions instantlyOptions() const
    {
        InstantlyOptions options;
        options.baseUrl = sandbox->baseUrl();
        options.apiKey = sandbox->options().apiKey;
        options.timeout = std::chrono::milliseconds { 5000 };
        return options;
    }

    /// A run of `leads` leads for `campaign`, stamped uniquely per call.
    RunDefinition run(int leads, const QString &campaign)
    {
        ++m_runs;
        RunDefinition d;
        d.id = QStringLiteral("run-test-%1").arg(m_runs);
        d.leads = leads;
        d.campaign = campaign;
        d.timestamp = QString::number(1764400000 + m_runs);
        return d;
    }

    QString createCampaign(const QString &name)
    {
        const nlohmann::json body = {
            { "name", name.toStdString() },
            { "campaign_schedule", sluice::test::validCampaignSchedule() },
        };
        const StoreReply r = sandbox->store().createCampaign(body);
        if (r.status != 200)
            qWarning("createCampaign: %s", r.body->dump().c_str());
        return QString::fromStdString((*r.body)["id"].get<std::string>());
    }

    static nlohmann::json leadJson(const Lead &lead)
    {
        nlohmann::json vars = nlohmann::json::object();
        for (auto it = lead.customVariables.cbegin(); it != lead.customVariables.cend(); ++it)
            vars[it.key().toStdString()] = variantToJson(it.value());
        return { { "email", lead.email.toStdString() },
                 { "first_name", lead.firstName.toStdString() },
                 { "last_name", lead.lastName.toStdString() },
                 { "company_name", lead.companyName.toStdString() },
                 { "custom_variables", vars } };
    }

    /// Every lead of `run` straight into the campaign, as if delivered.
    void plantRun(const RunDefinition &run, const QString &campaignId)
    {
        nlohmann::json leads = nlohmann::json::array();
        auto flush = [&]() {
            const StoreReply r = sandbox->store().addLeads(
                { { "campaign_id", campaignId.toStdString() }, { "leads", leads } });
            QCOMPARE(r.status, 200);
            QCOMPARE((*r.body)["leads_uploaded"].get<int>(), int(leads.size()));
            leads = nlohmann::json::array();
        };
        for (int i = 1; i <= run.leads; ++i) {
            leads.push_back(leadJson(run.lead(i)));
            if (leads.size() == 1000)
                flush();
        }
        if (!leads.empty())
            flush();
    }

    /// One more lead in the campaign, even when its address is there already.
    void plant(const QString &campaignId, const QString &email)
    {
        const StoreReply r = sandbox->store().createLead(
            { { "email", email.toStdString() }, { "campaign", campaignId.toStdString() } });
        QCOMPARE(r.status, 200);
    }

    /// Deletes the campaign's lead with this address behind Sluice's back; false if none.
    bool removeLead(const QString &campaignId, const QString &email)
    {
        for (const nlohmann::json &lead : sandbox->store().allLeads(campaignId)) {
            if (QString::fromStdString(lead["email"].get<std::string>())
                    .compare(email, Qt::CaseInsensitive)
                == 0)
                return sandbox->store()
                           .deleteLead(QString::fromStdString(lead["id"].get<std::string>()))
                           .status
                    == 200;
        }
        return false;
    }

    /// The campaign's addresses in the sandbox, lower-cased and sorted.
    QStringList emailsIn(const QString &campaignId) const
    {
        QStringList out;
        for (const nlohmann::json &lead : sandbox->store().allLeads(campaignId))
            out << QString::fromStdString(lead["email"].get<std::string>()).toLower();
        out.sort();
        return out;
    }

    int requests(const QByteArray &method, const QString &path) const
    {
        int n = 0;
        for (const SandboxLogEntry &e : sandbox->requestLog())
            n += e.method == method && e.path == path ? 1 : 0;
        return n;
    }

    int rateLimited() const
    {
        int n = 0;
        for (const SandboxLogEntry &e : sandbox->requestLog())
            n += e.status == 429 ? 1 : 0;
        return n;
    }

    RedisReply command(const QList<QByteArray> &argv)
    {
        const RedisResult r = execute(*redis, argv);
        if (!r.ok()) {
            qWarning("%s failed: %s", argv.front().constData(), qPrintable(r.error().describe()));
            return {};
        }
        return r.value();
    }

    RedisKeys keys;
    std::unique_ptr<SandboxServer> sandbox;
    std::unique_ptr<RedisClient> redis;
    std::unique_ptr<SharedRateLimiter> limiter;
    std::unique_ptr<SharedBreaker> breaker;
    std::unique_ptr<UpstreamGate> gate;
    std::unique_ptr<InstantlyClient> client; ///< gated, as verify and clean-up get it

private:
    int m_runs = 0;
};

} // namespace sluice::test
