#include "commands.h"

#include "config/flagtable.h"
#include "core/secret.h"
#include "instantly/instantlyclient.h"
#include "sandbox/sandboxserver.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QElapsedTimer>
#include <QProcessEnvironment>
#include <QTextStream>
#include <QTimer>

#include <memory>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

/// Walks the Instantly client through every endpoint, one step after another, printing what
/// each call did. A 429 is waited out (Retry-After, else 1 s) and retried, as Sluice's
/// dispatcher does; anything else unexpected fails the demo.
class Demo : public QObject
{
public:
    Demo(InstantlyClient *client, int leadCount, bool burst, bool keep)
        : m_client(client)
        , m_leadCount(leadCount)
        , m_burst(burst)
        , m_keep(keep)
        , m_out(stdout)
    {
        m_total.start();
    }

    void start() { createCampaign(); }
    int failures() const { return m_failures; }

private:
    template<typename T> using Call = std::function<void(ApiCallback<T>)>;

    /// Runs `call`, retrying after 429s, then hands a successful value to `next`.
    template<typename T>
    void step(const QString &what, Call<T> call, std::function<void(const T &)> next,
              int attempt = 1)
    {
        auto timer = std::make_shared<QElapsedTimer>();
        timer->start();
        call([=, this](Result<T, ApiResult> r) {
            if (!r.ok() && r.error().outcome == CallOutcome::RateLimited && attempt < 6) {
                const milliseconds wait = r.error().retryAfter.value_or(milliseconds { 1000 });
                m_out << "  … " << what << ": 429, waiting " << wait.count() << " ms" << Qt::endl;
                QTimer::singleShot(wait, this,
                                   [=, this] { step<T>(what, call, next, attempt + 1); });
                return;
            }
            if (!r.ok()) {
                fail(what + QStringLiteral(": ") + r.error().describe());
                return;
            }
            m_out << "  ✓ " << what << " (" << timer->elapsed() << " ms)" << Qt::endl;
            next(r.value());
        });
    }

    void expect(bool ok, const QString &what)
    {
        m_out << (ok ? "  ✓ " : "  ✗ ") << what << Qt::endl;
        if (!ok)
            ++m_failures;
    }

    void fail(const QString &why)
    {
        m_out << "  ✗ " << why << Qt::endl;
        ++m_failures;
        finish();
    }

    void createCampaign()
    {
        const QString name = QStringLiteral("Sluice demo %1")
                                 .arg(QDateTime::currentDateTimeUtc().toString(
                                     QStringLiteral("yyyyMMdd-hhmmss-zzz")));
        m_out << "Instantly client demo against " << m_client->transport()->baseUrl().toString()
              << Qt::endl;
        step<Campaign>(
            QStringLiteral("create campaign '%1'").arg(name),
            [=, this](ApiCallback<Campaign> cb) { m_client->createCampaign(name, cb); },
            [=, this](const Campaign &c) {
                m_campaign = c;
                m_client->clearCampaignCache();
                findCampaign();
            });
    }

    void findCampaign()
    {
        step<std::optional<Campaign>>(
            QStringLiteral("find campaign by exact name"),
            [=, this](ApiCallback<std::optional<Campaign>> cb) {
                m_client->findCampaign(m_campaign.name, cb);
            },
            [=, this](const std::optional<Campaign> &c) {
                expect(c && c->id == m_campaign.id,
                       QStringLiteral("found id %1").arg(c ? c->id : QStringLiteral("none")));
                addLeads();
            });
    }

    std::vector<Lead> leads() const
    {
        std::vector<Lead> out;
        for (int i = 0; i < m_leadCount; ++i) {
            Lead lead;
            lead.email = QStringLiteral("demo+%1+%2@example.com").arg(m_campaign.id.left(8)).arg(i);
            lead.firstName = QStringLiteral("Demo");
            lead.lastName = QString::number(i);
            lead.companyName = QStringLiteral("Demo Company %1").arg(i);
            lead.customVariables.insert(QStringLiteral("source"), QStringLiteral("sluice demo"));
            out.push_back(lead);
        }
        return out;
    }

