// The Instantly client against a real sandbox server on a free loopback port: every endpoint,
// cursor paging, and each failure class (401, 429, 500, hang -> timeout, outage, 2xx error).
#include "common/apiwait.h"
#include "common/metatypes.h"
#include "common/suite.h"
#include "instantly/instantlyclient.h"
#include "sandbox/sandboxserver.h"

#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

#include <memory>

using namespace sluice;
using sluice::test::Captured;
using std::chrono::milliseconds;

namespace {

const QString kKey = QStringLiteral("sk_test_0123456789abcdef");

std::vector<Lead> makeLeads(int n, const QString &prefix = QStringLiteral("lead"))
{
    std::vector<Lead> leads;
    for (int i = 0; i < n; ++i) {
        Lead lead;
        lead.email = QStringLiteral("%1+%2@example.com").arg(prefix).arg(i);
        lead.firstName = QStringLiteral("Test");
        lead.lastName = QString::number(i);
        lead.companyName = QStringLiteral("Company %1").arg(i);
        lead.customVariables.insert(QStringLiteral("index"), i);
        leads.push_back(lead);
    }
    return leads;
}

} // namespace

class TestInstantlyClient : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init()
    {
        SandboxOptions options;
        options.apiKey = kKey;
        options.perSecond = 1000; // most cases here are not about the limit
        options.perMinute = 100'000;
        m_sandbox = std::make_unique<SandboxServer>(options);
        QVERIFY(m_sandbox->start() != 0);
        m_client = makeClient(kKey, milliseconds { 5000 });
    }
    void cleanup()
    {
        m_client.reset();
        m_sandbox.reset();
    }

    void campaignLifecycle()
    {
        Captured<Campaign> created;
        m_client->createCampaign(QStringLiteral("Spring Outreach"), created.callback());
        QTRY_VERIFY(created.done());
        QVERIFY2(created.ok(), qPrintable(created.describe()));
        QCOMPARE(created.value().name, QStringLiteral("Spring Outreach"));
        QVERIFY(!created.value().id.isEmpty());

        Captured<Campaign> got;
        m_client->getCampaign(created.value().id, got.callback());
        QTRY_VERIFY(got.done());
        QVERIFY(got.ok());
        QCOMPARE(got.value().id, created.value().id);

        Captured<Campaign> deleted;
        m_client->deleteCampaign(created.value().id, deleted.callback());
        QTRY_VERIFY(deleted.done());
        QVERIFY(deleted.ok());

        Captured<Campaign> gone;
        m_client->getCampaign(created.value().id, gone.callback());
        QTRY_VERIFY(gone.done());
        QVERIFY(!gone.ok());
        QCOMPARE(gone.error().httpStatus, 404);
        QCOMPARE(gone.error().outcome, CallOutcome::Permanent);
        QCOMPARE(gone.error().message, QStringLiteral("Campaign not found"));
    }

    void createCampaignNeedsAName()
    {
        Captured<Campaign> created;
        m_client->createCampaign(QString(), created.callback());
        QTRY_VERIFY(created.done());
        QVERIFY(!created.ok());
        QCOMPARE(created.error().httpStatus, 400);
        QVERIFY(created.error().message.contains(QStringLiteral("name")));
    }

    void campaignPaging_data()
    {
        QTest::addColumn<int>("count");
        QTest::addColumn<int>("limit");
        QTest::addColumn<QList<int>>("pages");
        QTest::newRow("7 by 3") << 7 << 3 << QList<int> { 3, 3, 1 };
        QTest::newRow("6 by 3, empty last page") << 6 << 3 << QList<int> { 3, 3, 0 };
        QTest::newRow("2 by 100") << 2 << 100 << QList<int> { 2 };
    }
    void campaignPaging()
    {
        QFETCH(int, count);
        QFETCH(int, limit);
        QFETCH(QList<int>, pages);
        for (int i = 0; i < count; ++i)
            createCampaign(QStringLiteral("Paged %1").arg(i));
        createCampaign(QStringLiteral("Unrelated"));

        QList<int> seen;
        QString cursor;
        QStringList names;
        for (int guard = 0; guard < 10; ++guard) {
            Captured<Page<Campaign>> page;
            m_client->listCampaigns(QStringLiteral("Paged"), limit, cursor, page.callback());
            QTRY_VERIFY(page.done());
            QVERIFY(page.ok());
            seen.append(int(page.value().items.size()));
            for (const Campaign &c : page.value().items)
                names.append(c.name);
            cursor = page.value().nextStartingAfter;
            if (page.value().items.empty() || cursor.isEmpty())
                break;
        }
        QCOMPARE(seen, pages);
        QCOMPARE(names.size(), count);
        QVERIFY(!names.contains(QStringLiteral("Unrelated")));
    }

    void findCampaignMatchesExactlyAndCaches()
    {
        createCampaign(QStringLiteral("Alpha 2"));
        const Campaign alpha = createCampaign(QStringLiteral("Alpha"));
        createCampaign(QStringLiteral("alpha"));
        m_client->clearCampaignCache();

        QSignalSpy requests(m_client.get(), &InstantlyClient::requestFinished);
        Captured<std::optional<Campaign>> found;
        m_client->findCampaign(QStringLiteral("Alpha"), found.callback());
        QTRY_VERIFY(found.done());
        QVERIFY(found.ok());
        QVERIFY(found.value().has_value());
        QCOMPARE(found.value()->id, alpha.id);
        const auto afterFirst = requests.count();
        QVERIFY(afterFirst >= 1);

        Captured<std::optional<Campaign>> again;
        m_client->findCampaign(QStringLiteral("Alpha"), again.callback());
        QTRY_VERIFY(again.done());
        QCOMPARE(again.value()->id, alpha.id);
        QCOMPARE(requests.count(), afterFirst); // served from the cache

        Captured<std::optional<Campaign>> missing;
        m_client->findCampaign(QStringLiteral("Alph"), missing.callback());
        QTRY_VERIFY(missing.done());
        QVERIFY(missing.ok());
        QVERIFY(!missing.value().has_value());
    }

    void findCampaignFollowsCursors()
    {
        // 150 campaigns match the search; the exact one is on the second page of 100.
        for (int i = 0; i < 149; ++i)
            createCampaign(QStringLiteral("Needle %1").arg(i));
        const Campaign needle = createCampaign(QStringLiteral("Needle"));
        m_client->clearCampaignCache();
        Captured<std::optional<Campaign>> found;
        m_client->findCampaign(QStringLiteral("Needle"), found.callback());
        QTRY_VERIFY(found.done());
        QVERIFY(found.ok());
        QVERIFY(found.value().has_value());
        QCOMPARE(found.value()->id, needle.id);
    }

    void createLeadSkipsWhenAlreadyInCampaign()
    {
        const Campaign c = createCampaign(QStringLiteral("Single"));
        Lead lead = makeLeads(1).front();
        lead.firstName = QStringLiteral("Zoë");
        Captured<LeadRecord> first;
        m_client->createLead(c.id, lead, SkipFlags { true, false }, first.callback());
        QTRY_VERIFY(first.done());
        QVERIFY2(first.ok(), qPrintable(first.describe()));
        QCOMPARE(first.value().email, lead.email);
        QCOMPARE(first.value().firstName, QStringLiteral("Zoë"));
        QCOMPARE(first.value().campaignId, c.id);
        QCOMPARE(first.value().customVariables.value(QStringLiteral("index")).toInt(), 0);

        Captured<LeadRecord> second;
        m_client->createLead(c.id, lead, SkipFlags { true, false }, second.callback());
        QTRY_VERIFY(second.done());
        QVERIFY(second.ok());
        QCOMPARE(second.value().id, first.value().id);
        QCOMPARE(m_sandbox->store().leadCount(), 1);
    }

    void addLeadsReportsPerLeadResults()
    {
        const Campaign c = createCampaign(QStringLiteral("Bulk"));
        std::vector<Lead> leads = makeLeads(5);
        leads[2].email = QStringLiteral("not-an-email");
        leads[4].email = leads[1].email.toUpper(); // duplicate inside the request
        Captured<BulkAddResult> added;
        m_client->addLeads(c.id, leads, SkipFlags {}, added.callback());
        QTRY_VERIFY(added.done());
        QVERIFY2(added.ok(), qPrintable(added.describe()));
        const BulkAddResult &r = added.value();
        QCOMPARE(r.totalSent, 5);
        QCOMPARE(r.leadsUploaded, 3);
        QCOMPARE(r.invalidEmailCount, 1);
        QCOMPARE(r.duplicateEmailCount, 1);
        // Every documented field of the answer is read, numbers as numbers.
        QCOMPARE(r.status, QStringLiteral("success"));
        QCOMPARE(r.inBlocklist, 0);
        QVERIFY(!r.blocklistUsed.isEmpty());
        QCOMPARE(r.duplicatedLeads, 0);
        QCOMPARE(r.incompleteCount, 0);
        QVERIFY2(r.remainingInPlan >= 0, qPrintable(QString::number(r.remainingInPlan)));
        QCOMPARE(int(r.created.size()), 3);
        QList<int> indexes;
        for (const auto &created : r.created) {
            indexes.append(created.index);
            QCOMPARE(created.email, leads[size_t(created.index)].email);
        }
        QCOMPARE(indexes, (QList<int> { 0, 1, 3 }));

        // Sending the same batch again is a no-op: everything is already in the campaign.
        Captured<BulkAddResult> again;
        m_client->addLeads(c.id, leads, SkipFlags { true, false }, again.callback());
        QTRY_VERIFY(again.done());
        QVERIFY(again.ok());
        QCOMPARE(again.value().leadsUploaded, 0);
        QCOMPARE(again.value().skippedCount, 3);
        QCOMPARE(m_sandbox->store().leadCount(), 3);
    }

    void addLeadsRejectsBadBatches_data()
    {
        QTest::addColumn<int>("count");
        QTest::addColumn<bool>("knownCampaign");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("messagePart");
        QTest::newRow("empty") << 0 << true << 400 << QStringLiteral("fewer than 1");
        QTest::newRow("1001 leads") << 1001 << true << 400 << QStringLiteral("more than 1000");
        QTest::newRow("unknown campaign")
            << 1 << false << 404 << QStringLiteral("Campaign not found");
    }
    void addLeadsRejectsBadBatches()
    {
        QFETCH(int, count);
        QFETCH(bool, knownCampaign);
        QFETCH(int, status);
        QFETCH(QString, messagePart);
        const QString id = knownCampaign ? createCampaign(QStringLiteral("Bad")).id
                                         : QStringLiteral("00000000-0000-0000-0000-000000000000");
        Captured<BulkAddResult> added;
        m_client->addLeads(id, makeLeads(count), SkipFlags {}, added.callback());
        QTRY_VERIFY(added.done());
        QVERIFY(!added.ok());
        QCOMPARE(added.error().httpStatus, status);
        QCOMPARE(added.error().outcome, CallOutcome::Permanent);
        QVERIFY2(added.error().message.contains(messagePart), qPrintable(added.error().message));
        QCOMPARE(m_sandbox->store().leadCount(), 0);
    }

    void listLeadsPages_data()
    {
        QTest::addColumn<int>("count");
        QTest::addColumn<QList<int>>("pages");
        QTest::newRow("250") << 250 << QList<int> { 100, 100, 50 };
        QTest::newRow("200, empty last page") << 200 << QList<int> { 100, 100, 0 };
        QTest::newRow("none") << 0 << QList<int> { 0 };
    }
    void listLeadsPages()
    {
        QFETCH(int, count);
        QFETCH(QList<int>, pages);
        const Campaign c = createCampaign(QStringLiteral("Listed"));
        const Campaign other = createCampaign(QStringLiteral("Other"));
        addAll(other.id, makeLeads(30, QStringLiteral("other")));
        addAll(c.id, makeLeads(count));

        QList<int> seen;
        LeadFilter filter;
        filter.campaignId = c.id;
        for (int guard = 0; guard < 10; ++guard) {
            Captured<Page<LeadRecord>> page;
            m_client->listLeads(filter, page.callback());
            QTRY_VERIFY(page.done());
            QVERIFY(page.ok());
            seen.append(int(page.value().items.size()));
            for (const LeadRecord &r : page.value().items)
                QCOMPARE(r.campaignId, c.id);
            filter.startingAfter = page.value().nextStartingAfter;
            if (page.value().items.empty() || filter.startingAfter.isEmpty())
                break;
        }
        QCOMPARE(seen, pages);

        Captured<std::vector<LeadRecord>> all;
        m_client->listAllLeads(LeadFilter { c.id, {}, {}, 100, {} }, all.callback());
        QTRY_VERIFY(all.done());
        QVERIFY(all.ok());
        QCOMPARE(int(all.value().size()), count);
    }

    void listLeadsFilters()
    {
        const Campaign c = createCampaign(QStringLiteral("Filters"));
        addAll(c.id, makeLeads(20));
        LeadFilter byContacts;
        byContacts.campaignId = c.id;
        byContacts.contacts
            = { QStringLiteral("LEAD+3@example.com"), QStringLiteral("lead+7@example.com"),
                QStringLiteral("nobody@example.com") };
        Captured<std::vector<LeadRecord>> found;
        m_client->listAllLeads(byContacts, found.callback());
        QTRY_VERIFY(found.done());
        QVERIFY(found.ok());
        QCOMPARE(int(found.value().size()), 2);

        LeadFilter bySearch;
        bySearch.search = QStringLiteral("lead+1");
        Captured<std::vector<LeadRecord>> searched;
        m_client->listAllLeads(bySearch, searched.callback());
        QTRY_VERIFY(searched.done());
        QCOMPARE(int(searched.value().size()), 11); // lead+1, lead+10 .. lead+19
    }

    void deleteOneAndMany()
    {
        const Campaign c = createCampaign(QStringLiteral("Delete"));
        addAll(c.id, makeLeads(10));
        QCOMPARE(int(m_sandbox->store().leadCount()), 10);

        Captured<std::vector<LeadRecord>> listed;
        m_client->listAllLeads(LeadFilter { c.id, {}, {}, 100, {} }, listed.callback());
        QTRY_VERIFY(listed.done());
        const std::vector<LeadRecord> leads = listed.value();

        Captured<LeadRecord> one;
        m_client->deleteLead(leads[0].id, one.callback());
        QTRY_VERIFY(one.done());
        QVERIFY(one.ok());
        QCOMPARE(m_sandbox->store().leadCount(), 9);

        Captured<LeadRecord> again;
        m_client->deleteLead(leads[0].id, again.callback());
        QTRY_VERIFY(again.done());
        QCOMPARE(again.error().httpStatus, 404);

        Captured<int> some;
        m_client->deleteLeads(c.id, { leads[1].id, leads[2].id }, some.callback());
        QTRY_VERIFY(some.done());
        QVERIFY(some.ok());
        QCOMPARE(some.value(), 2);
        QCOMPARE(m_sandbox->store().leadCount(), 7);

        Captured<int> rest;
        m_client->deleteLeads(c.id, {}, rest.callback());
        QTRY_VERIFY(rest.done());
        QCOMPARE(rest.value(), 7);
        QCOMPARE(m_sandbox->store().leadCount(), 0);
    }

    void wrongKeyIsPermanentAndNeverEchoed()
    {
        auto client = makeClient(QStringLiteral("sk_wrong_secret_key_42"), milliseconds { 5000 });
        Captured<Page<Campaign>> page;
        client->listCampaigns({}, 10, {}, page.callback());
        QTRY_VERIFY(page.done());
        QVERIFY(!page.ok());
        QCOMPARE(page.error().httpStatus, 401);
        QCOMPARE(page.error().outcome, CallOutcome::Permanent);
        const QString text = page.error().describe() + QString::fromUtf8(page.error().body);
        QVERIFY(!text.contains(QStringLiteral("sk_wrong_secret_key_42")));
        QVERIFY(!text.contains(kKey));
    }

    void rateLimited_data()
    {
        QTest::addColumn<bool>("retryAfter");
        QTest::newRow("no Retry-After (Instantly's usual)") << false;
        QTest::newRow("with Retry-After") << true;
    }
    void rateLimited()
    {
        QFETCH(bool, retryAfter);
        SandboxOptions options = m_sandbox->options();
        options.perSecond = 3;
        options.sendRetryAfter = retryAfter;
        // Time stands still on this clock, so exactly 3 are admitted.
        m_sandbox = std::make_unique<SandboxServer>(options, &m_clock);
        QVERIFY(m_sandbox->start() != 0);
        m_client = makeClient(kKey, milliseconds { 5000 });

        std::vector<std::unique_ptr<Captured<Page<Campaign>>>> calls;
        for (int i = 0; i < 8; ++i) {
            calls.push_back(std::make_unique<Captured<Page<Campaign>>>());
            m_client->listCampaigns({}, 10, {}, calls.back()->callback());
        }
        QTRY_VERIFY(
            std::all_of(calls.begin(), calls.end(), [](const auto &c) { return c->done(); }));
        int ok = 0, limited = 0;
        for (const auto &c : calls) {
            if (c->ok()) {
                ++ok;
                continue;
            }
            QCOMPARE(c->error().outcome, CallOutcome::RateLimited);
            QCOMPARE(c->error().httpStatus, 429);
            QVERIFY(c->error().message.contains(QStringLiteral("Rate limit")));
            QCOMPARE(c->error().retryAfter.has_value(), retryAfter);
            if (retryAfter)
                QCOMPARE(c->error().retryAfter->count(), 1000);
            ++limited;
        }
        QCOMPARE(ok, 3);
        QCOMPARE(limited, 5);
    }

    void injectedFaults_data()
    {
        QTest::addColumn<double>("errorRate");
        QTest::addColumn<double>("bodyErrorRate");
        QTest::addColumn<int>("status");
        QTest::addColumn<CallOutcome>("outcome");
        QTest::newRow("500") << 1.0 << 0.0 << 500 << CallOutcome::Transient;
        QTest::newRow("200 with error body") << 0.0 << 1.0 << 200 << CallOutcome::ErrorInBody;
    }
    void injectedFaults()
    {
        QFETCH(double, errorRate);
        QFETCH(double, bodyErrorRate);
        QFETCH(int, status);
        QFETCH(CallOutcome, outcome);
        FaultOptions faults;
        faults.errorRate = errorRate;
        faults.bodyErrorRate = bodyErrorRate;
        m_sandbox->setFaults(faults);
        Captured<Campaign> created;
        m_client->createCampaign(QStringLiteral("Faulty"), created.callback());
        QTRY_VERIFY(created.done());
        QVERIFY(!created.ok());
        QCOMPARE(created.error().httpStatus, status);
        QCOMPARE(created.error().outcome, outcome);
        QVERIFY(!created.error().message.isEmpty());
        QCOMPARE(m_sandbox->store().campaignCount(), 0);
    }

    void hangBecomesTimeout()
    {
        FaultOptions faults;
        faults.hangRate = 1.0;
        faults.hangDuration = milliseconds { 60'000 };
        m_sandbox->setFaults(faults);
        m_client = makeClient(kKey, milliseconds { 300 });
        Captured<Page<Campaign>> page;
        m_client->listCampaigns({}, 10, {}, page.callback());
        QTRY_VERIFY(page.done());
        QVERIFY(!page.ok());
        QVERIFY(page.error().timedOut);
        QCOMPARE(page.error().outcome, CallOutcome::Transient);
        QCOMPARE(page.error().httpStatus, 0);
        QVERIFY(page.error().latency >= milliseconds { 300 });
        QVERIFY(page.error().message.contains(QStringLiteral("300 ms")));
    }

    void outageIsTransient()
    {
        m_sandbox->addOutage(milliseconds { 0 }, milliseconds { 60'000 });
        Captured<Page<Campaign>> page;
        m_client->listCampaigns({}, 10, {}, page.callback());
        QTRY_VERIFY(page.done());
        QCOMPARE(page.error().httpStatus, 503);
        QCOMPARE(page.error().outcome, CallOutcome::Transient);
    }

    void addedLatencyIsMeasured()
    {
        FaultOptions faults;
        faults.latency = milliseconds { 150 };
        m_sandbox->setFaults(faults);
        Captured<Page<Campaign>> page;
        m_client->listCampaigns({}, 10, {}, page.callback());
        QTRY_VERIFY(page.done());
        QVERIFY(page.ok());
        QVERIFY(m_sandbox->requestLog().back().latencyMs >= 150);
    }

    void connectionRefusedIsTransient()
    {
        QTcpServer probe;
        QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
        const quint16 port = probe.serverPort();
        probe.close(); // nobody listens there now
        InstantlyOptions options;
        options.baseUrl = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port));
        options.apiKey = kKey;
        InstantlyClient client(options);
        Captured<Page<Campaign>> page;
        client.listCampaigns({}, 10, {}, page.callback());
        QTRY_VERIFY(page.done());
        QCOMPARE(page.error().outcome, CallOutcome::Transient);
        QCOMPARE(page.error().httpStatus, 0);
        QVERIFY(!page.error().message.isEmpty());
    }

    void sendsUserAgentAndReportsEveryRequest()
    {
        QSignalSpy finished(m_client.get(), &InstantlyClient::requestFinished);
        createCampaign(QStringLiteral("UA"));
        QCOMPARE(finished.count(), 1);
        const auto result = finished.at(0).at(0).value<ApiResult>();
        QCOMPARE(result.endpoint, QStringLiteral("POST /api/v2/campaigns"));
        QCOMPARE(result.httpStatus, 200);
        QCOMPARE(m_sandbox->requestLog().back().userAgent, QByteArray("sluice/" SLUICE_VERSION));
    }

private:
    std::unique_ptr<InstantlyClient> makeClient(const QString &key, milliseconds timeout)
    {
        InstantlyOptions options;
        options.baseUrl = m_sandbox->baseUrl();
        options.apiKey = key;
        options.timeout = timeout;
        return std::make_unique<InstantlyClient>(options);
    }

    Campaign createCampaign(const QString &name)
    {
        Captured<Campaign> created;
        m_client->createCampaign(name, created.callback());
        if (!QTest::qWaitFor([&] { return created.done(); }, 5000) || !created.ok())
            qFatal("could not create campaign %s", qPrintable(name));
        return created.value();
    }

    void addAll(const QString &campaignId, const std::vector<Lead> &leads)
    {
        if (leads.empty())
            return;
        Captured<BulkAddResult> added;
        m_client->addLeads(campaignId, leads, SkipFlags {}, added.callback());
        if (!QTest::qWaitFor([&] { return added.done(); }, 5000) || !added.ok())
            qFatal("could not add leads");
    }

    ManualClock m_clock; // declared first: outlives the sandbox that may point at it
    std::unique_ptr<SandboxServer> m_sandbox;
    std::unique_ptr<InstantlyClient> m_client;
};

SLUICE_TEST_GUILESS_MAIN(TestInstantlyClient)
#include "tst_instantlyclient.moc"
