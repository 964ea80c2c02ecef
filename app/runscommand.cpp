// `sluice runs`: the load-test run ledger from the shell (list, show, export, compare, delete).
#include "commandredis.h"
#include "commands.h"

#include "config/serveoptions.h"
#include "core/jsontext.h"
#include "redis/redisclient.h"
#include "runs/runledger.h"
#include "runs/runreport.h"
#include "store/rediskeys.h"

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QSaveFile>
#include <QTextStream>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

using namespace sluice;

namespace {

enum class RunsAction { List, Show, Export, Compare, Delete };

/// What each form is called, takes and does, for parsing and for --help.
struct ActionSpec
{
    RunsAction action;
    const char *word; ///< after `sluice runs`; empty for the listing
    const char *usage;
    const char *about;
    QStringList options; ///< its own flags, without the dashes
};

const std::vector<ActionSpec> &actionSpecs()
{
    static const std::vector<ActionSpec> specs {
        { RunsAction::List,
          "",
          "sluice runs [--limit N] [--json]",
          "Lists the load-test runs in the ledger, newest first: id, stage, leads, created\n"
          "time (UTC), duration, p99 acknowledgement latency, leads delivered, verdict.",
          { QStringLiteral("limit"), QStringLiteral("json") } },
        { RunsAction::Show,
          "show",
          "sluice runs show ID [--json]",
          "Prints one run in full: definition, timings, acknowledgement latency, delivery,\n"
          "upstream requests against the caps, verify and cleanup results, every check and\n"
          "the verdict.",
          { QStringLiteral("json") } },
        { RunsAction::Export,
          "export",
          "sluice runs export [ID...] --format json|csv [--output FILE]",
          "Exports the runs named (default: every run in the ledger, newest first) as a\n"
          "JSON array of records, or as CSV with one flat row per run (RFC 4180), to FILE\n"
          "or standard output.",
          { QStringLiteral("format"), QStringLiteral("output") } },
        { RunsAction::Compare,
          "compare",
          "sluice runs compare A B",
          "Shows two runs side by side: metric, run A, run B, and the change from A to B.",
          {} },
        { RunsAction::Delete,
          "delete",
          "sluice runs delete ID",
          "Removes one run from the ledger. The leads it made are not touched: `sluice\n"
          "cleanup` removes those.",
          {} },
    };
    return specs;
}

const ActionSpec &specOf(RunsAction action)
{
    for (const ActionSpec &spec : actionSpecs())
        if (spec.action == action)
            return spec;
    return actionSpecs().front();
}

/// The form's flags, with the Redis ones, and its --help.
FlagTable runsFlags(RunsAction action)
{
    const ActionSpec &spec = specOf(action);
    const QString command
        = QString::fromLatin1(spec.usage).section(QLatin1Char(' '), 1, *spec.word ? 2 : 1);
    FlagTable table(command, QLatin1String(spec.usage) + QStringLiteral(" [REDIS OPTIONS]"),
                    QLatin1String(spec.about));
    const std::vector<FlagSpec> own {
        FlagSpec::option(QStringLiteral("limit"), FlagType::Int, QStringLiteral("N"),
                         QStringLiteral("show the newest N runs, 1..100000"))
            .withDefault(QStringLiteral("20"))
            .withRange(1, 100'000),
        FlagSpec::toggle(QStringLiteral("json"),
                         QStringLiteral("print the records as JSON instead of text")),
        FlagSpec::option(QStringLiteral("format"), FlagType::Text, QStringLiteral("F"),
                         QStringLiteral("json or csv (required)")),
        FlagSpec::option(QStringLiteral("output"), FlagType::Text, QStringLiteral("FILE"),
                         QStringLiteral("write there instead of standard output (replaced "
                                        "atomically)")),
    };
    for (const FlagSpec &f : own)
        if (spec.options.contains(f.name))
            table.add(f);
    table.add(commandRedisSpecs());
    table.acceptPositional();
    QString footer;
    if (action == RunsAction::List) {
        footer += QStringLiteral("Other forms (each with --help):\n");
        for (const ActionSpec &other : actionSpecs())
            if (other.action != RunsAction::List)
                footer += QStringLiteral("  ") + QLatin1String(other.usage) + QLatin1Char('\n');
        footer += QLatin1Char('\n');
    }
    footer += commandRedisHelp();
    footer += QStringLiteral("Exit status: 0 done; 1 failed (no such run, Redis unreachable, file "
                             "not written); 2 bad usage.\n");
    table.setFooter(footer);
    return table;
}

/// One `sluice runs ...` command line, understood.
struct RunsRequest
{
    RunsAction action = RunsAction::List;
    bool help = false;
    QString helpText;
    QStringList ids;
    int limit = 20;
    bool json = false;
    QString format; ///< export: "json" or "csv"
    QString output; ///< export: file; empty for standard output
    FlagValues flags; ///< for openCommandRedis
};

Result<RunsRequest, QString> parseRunsRequest(const QStringList &args)
{
    RunsRequest request;
    QStringList rest = args;
    if (!rest.isEmpty() && !rest.first().startsWith(QLatin1Char('-'))) {
        const QString word = rest.takeFirst();
        bool known = false;
        for (const ActionSpec &spec : actionSpecs()) {
            if (*spec.word && word == QLatin1String(spec.word)) {
                request.action = spec.action;
                known = true;
            }
        }
        if (!known && word == QLatin1String("list"))
            known = true;
        if (!known)
            return QStringLiteral("unknown command '%1'; use show, export, compare or delete, or "
                                  "nothing to list the runs")
                .arg(word);
    }
    const FlagTable table = runsFlags(request.action);
    const QString command = QStringLiteral("sluice ") + table.command();
    const auto parsed = table.parse(rest, QProcessEnvironment::systemEnvironment());
    if (!parsed.ok())
        return parsed.error();
    const FlagValues &v = parsed.value();
    if (v.helpRequested()) {
        request.help = true;
        request.helpText = table.helpText();
        return request;
    }
    request.flags = v;
    request.ids = v.positional();
    request.limit = int(v.integer(QStringLiteral("limit")));
    request.json = v.isOn(QStringLiteral("json"));
    request.format = v.text(QStringLiteral("format")).toLower();
    request.output = v.text(QStringLiteral("output"));
    if (v.given(QStringLiteral("format")) && request.format != QLatin1String("json")
        && request.format != QLatin1String("csv"))
        return QStringLiteral("--format: '%1' is neither json nor csv")
            .arg(v.text(QStringLiteral("format")));
    if (v.given(QStringLiteral("output")) && request.output.isEmpty())
        return QStringLiteral("--output needs a file name");
    const qsizetype ids = request.ids.size();
    switch (request.action) {
    case RunsAction::List:
        if (ids > 0)
            return QStringLiteral("unexpected argument '%1'; `sluice runs show ID` shows one run")
                .arg(request.ids.first());
        break;
    case RunsAction::Show:
    case RunsAction::Delete:
        if (ids != 1)
            return QStringLiteral("`%1` takes exactly one run id").arg(command);
        break;
    case RunsAction::Compare:
        if (ids != 2)
            return QStringLiteral("`sluice runs compare` takes two run ids, A and B");
        break;
    case RunsAction::Export:
        if (!v.given(QStringLiteral("format")))
            return QStringLiteral("`sluice runs export` needs --format json or --format csv");
        break;
    }
    return request;
}

void writeStdout(const QByteArray &bytes)
{
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stdout);
    std::fflush(stdout);
}

/// One `sluice runs` invocation on the event loop: asks the ledger, prints, sets the exit code.
class RunsTask
{
public:
    RunsTask(RunLedger *ledger, RunsRequest request)
        : m_ledger(ledger)
        , m_request(std::move(request))
    { }