    void addLeads()
    {
        m_leads = leads();
        step<BulkAddResult>(
            QStringLiteral("bulk add %1 leads (POST /api/v2/leads/add)").arg(m_leadCount),
            [=, this](ApiCallback<BulkAddResult> cb) {
                m_client->addLeads(m_campaign.id, m_leads, SkipFlags { true, false }, cb);
            },
            [=, this](const BulkAddResult &r) {
                expect(r.leadsUploaded == m_leadCount && int(r.created.size()) == m_leadCount,
                       QStringLiteral("uploaded %1, created_leads %2")
                           .arg(r.leadsUploaded)
                           .arg(r.created.size()));
                addAgain();
            });
    }

    void addAgain()
    {
        step<BulkAddResult>(
            QStringLiteral("same batch again with skip_if_in_campaign"),
            [=, this](ApiCallback<BulkAddResult> cb) {
                m_client->addLeads(m_campaign.id, m_leads, SkipFlags { true, false }, cb);
            },
            [=, this](const BulkAddResult &r) {
                expect(r.leadsUploaded == 0 && r.skippedCount == m_leadCount,
                       QStringLiteral("uploaded %1, skipped %2: a replay is a no-op")
                           .arg(r.leadsUploaded)
                           .arg(r.skippedCount));
                createSingle();
            });
    }

    void createSingle()
    {
        step<LeadRecord>(
            QStringLiteral("single create of an existing lead (POST /api/v2/leads)"),
            [=, this](ApiCallback<LeadRecord> cb) {
                m_client->createLead(m_campaign.id, m_leads.front(), SkipFlags { true, false }, cb);
            },
            [=, this](const LeadRecord &r) {
                expect(r.email == m_leads.front().email,
                       QStringLiteral("answered with lead %1").arg(r.id));
                listLeads();
            });
    }

    void listLeads()
    {
        step<std::vector<LeadRecord>>(
            QStringLiteral("list the campaign's leads, 10 per page"),
            [=, this](ApiCallback<std::vector<LeadRecord>> cb) {
                m_client->listAllLeads(LeadFilter { m_campaign.id, {}, {}, 10, {} }, cb);
            },
            [=, this](const std::vector<LeadRecord> &all) {
                expect(int(all.size()) == m_leadCount,
                       QStringLiteral("listed %1 leads").arg(all.size()));
                if (m_burst)
                    burst();
                else
                    cleanUp();
            });
    }

    void burst()
    {
        const int n = 15;
        auto pending = std::make_shared<int>(n);
        auto limited = std::make_shared<int>(0);
        m_out << "  … " << n << " requests at once, to meet the workspace limit" << Qt::endl;
        for (int i = 0; i < n; ++i) {
            m_client->listCampaigns({}, 1, {}, [=, this](Result<Page<Campaign>, ApiResult> r) {
                if (!r.ok() && r.error().outcome == CallOutcome::RateLimited)
                    ++*limited;
                if (--*pending == 0) {
                    expect(*limited > 0,
                           QStringLiteral("%1 of %2 answered 429 Too Many Requests")
                               .arg(*limited)
                               .arg(n));
                    QTimer::singleShot(1000, this, [this] { cleanUp(); }); // let the window pass
                }
            });
        }
    }

    void cleanUp()
    {
        if (m_keep) {
            m_out << "  (kept campaign " << m_campaign.id << " and its leads)" << Qt::endl;
            finish();
            return;
        }
        step<int>(
            QStringLiteral("delete the campaign's leads (DELETE /api/v2/leads)"),
            [=, this](ApiCallback<int> cb) { m_client->deleteLeads(m_campaign.id, {}, cb); },
            [=, this](const int &count) {
                expect(count == m_leadCount, QStringLiteral("deleted %1").arg(count));
                step<Campaign>(
                    QStringLiteral("delete the campaign"),
                    [=, this](ApiCallback<Campaign> cb) {
                        m_client->deleteCampaign(m_campaign.id, cb);
                    },
                    [=, this](const Campaign &) { finish(); });
            });
    }

    void finish()
    {
        m_out << (m_failures == 0 ? "Demo passed" : "Demo FAILED") << " in " << m_total.elapsed()
              << " ms" << Qt::endl;
        QCoreApplication::exit(m_failures == 0 ? 0 : 1);
    }

