// Clean-up against an in-process sandbox, a real redis-server (the shared limiter) and a gated
// client: a dry run that deletes nothing, a 250-lead run deleted in bulk chunks with its
// campaign, campaigns kept for someone else's leads or because the run did not make them,
// lead-by-lead deletion when Instantly refuses the bulk call, and clear errors.
#include "common/suite.h"
#include "common/validschedule.h"
#include "net/httpserver.h"
#include "redis/redisserver.h"
#include "runs/cleaner.h"
#include "sandbox/sandboxstore.h"
#include "verifytestbed.h"

#include <QSignalSpy>

using namespace sluice;
using sluice::test::RedisServer;
using std::chrono::milliseconds;
using json = nlohmann::json;

namespace {

/// Instantly without bulk deletion: a sandbox store behind routes of its own, where
/// DELETE /api/v2/leads is refused with a 400, as an API that takes no `ids` would refuse it.
class NoBulkDeleteServer : public HttpServer
{
public:
    NoBulkDeleteServer()
    {
        addRoute("GET", QStringLiteral("/api/v2/campaigns"),
                 [this](const HttpRequest &r, HttpResponder responder) {
                     answer(
                         responder,
                         store.listCampaigns(
                             r.query.queryItemValue(QStringLiteral("search"), QUrl::FullyDecoded),
                             r.query.queryItemValue(QStringLiteral("limit")).toInt(),
                             r.query.queryItemValue(QStringLiteral("starting_after"))));
                 });
        addRoute("DELETE", QStringLiteral("/api/v2/campaigns/([^/]+)"),
                 [this](const HttpRequest &r, HttpResponder responder) {
                     answer(responder, store.deleteCampaign(r.captures.value(0)));
                 });
        addRoute("POST", QStringLiteral("/api/v2/leads/list"),
                 [this](const HttpRequest &r, HttpResponder responder) {
                     answer(responder, store.listLeads(json::parse(r.body.toStdString())));
                 });
        addRoute("DELETE", QStringLiteral("/api/v2/leads"),
                 [this](const HttpRequest &, HttpResponder responder) {
                     ++bulkRefused;
                     answer(responder,
                            instantlyError(400, QStringLiteral("body/ids is not allowed")));
                 });
        addRoute("DELETE", QStringLiteral("/api/v2/leads/([^/]+)"),
                 [this](const HttpRequest &r, HttpResponder responder) {
                     ++singleDeletes;
                     answer(responder, store.deleteLead(r.captures.value(0)));
                 });
    }

    QUrl baseUrl() const { return QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)); }

    SandboxStore store;
    quint16 port = 0;
    int bulkRefused = 0;
    int singleDeletes = 0;

private:
    static void answer(HttpResponder &responder, const StoreReply &reply)
    {
        responder.sendJson(reply.status, QByteArray::fromStdString(reply.body->dump()));
    }
};

} // namespace