    void start()
    {
        switch (m_request.action) {
        case RunsAction::List:
            m_ledger->list(m_request.limit, [this](Result<RunList, LedgerError> r) { listed(r); });
            break;
        case RunsAction::Show:
            loadAll([this](const std::vector<RunRecord> &runs) { show(runs.front()); });
            break;
        case RunsAction::Compare:
            loadAll([this](const std::vector<RunRecord> &runs) {
                writeStdout(formatRunComparison(runs[0], runs[1]).toUtf8());
                finish(0);
            });
            break;
        case RunsAction::Export:
            if (m_request.ids.isEmpty())
                m_ledger->list(0, [this](Result<RunList, LedgerError> r) {
                    if (!r.ok())
                        return fail(r.error().describe());
                    reportUnreadable(r.value().unreadable);
                    exportRuns(r.value().runs, r.value().unreadable.isEmpty() ? 0 : 1);
                });
            else
                loadAll([this](const std::vector<RunRecord> &runs) { exportRuns(runs, 0); });
            break;
        case RunsAction::Delete:
            m_ledger->remove(m_request.ids.first(), [this](std::optional<LedgerError> error) {
                if (error)
                    return fail(error->describe());
                writeStdout(QStringLiteral("deleted run %1\n").arg(m_request.ids.first()).toUtf8());
                finish(0);
            });
            break;
        }
    }

private:
    void finish(int code) { QCoreApplication::exit(code); }