    InstantlyClient *m_client;
    int m_leadCount;
    bool m_burst;
    bool m_keep;
    QTextStream m_out;
    QElapsedTimer m_total;
    Campaign m_campaign;
    std::vector<Lead> m_leads;
    int m_failures = 0;
};

} // namespace

namespace {

FlagTable demoFlags()
{
    FlagTable table(
        QStringLiteral("demo"), QStringLiteral("sluice demo [options]"),
        QStringLiteral(
            "Walks the Instantly client through every endpoint: campaign create/find/delete,\n"
            "bulk and single lead create (with skip_if_in_campaign), paginated listing, a burst\n"
            "into the rate limit, and cleanup. Without --instantly-url it runs an embedded\n"
            "sandbox."));
    table.add({
        FlagSpec::option(QStringLiteral("instantly-url"), FlagType::Text, QStringLiteral("URL"),
                         QStringLiteral("base URL of Instantly or a sandbox"))
            .withEnv(QStringLiteral("INSTANTLY_URL"))
            .withDefaultNote(QStringLiteral("an embedded sandbox")),
        FlagSpec::option(QStringLiteral("leads"), FlagType::Int, QStringLiteral("N"),
                         QStringLiteral("how many leads to add, 1..1000"))
            .withDefault(QStringLiteral("25"))
            .withRange(1, 1000),
        FlagSpec::toggle(QStringLiteral("no-burst"),
                         QStringLiteral("skip the burst into the rate limit")),
        FlagSpec::toggle(QStringLiteral("keep"),
                         QStringLiteral("keep the campaign and leads afterwards")),
        FlagSpec::secretVariable(QStringLiteral("INSTANTLY_API_KEY"),
                                 QStringLiteral("Instantly API key")),
    });
    table.setFooter(QStringLiteral("Without INSTANTLY_API_KEY the key is 'sandbox'.\n"));
    return table;
}

} // namespace

int runDemoCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const FlagTable flags = demoFlags();
    const auto parsed = flags.parse(args.mid(1), QProcessEnvironment::systemEnvironment());
    if (!parsed.ok()) {
        err << "sluice demo: " << parsed.error() << "\n";
        return 2;
    }
    const FlagValues &v = parsed.value();
    if (v.helpRequested()) {
        out << flags.helpText();
        return 0;
    }
    const int leadCount = int(v.integer(QStringLiteral("leads")));
    const QString url = v.text(QStringLiteral("instantly-url"));

    std::unique_ptr<SandboxServer> sandbox;
    InstantlyOptions options;
    options.apiKey = v.given(QStringLiteral("INSTANTLY_API_KEY"))
        ? v.text(QStringLiteral("INSTANTLY_API_KEY"))
        : QStringLiteral("sandbox");
    if (url.isEmpty()) {
        sandbox = std::make_unique<SandboxServer>();
        if (sandbox->start() == 0) {
            err << "sluice demo: could not start the embedded sandbox\n";
            return 1;
        }
        options.baseUrl = sandbox->baseUrl();
        options.apiKey = sandbox->options().apiKey;
    } else {
        options.baseUrl = QUrl(url, QUrl::StrictMode);
        if (!options.baseUrl.isValid()
            || !options.baseUrl.scheme().startsWith(QLatin1String("http"))) {
            err << "sluice demo: " << v.origin(QStringLiteral("instantly-url")) << ": '" << url
                << "' is not an http(s) URL\n";
            return 2;
        }
    }
    if (options.baseUrl.host() == QLatin1String("api.instantly.ai")
        && !v.isOn(QStringLiteral("no-burst"))) {
        err << "sluice demo: refusing to burst into the real Instantly limit; add --no-burst\n";
        return 2;
    }
    out << "Using API key " << maskSecret(options.apiKey) << Qt::endl;
    InstantlyClient client(options);
    Demo demo(&client, leadCount, !v.isOn(QStringLiteral("no-burst")),
              v.isOn(QStringLiteral("keep")));
    QTimer::singleShot(0, &demo, [&demo] { demo.start(); });
    quitOnTerminationSignals();
    return QCoreApplication::exec();
}