class TestCleaner : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_bed.setUp(m_server.url(), QStringLiteral("clean%1").arg(m_round));
    }

    void cleanup() { m_bed.tearDown(); }

    void optionsAreValidated()
    {
        CleanupOptions options;
        QVERIFY(!options.problem());
        options.deleteChunk = 0;
        QVERIFY(options.problem());
        options = {};
        options.pageSize = 500;
        QVERIFY(options.problem());
        options = {};
        options.maxPasses = 0;
        QVERIFY(options.problem());
    }

    void dryRunDeletesNothing()
    {
        RunRecord record = made(30, QStringLiteral("Clean Dry"), true);
        const QString campaignId = m_bed.createCampaign(record.definition.campaign);
        m_bed.plantRun(record.definition, campaignId);

        Cleaner cleaner(m_bed.client.get());
        const CleanupReport r = clean(record, CleanupMode::DryRun, &cleaner);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QVERIFY(r.dryRun);
        QCOMPARE(r.found, 30);
        QCOMPARE(r.deleted, 0);
        QCOMPARE(r.remaining, 30);
        QCOMPARE(r.foreign, 0);
        QVERIFY(!r.campaignDeleted);
        QVERIFY2(r.campaignNote.startsWith(QStringLiteral("would be deleted")),
                 qPrintable(r.campaignNote));
        QCOMPARE(m_bed.emailsIn(campaignId).size(), 30);
        QCOMPARE(m_bed.sandbox->store().campaignCount(), 1);
        for (const SandboxLogEntry &e : m_bed.sandbox->requestLog())
            QVERIFY2(e.method != "DELETE", qPrintable(e.path));
        QCOMPARE(cleaner.campaignId(), campaignId);
    }

    void deletesEveryRunLeadAndTheCampaignItMade()
    {
        RunRecord record = made(250, QStringLiteral("Clean All"), true);
        const QString campaignId = m_bed.createCampaign(record.definition.campaign);
        m_bed.plantRun(record.definition, campaignId);
        m_bed.plant(campaignId, record.definition.emails().at(9).toUpper()); // a duplicate

        Cleaner cleaner(m_bed.client.get());
        QSignalSpy progressed(&cleaner, &Cleaner::progressed);
        QSignalSpy finished(&cleaner, &Cleaner::finished);
        QVERIFY(cleaner.start(record));
        QVERIFY(!cleaner.start(record)); // one at a time
        QCOMPARE(finished.count(), 0); // never from inside start()
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30'000);
        const CleanupReport &r = cleaner.report();
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QVERIFY(!r.dryRun);
        QCOMPARE(r.found, 251);
        QCOMPARE(r.deleted, 251);
        QCOMPARE(r.remaining, 0);
        QCOMPARE(r.foreign, 0);
        QVERIFY(r.campaignDeleted);
        QVERIFY2(r.campaignNote.startsWith(QStringLiteral("deleted")), qPrintable(r.campaignNote));
        QVERIFY(r.atMs > 0);
        QCOMPARE(m_bed.sandbox->store().leadCount(), 0);
        QCOMPARE(m_bed.sandbox->store().campaignCount(), 0);
        // Bulk, in chunks of 100 ids; never one by one, never without ids.
        QCOMPARE(m_bed.requests("DELETE", QStringLiteral("/api/v2/leads")), 3);
        QVERIFY(!cleaner.deletedOneByOne());
        QCOMPARE(m_bed.requests("DELETE", QStringLiteral("/api/v2/campaigns/") + campaignId), 1);
        QVERIFY(!progressed.isEmpty());
        QCOMPARE(progressed.last().at(1).toInt(), 251);
        QCOMPARE(progressed.last().at(2).toInt(), 251);
        // Listing, deleting and listing again all stayed within the workspace's limit.
        const int worst = m_bed.sandbox->worstWindow(milliseconds { 1000 });
        QVERIFY2(worst <= 10, qPrintable(QString::number(worst)));
        QCOMPARE(m_bed.rateLimited(), 0);
    }

    void keepsACampaignHoldingSomeoneElsesLeads()
    {
        RunRecord record = made(20, QStringLiteral("Clean Shared"), true);
        const QString campaignId = m_bed.createCampaign(record.definition.campaign);
        m_bed.plantRun(record.definition, campaignId);
        m_bed.plant(campaignId, QStringLiteral("keep+1@customer.io"));
        m_bed.plant(campaignId, QStringLiteral("keep+2@customer.io"));
        m_bed.plant(campaignId, QStringLiteral("keep+3@customer.io"));

        Cleaner cleaner(m_bed.client.get());
        CleanupReport r = clean(record, CleanupMode::DryRun, &cleaner);
        QVERIFY2(r.campaignNote.startsWith(QStringLiteral("would be kept"))
                     && r.campaignNote.contains(QStringLiteral("3 leads")),
                 qPrintable(r.campaignNote));

        r = clean(record, CleanupMode::Delete, &cleaner);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.found, 20);
        QCOMPARE(r.deleted, 20);
        QCOMPARE(r.remaining, 0);
        QCOMPARE(r.foreign, 3);
        QVERIFY(!r.campaignDeleted);
        QVERIFY2(r.campaignNote.startsWith(QStringLiteral("kept"))
                     && r.campaignNote.contains(QStringLiteral("3 leads")),
                 qPrintable(r.campaignNote));
        QCOMPARE(m_bed.emailsIn(campaignId),
                 (QStringList { QStringLiteral("keep+1@customer.io"),
                                QStringLiteral("keep+2@customer.io"),
                                QStringLiteral("keep+3@customer.io") }));
        QCOMPARE(m_bed.sandbox->store().campaignCount(), 1);
        QCOMPARE(m_bed.requests("DELETE", QStringLiteral("/api/v2/campaigns/") + campaignId), 0);
    }

    void keepsACampaignTheRunDidNotMake()
    {
        RunRecord record = made(10, QStringLiteral("Clean Borrowed"), false);
        const QString campaignId = m_bed.createCampaign(record.definition.campaign);
        m_bed.plantRun(record.definition, campaignId);
        const CleanupReport r = clean(record, CleanupMode::Delete);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.deleted, 10);
        QCOMPARE(r.remaining, 0);
        QVERIFY(!r.campaignDeleted);
        QVERIFY2(r.campaignNote.contains(QStringLiteral("not created by this run")),
                 qPrintable(r.campaignNote));
        QCOMPARE(m_bed.sandbox->store().campaignCount(), 1);
        QCOMPARE(m_bed.sandbox->store().leadCount(), 0);
    }

    void deletesLeadByLeadWhenBulkIsRefused()
    {
        NoBulkDeleteServer server;
        server.port = server.listen(QHostAddress::LocalHost, 0);
        QVERIFY(server.port != 0);
        RunRecord record = made(12, QStringLiteral("Clean One By One"), true);
        const StoreReply campaign = server.store.createCampaign(
            { { "name", record.definition.campaign.toStdString() },
              { "campaign_schedule", sluice::test::validCampaignSchedule() } });
        QCOMPARE(campaign.status, 200);
        const std::string campaignId = (*campaign.body)["id"];
        json leads = json::array();
        for (int i = 1; i <= record.definition.leads; ++i)
            leads.push_back(test::VerifyTestbed::leadJson(record.definition.lead(i)));
        QCOMPARE(
            server.store.addLeads({ { "campaign_id", campaignId }, { "leads", leads } }).status,
            200);

        InstantlyOptions options = m_bed.instantlyOptions();
        options.baseUrl = server.baseUrl();
        options.apiKey = QStringLiteral("anything");
        InstantlyClient client(options);
        client.transport()->setGate(m_bed.gate.get());
        CleanupOptions cleanupOptions;
        cleanupOptions.deleteChunk = 5;
        Cleaner cleaner(&client, cleanupOptions);
        const CleanupReport r = clean(record, CleanupMode::Delete, &cleaner);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QVERIFY(cleaner.deletedOneByOne());
        QCOMPARE(server.bulkRefused, 1); // asked once, then never again
        QCOMPARE(server.singleDeletes, 12);
        QCOMPARE(r.deleted, 12);
        QCOMPARE(r.remaining, 0);
        QVERIFY(r.campaignDeleted);
        QCOMPARE(server.store.leadCount(), 0);
        QCOMPARE(server.store.campaignCount(), 0);
    }

    void unknownCampaignIsAnError()
    {
        const RunRecord record = made(5, QStringLiteral("Clean Nowhere"), true);
        m_bed.createCampaign(QStringLiteral("Clean Nowhere Else"));
        const CleanupReport r = clean(record, CleanupMode::Delete);
        QVERIFY2(r.error.contains(QStringLiteral("'Clean Nowhere'"))
                     && r.error.contains(QStringLiteral("not in Instantly")),
                 qPrintable(r.error));
        QCOMPARE(r.found, 0);
        QCOMPARE(r.deleted, 0);
        QCOMPARE(r.remaining, -1);
        QVERIFY(!r.campaignDeleted);
        QCOMPARE(m_bed.sandbox->store().campaignCount(), 1);
    }

    void aFailedDeleteIsAnErrorThatSaysWhatRemains()
    {
        RunRecord record = made(10, QStringLiteral("Clean Broken"), true);
        const QString campaignId = m_bed.createCampaign(record.definition.campaign);
        m_bed.plantRun(record.definition, campaignId);
        CleanupOptions options;
        options.retry.maxAttempts = 2;
        options.retry.baseDelay = milliseconds { 20 };
        Cleaner cleaner(m_bed.client.get(), options);
        // Instantly fails every request from the end of the first listing until the bulk
        // delete has failed twice (both attempts); the listing after that works again.
        FaultOptions broken;
        broken.errorRate = 1.0;
        connect(&cleaner, &Cleaner::progressed, this, [&](int, int, int found) {
            if (found > 0 && m_bed.requests("DELETE", QStringLiteral("/api/v2/leads")) == 0)
                m_bed.sandbox->setFaults(broken);
        });
        int failedDeletes = 0;
        connect(m_bed.sandbox.get(), &SandboxServer::requestServed, this,
                [&](const SandboxLogEntry &e) {
                    if (e.method == "DELETE" && e.status == 500 && ++failedDeletes == 2)
                        m_bed.sandbox->setFaults({});
                });
        const CleanupReport r = clean(record, CleanupMode::Delete, &cleaner);
        QCOMPARE(failedDeletes, 2);
        QVERIFY2(r.error.contains(QStringLiteral("deleting 10 leads"))
                     && r.error.contains(QStringLiteral("500")),
                 qPrintable(r.error));
        QCOMPARE(r.found, 10);
        QCOMPARE(r.deleted, 0);
        QCOMPARE(r.remaining, 10);
        QVERIFY(!r.campaignDeleted);
        QVERIFY2(r.campaignNote.startsWith(QStringLiteral("kept")), qPrintable(r.campaignNote));
        QCOMPARE(m_bed.emailsIn(campaignId).size(), 10);
    }

private:
    RunRecord made(int leads, const QString &campaign, bool createdByRun)
    {
        RunRecord record;
        record.definition = m_bed.run(leads, campaign);
        record.campaignCreatedByRun = createdByRun;
        return record;
    }

    CleanupReport clean(const RunRecord &record, CleanupMode mode, Cleaner *cleaner = nullptr)
    {
        std::unique_ptr<Cleaner> own;
        if (!cleaner) {
            own = std::make_unique<Cleaner>(m_bed.client.get());
            cleaner = own.get();
        }
        QSignalSpy finished(cleaner, &Cleaner::finished);
        if (!cleaner->start(record, mode))
            qWarning("the cleaner refused to start");
        [&] { QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30'000); }();
        return cleaner->report();
    }

    RedisServer m_server;
    int m_round = 0;
    test::VerifyTestbed m_bed;
};

SLUICE_TEST_GUILESS_MAIN(TestCleaner)
#include "tst_cleaner.moc"