    void fail(const QString &message)
    {
        QTextStream(stderr) << "sluice runs: " << message << "\n";
        finish(1);
    }

    void reportUnreadable(const QStringList &ids)
    {
        for (const QString &id : ids)
            QTextStream(stderr) << "sluice runs: run '" << id
                                << "' is stored but cannot be read by this version; left out\n";
    }

    /// Loads every id of the request; `then` gets them in order, or each failure is printed
    /// and the command fails.
    void loadAll(std::function<void(const std::vector<RunRecord> &)> then)
    {
        struct Loading
        {
            std::vector<std::optional<RunRecord>> runs;
            QStringList errors;
            int left = 0;
        };
        auto loading = std::make_shared<Loading>();
        loading->runs.resize(size_t(m_request.ids.size()));
        loading->left = int(m_request.ids.size());
        for (qsizetype i = 0; i < m_request.ids.size(); ++i) {
            m_ledger->load(
                m_request.ids[i], [this, loading, i, then](Result<RunRecord, LedgerError> r) {
                    if (r.ok())
                        loading->runs[size_t(i)] = std::move(r).value();
                    else if (!loading->errors.contains(r.error().describe()))
                        loading->errors.append(r.error().describe());
                    if (--loading->left > 0)
                        return;
                    if (!loading->errors.isEmpty())
                        return fail(loading->errors.join(QStringLiteral("\nsluice runs: ")));
                    std::vector<RunRecord> runs;
                    for (auto &run : loading->runs)
                        runs.push_back(std::move(*run));
                    then(runs);
                });
        }
    }

    void listed(const Result<RunList, LedgerError> &r)
    {
        if (!r.ok())
            return fail(r.error().describe());
        const RunList &list = r.value();
        reportUnreadable(list.unreadable);
        if (m_request.json) {
            writeStdout(runsToJson(list.runs));
            return finish(0);
        }
        if (list.total == 0) {
            writeStdout("no runs in the ledger yet; `sluice loadtest` makes one\n");
            return finish(0);
        }
        QString text = formatRunTable(list.runs);
        if (list.total > int(list.runs.size()) + int(list.unreadable.size()))
            text += QStringLiteral("\n%1 of %2 runs shown, newest first; --limit N shows more\n")
                        .arg(list.runs.size())
                        .arg(list.total);
        writeStdout(text.toUtf8());
        finish(0);
    }

    void show(const RunRecord &record)
    {
        writeStdout(m_request.json ? jsonBytes(toJson(record), 2, BadUtf8::Replace) + '\n'
                                   : formatRunReport(record).toUtf8());
        finish(0);
    }

    void exportRuns(const std::vector<RunRecord> &runs, int code)
    {
        const QByteArray bytes
            = m_request.format == QLatin1String("csv") ? runsToCsv(runs) : runsToJson(runs);
        if (m_request.output.isEmpty()) {
            writeStdout(bytes);
            return finish(code);
        }
        QSaveFile file(m_request.output);
        if (!file.open(QIODevice::WriteOnly) || file.write(bytes) != bytes.size() || !file.commit())
            return fail(
                QStringLiteral("cannot write %1: %2").arg(m_request.output, file.errorString()));
        QTextStream(stderr) << "exported " << runs.size() << " run(s) to " << m_request.output
                            << "\n";
        finish(code);
    }

    RunLedger *m_ledger;
    RunsRequest m_request;
};

} // namespace

int runRunsCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const auto parsed = parseRunsRequest(args.mid(1));
    if (!parsed.ok()) {
        err << "sluice runs: " << parsed.error() << "\n";
        return 2;
    }
    const RunsRequest &request = parsed.value();
    if (request.help) {
        out << request.helpText;
        return 0;
    }
    CommandRedis redis;
    const auto ns = openCommandRedis(redis, request.flags, QStringLiteral("runs"));
    if (const int *code = std::get_if<int>(&ns))
        return *code;
    RunLedger ledger(redis.client.get(), RedisKeys(std::get<QString>(ns)));
    RunsTask task(&ledger, request);
    task.start();
    const int code = QCoreApplication::exec();
    redis.client->disconnectFromServer();
    return code;
}
