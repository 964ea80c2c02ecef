// Verify and --repair against an in-process sandbox, a real redis-server and a gated client:
// a clean run, a lead lost behind Sluice's back and restored through the real dispatcher, a
// duplicate, extras, paging, the shared rate limit, unknown and vanished campaigns, and API
// failures that end in an error instead of a pass.
#include "common/suite.h"
#include "queue/dispatcher.h"
#include "redis/redisserver.h"
#include "runs/verifier.h"
#include "store/queuedlead.h"
#include "verifytestbed.h"

#include <QElapsedTimer>
#include <QSignalSpy>

using namespace sluice;
using sluice::test::RedisServer;
using std::chrono::milliseconds;

namespace {

LeadRecord listedLead(const QString &email)
{
    LeadRecord r;
    r.id = email;
    r.email = email;
    return r;
}

} // namespace

class TestVerifier : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { QVERIFY2(m_server.start(), qPrintable(m_server.errorString())); }

    void init()
    {
        ++m_round;
        m_bed.setUp(m_server.url(), QStringLiteral("verify%1").arg(m_round));
    }

    void cleanup()
    {
        m_dispatcher.reset();
        m_instantly.reset();
        m_bed.tearDown();
    }

    void classifyMatchesAddressesCaseInsensitively()
    {
        const QStringList run { QStringLiteral("a@x.io"), QStringLiteral("b@x.io"),
                                QStringLiteral("c@x.io"), QStringLiteral("d@x.io") };
        const std::vector<LeadRecord> listed {
            listedLead(QStringLiteral("A@X.io")),     listedLead(QStringLiteral("c@x.io")),
            listedLead(QStringLiteral(" C@x.io ")),   listedLead(QStringLiteral("other@y.io")),
            listedLead(QStringLiteral("Other@Y.io")), listedLead(QStringLiteral("d@x.io")),
        };
        const VerifyReport r = Verifier::classify(run, listed);
        QCOMPARE(r.listed, 6);
        QCOMPARE(r.present, 2); // a, d
        QCOMPARE(r.missing, QStringList { QStringLiteral("b@x.io") });
        QCOMPARE(r.duplicated, QStringList { QStringLiteral("c@x.io") });
        QCOMPARE(r.extra, QStringList { QStringLiteral("other@y.io") });
        QVERIFY(!r.clean());
        QVERIFY(Verifier::classify(run, {}).missing == run);
    }

    void optionsAreValidated()
    {
        VerifyOptions options;
        QVERIFY(!options.problem());
        options.pageSize = 101;
        QVERIFY(options.problem()->contains(QStringLiteral("1..100")));
        options = {};
        options.retry.maxAttempts = 0;
        QVERIFY(options.problem());
    }

    void cleanRunHasEveryLeadPresent()
    {
        const RunDefinition run = m_bed.run(20, QStringLiteral("Verify Clean"));
        const QString campaignId = m_bed.createCampaign(run.campaign);
        m_bed.plantRun(run, campaignId);

        Verifier verifier(m_bed.client.get());
        QSignalSpy progressed(&verifier, &Verifier::progressed);
        QSignalSpy finished(&verifier, &Verifier::finished);
        QVERIFY(verifier.start(run));
        QVERIFY(verifier.isRunning());
        QVERIFY(!verifier.start(run)); // one at a time
        QCOMPARE(finished.count(), 0); // never from inside start()
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20'000);
        const VerifyReport &r = verifier.report();
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.listed, 20);
        QCOMPARE(r.present, 20);
        QVERIFY(r.missing.isEmpty() && r.duplicated.isEmpty() && r.extra.isEmpty());
        QVERIFY(r.clean());
        QVERIFY(r.atMs > 0);
        QCOMPARE(verifier.campaignId(), campaignId);
        QVERIFY(!verifier.isRunning());
        QVERIFY(!progressed.isEmpty());
        QCOMPARE(progressed.last().at(1).toInt(), 20);
        QCOMPARE(finished.first().at(0).value<VerifyReport>().present, 20);
    }

    void lostLeadIsReportedAndRepairedThroughThePipeline()
    {
        const RunDefinition run = m_bed.run(30, QStringLiteral("Verify Repair"));
        const QString campaignId = m_bed.createCampaign(run.campaign);
        startDispatcher();

        // Delivered the normal way, so the delivered set knows every lead.
        const QString task = QStringLiteral("fired");
        m_bed.command({ "HSET", m_bed.keys.task(task), "total", "30", "state", "queued", "campaign",
                        run.campaign.toUtf8(), "created_ms", QByteArray::number(wallClockMs()) });
        for (int i = 1; i <= run.leads; ++i) {
            QueuedLead q;
            q.taskId = task;
            q.campaignName = run.campaign;
            q.source = QStringLiteral("close");
            q.receivedMs = wallClockMs();
            q.lead = run.lead(i);
            m_bed.command(QList<QByteArray> { "XADD", m_bed.keys.leads(), "*" } << q.toFields());
        }
        QTRY_COMPARE_WITH_TIMEOUT(field(task, "succeeded"), QByteArray("30"), 20'000);
        QCOMPARE(m_bed.emailsIn(campaignId).size(), 30);

        // Lost behind Sluice's back.
        const QString lost = run.emails().at(6);
        QVERIFY(m_bed.removeLead(campaignId, lost));
        const QByteArray member = campaignId.toUtf8() + '|' + lost.toUtf8();
        QCOMPARE(m_bed.command({ "ZSCORE", m_bed.keys.delivered(), member }).isNil() ? 0 : 1, 1);

        Verifier verifier(m_bed.client.get());
        QSignalSpy finished(&verifier, &Verifier::finished);
        RepairTarget target { m_bed.redis.get(), m_bed.keys };
        QVERIFY(verifier.start(run, target));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 20'000);
        VerifyReport r = verifier.report();
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.missing, QStringList { lost });
        QCOMPARE(r.present, 29);
        QCOMPARE(r.repaired, 1);
        QVERIFY(!r.clean());
        const QString repairTask = QStringLiteral("repair:%1:1").arg(run.id);
        QCOMPARE(verifier.repairTaskId(), repairTask);

        // The dispatcher delivers it again as the lead the run made, not skipped as delivered.
        QTRY_COMPARE_WITH_TIMEOUT(field(repairTask, "processed"), QByteArray("1"), 20'000);
        QCOMPARE(field(repairTask, "succeeded"), QByteArray("1"));
        QCOMPARE(field(repairTask, "source"), QByteArray("repair"));
        QCOMPARE(m_bed.command({ "ZSCORE", m_bed.keys.delivered(), member }).isNil() ? 0 : 1, 1);
        bool found = false;
        for (const nlohmann::json &lead : m_bed.sandbox->store().allLeads(campaignId)) {
            if (lead["email"] != lost.toStdString())
                continue;
            found = true;
            const Lead original = run.lead(7);
            QCOMPARE(QString::fromStdString(lead["first_name"]), original.firstName);
            QCOMPARE(QString::fromStdString(lead["last_name"]), original.lastName);
            QCOMPARE(QString::fromStdString(lead["company_name"]), original.companyName);
            QCOMPARE(QString::fromStdString(lead["payload"]["date_location"]),
                     original.customVariables.value(QStringLiteral("date_location")).toString());
        }
        QVERIFY(found);

        QVERIFY(verifier.start(run));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 20'000);
        r = verifier.report();
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QVERIFY(r.clean());
        QCOMPARE(r.present, 30);
        QCOMPARE(r.repaired, 0);
        QCOMPARE(m_bed.emailsIn(campaignId), sorted(run.emails()));
        // Dispatcher and verifier together stayed within the workspace's limit.
        QVERIFY2(m_bed.sandbox->worstWindow(milliseconds { 1000 }) <= 10,
                 qPrintable(QString::number(m_bed.sandbox->worstWindow(milliseconds { 1000 }))));
        QCOMPARE(m_bed.rateLimited(), 0);
    }

    void repairQueuesATaskTheWayTheIntakeDoes()
    {
        const RunDefinition run = m_bed.run(5, QStringLiteral("Verify Repair Unit"));
        const QString campaignId = QStringLiteral("c-unit");
        const QStringList emails = run.emails();
        for (const QString &e : emails)
            m_bed.command({ "ZADD", m_bed.keys.delivered(), QByteArray::number(wallClockMs()),
                            campaignId.toUtf8() + '|' + e.toUtf8() });
        RepairTarget target { m_bed.redis.get(), m_bed.keys };

        auto repair = [&](const QStringList &which) {
            std::optional<Result<RepairResult, QString>> got;
            requeueLeads(target, run, campaignId, which,
                         [&](Result<RepairResult, QString> r) { got.emplace(std::move(r)); });
            [&] { QVERIFY(!got.has_value()); }(); // never from inside the call
            [&] { QTRY_VERIFY(got.has_value()); }();
            return got ? std::move(*got)
                       : Result<RepairResult, QString>(QStringLiteral("no answer"));
        };

        const auto first = repair({ emails[1], emails[3].toUpper() });
        QVERIFY2(first.ok(), qPrintable(first.ok() ? QString() : first.error()));
        QCOMPARE(first->taskId, QStringLiteral("repair:%1:1").arg(run.id));
        QCOMPARE(first->queued, 2);
        for (int i = 0; i < emails.size(); ++i) {
            const QByteArray member = campaignId.toUtf8() + '|' + emails[i].toUtf8();
            QCOMPARE(m_bed.command({ "ZSCORE", m_bed.keys.delivered(), member }).isNil() ? 0 : 1,
                     i == 1 || i == 3 ? 0 : 1);
        }
        const RedisReply entries = m_bed.command({ "XRANGE", m_bed.keys.leads(), "-", "+" });
        QCOMPARE(entries.elements().size(), size_t(2));
        for (size_t k = 0; k < 2; ++k) {
            QList<QByteArray> fields;
            for (const RedisReply &f : entries.at(k).at(1).elements())
                fields << f.bytes();
            const auto q = QueuedLead::fromFields(fields);
            QVERIFY2(q.ok(), qPrintable(q.ok() ? QString() : q.error()));
            QCOMPARE(q->taskId, first->taskId);
            QCOMPARE(q->source, QStringLiteral("repair"));
            QCOMPARE(q->campaignName, run.campaign);
            QCOMPARE(q->attempt, 0);
            QVERIFY(!q->needsLookup);
            QVERIFY(q->lead == run.lead(k == 0 ? 2 : 4));
        }
        const QByteArray hash = m_bed.keys.task(first->taskId);
        QCOMPARE(m_bed.command({ "HGET", hash, "total" }).bytes(), QByteArray("2"));
        QCOMPARE(m_bed.command({ "HGET", hash, "processed" }).bytes(), QByteArray("0"));
        QCOMPARE(m_bed.command({ "HGET", hash, "state" }).bytes(), QByteArray("queued"));
        QCOMPARE(m_bed.command({ "HGET", hash, "campaign" }).bytes(), run.campaign.toUtf8());
        const qint64 created = m_bed.command({ "HGET", hash, "created_ms" }).bytes().toLongLong();
        QVERIFY(created > 0);
        const qint64 ttl = m_bed.command({ "TTL", hash }).integer();
        QVERIFY2(ttl > 7 * 86400 - 60 && ttl <= 7 * 86400, qPrintable(QString::number(ttl)));
        QCOMPARE(m_bed.command({ "ZSCORE", m_bed.keys.tasks(), first->taskId.toUtf8() })
                     .bytes()
                     .toLongLong(),
                 created);

        // A second repair is a task of its own.
        const auto second = repair({ emails[0] });
        QVERIFY(second.ok());
        QCOMPARE(second->taskId, QStringLiteral("repair:%1:2").arg(run.id));
        QCOMPARE(m_bed.command({ "XLEN", m_bed.keys.leads() }).integer(), 3);

        // An address that is not the run's queues nothing at all.
        const auto foreign = repair({ emails[4], QStringLiteral("stranger@else.io") });
        QVERIFY(!foreign.ok());
        QVERIFY2(foreign.error().contains(QStringLiteral("stranger@else.io")),
                 qPrintable(foreign.error()));
        QCOMPARE(m_bed.command({ "XLEN", m_bed.keys.leads() }).integer(), 3);
        QVERIFY(!m_bed
                     .command({ "ZSCORE", m_bed.keys.delivered(),
                                campaignId.toUtf8() + '|' + emails[4].toUtf8() })
                     .isNil());

        // Nothing missing, nothing to do.
        const auto none = repair({});
        QVERIFY(none.ok());
        QVERIFY(none->taskId.isEmpty());
        QCOMPARE(none->queued, 0);
    }

    void duplicateIsReported()
    {
        const RunDefinition run = m_bed.run(10, QStringLiteral("Verify Duplicate"));
        const QString campaignId = m_bed.createCampaign(run.campaign);
        m_bed.plantRun(run, campaignId);
        const QString twice = run.emails().at(2);
        m_bed.plant(campaignId, twice.toUpper());

        const VerifyReport r = verify(run);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.listed, 11);
        QCOMPARE(r.duplicated, QStringList { twice });
        QCOMPARE(r.present, 9);
        QVERIFY(r.missing.isEmpty());
        QVERIFY(!r.clean());
    }

    void extraLeadsAreReportedOnceEach()
    {
        const RunDefinition run = m_bed.run(10, QStringLiteral("Verify Extra"));
        const QString campaignId = m_bed.createCampaign(run.campaign);
        m_bed.plantRun(run, campaignId);
        m_bed.plant(campaignId, QStringLiteral("Someone@Else.io"));
        m_bed.plant(campaignId, QStringLiteral("someone@else.io"));
        m_bed.plant(campaignId, QStringLiteral("another@else.io"));
        // The same address in another campaign is not this campaign's.
        const QString other = m_bed.createCampaign(QStringLiteral("Verify Extra Other"));
        m_bed.plant(other, run.emails().at(0));

        const VerifyReport r = verify(run);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.listed, 13);
        QCOMPARE(r.present, 10);
        QCOMPARE(
            r.extra,
            (QStringList { QStringLiteral("someone@else.io"), QStringLiteral("another@else.io") }));
        QVERIFY(r.clean()); // extras are reported, but the run's own leads are all there
    }

    void listingPagesThroughMoreThanAHundredLeads()
    {
        const RunDefinition run = m_bed.run(250, QStringLiteral("Verify Paging"));
        const QString campaignId = m_bed.createCampaign(run.campaign);
        m_bed.plantRun(run, campaignId);
        QVERIFY(m_bed.removeLead(campaignId, run.emails().at(149)));

        Verifier verifier(m_bed.client.get());
        QSignalSpy progressed(&verifier, &Verifier::progressed);
        const VerifyReport r = verify(run, &verifier);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.listed, 249);
        QCOMPARE(r.present, 249);
        QCOMPARE(r.missing, QStringList { run.emails().at(149) });
        const int pages = m_bed.requests("POST", QStringLiteral("/api/v2/leads/list"));
        QVERIFY2(pages >= 3 && pages <= 4, qPrintable(QString::number(pages)));
        QCOMPARE(progressed.count(), pages);
        QCOMPARE(progressed.last().at(0).toInt(), pages);
        QCOMPARE(progressed.last().at(1).toInt(), 249);
    }

    void theGatedClientKeepsTheWorkspaceLimit()
    {
        // 120 leads in pages of 5: 25 listing requests, which an ungated client would send
        // within well under a second.
        const RunDefinition run = m_bed.run(120, QStringLiteral("Verify Limit"));
        const QString campaignId = m_bed.createCampaign(run.campaign);
        m_bed.plantRun(run, campaignId);
        VerifyOptions options;
        options.pageSize = 5;
        Verifier verifier(m_bed.client.get(), options);
        QElapsedTimer timer;
        timer.start();
        const VerifyReport r = verify(run, &verifier, 30'000);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.present, 120);
        const int requests = int(m_bed.sandbox->requestLog().size());
        QVERIFY2(requests >= 25, qPrintable(QString::number(requests)));
        const int worst = m_bed.sandbox->worstWindow(milliseconds { 1000 });
        QVERIFY2(worst <= 10, qPrintable(QString::number(worst)));
        QCOMPARE(m_bed.rateLimited(), 0);
        // Paced, not merely lucky: 25+ requests at 8/s (the limiter's safety share of 10/s).
        QVERIFY2(timer.elapsed() >= 1500, qPrintable(QString::number(timer.elapsed())));
    }

    void unknownCampaignIsAnError()
    {
        const RunDefinition run = m_bed.run(5, QStringLiteral("Verify Nowhere"));
        m_bed.createCampaign(QStringLiteral("Verify Nowhere 2")); // a substring match only
        const VerifyReport r = verify(run);
        QVERIFY(!r.clean());
        QVERIFY2(r.error.contains(QStringLiteral("'Verify Nowhere'"))
                     && r.error.contains(QStringLiteral("not in Instantly")),
                 qPrintable(r.error));
        QVERIFY(r.missing.isEmpty()); // not a verdict on the leads: there was nothing to list
        QCOMPARE(m_bed.requests("POST", QStringLiteral("/api/v2/leads/list")), 0);
    }

    void campaignDeletedBehindTheCacheIsNotFound()
    {
        const RunDefinition run = m_bed.run(5, QStringLiteral("Verify Vanished"));
        const QString campaignId = m_bed.createCampaign(run.campaign);
        m_bed.plantRun(run, campaignId);
        Verifier verifier(m_bed.client.get());
        QVERIFY(verify(run, &verifier).clean()); // the client now caches the campaign
        QCOMPARE(m_bed.sandbox->store().deleteCampaign(campaignId).status, 200);

        const VerifyReport r = verify(run, &verifier);
        QVERIFY2(r.error.contains(QStringLiteral("not in Instantly")), qPrintable(r.error));
        QVERIFY(r.missing.isEmpty());
        QVERIFY(!r.clean());
    }

    void apiFailureIsAnErrorAfterRetries()
    {
        const RunDefinition run = m_bed.run(5, QStringLiteral("Verify Outage"));
        m_bed.plantRun(run, m_bed.createCampaign(run.campaign));
        m_bed.sandbox->addOutage(milliseconds { 0 }, milliseconds { 60'000 });
        VerifyOptions options;
        options.retry.maxAttempts = 3;
        options.retry.baseDelay = milliseconds { 20 };
        Verifier verifier(m_bed.client.get(), options);
        const VerifyReport r = verify(run, &verifier);
        QVERIFY(!r.clean());
        QVERIFY2(r.error.contains(QStringLiteral("503")), qPrintable(r.error));
        QCOMPARE(int(m_bed.sandbox->requestLog().size()), 3);
    }

    void aShortOutageIsRiddenOut()
    {
        const RunDefinition run = m_bed.run(150, QStringLiteral("Verify Blip"));
        m_bed.plantRun(run, m_bed.createCampaign(run.campaign));
        VerifyOptions options;
        options.retry.baseDelay = milliseconds { 100 };
        Verifier verifier(m_bed.client.get(), options);
        // Down from the first listing page on, for a moment.
        connect(&verifier, &Verifier::progressed, this, [&](int pages) {
            if (pages == 1)
                m_bed.sandbox->addOutage(milliseconds { 0 }, milliseconds { 250 });
        });
        const VerifyReport r = verify(run, &verifier);
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.present, 150);
        int unavailable = 0;
        for (const SandboxLogEntry &e : m_bed.sandbox->requestLog())
            unavailable += e.status == 503 ? 1 : 0;
        QVERIFY2(unavailable >= 1, "the outage never hit a request");
    }

private:
    VerifyReport verify(const RunDefinition &run, Verifier *verifier = nullptr,
                        int timeoutMs = 20'000)
    {
        std::unique_ptr<Verifier> own;
        if (!verifier) {
            own = std::make_unique<Verifier>(m_bed.client.get());
            verifier = own.get();
        }
        QSignalSpy finished(verifier, &Verifier::finished);
        if (!verifier->start(run))
            qWarning("the verifier refused to start");
        [&] { QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, timeoutMs); }();
        return verifier->report();
    }

    void startDispatcher()
    {
        InstantlyOptions options = m_bed.instantlyOptions();
        m_instantly = std::make_unique<InstantlyClient>(options); // the dispatcher gates sends
        DispatcherServices services;
        services.redis = m_bed.redis.get();
        services.instantly = m_instantly.get();
        services.limiter = m_bed.limiter.get();
        services.breaker = m_bed.breaker.get();
        services.lookups = m_bed.client.get();
        DispatcherOptions dispatcher;
        dispatcher.keyNamespace = QStringLiteral("verify%1").arg(m_round);
        dispatcher.coalescingWindow = milliseconds { 100 };
        dispatcher.blockTime = milliseconds { 200 };
        dispatcher.maintenanceInterval = milliseconds { 50 };
        m_dispatcher = std::make_unique<Dispatcher>(services, dispatcher);
        const auto problem = m_dispatcher->start();
        QVERIFY2(!problem, qPrintable(problem.value_or(QString())));
    }

    QByteArray field(const QString &task, const QByteArray &name)
    {
        return m_bed.command({ "HGET", m_bed.keys.task(task), name }).bytes();
    }

    static QStringList sorted(QStringList list)
    {
        list.sort();
        return list;
    }

    RedisServer m_server;
    int m_round = 0;
    test::VerifyTestbed m_bed;
    std::unique_ptr<InstantlyClient> m_instantly;
    std::unique_ptr<Dispatcher> m_dispatcher;
};

SLUICE_TEST_GUILESS_MAIN(TestVerifier)
#include "tst_verifier.moc"
