// `sluice lead QUERY`: a lead's timelines from the lead journal, from the shell.
#include "commandredis.h"
#include "commands.h"

#include "config/serveoptions.h"
#include "core/jsontext.h"
#include "journal/leadjournal.h"
#include "redis/redisclient.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QLoggingCategory>
#include <QTextStream>

#include <nlohmann/json.hpp>

#include <cstdio>

using namespace sluice;

namespace {

FlagTable leadFlags()
{
    FlagTable table(
        QStringLiteral("lead"),
        QStringLiteral("sluice lead QUERY [--json] [--limit N] [REDIS OPTIONS]"),
        QStringLiteral(
            "Prints a lead's life from the lead journal that every Sluice sharing the\n"
            "Redis writes: received, queued, each attempt (HTTP status, latency, limiter\n"
            "wait, breaker state, leads in the request), delivered, retries, dead\n"
            "letters, verify and clean-up. One timeline per lead and campaign.\n"
            "QUERY is an email (any case), a Close lead id (lead_...), or a task id\n"
            "(then every lead of that task)."));
    table.add(
        FlagSpec::toggle(QStringLiteral("json"), QStringLiteral("print the timelines as JSON")));
    table.add(FlagSpec::option(QStringLiteral("limit"), FlagType::Int, QStringLiteral("N"),
                               QStringLiteral("at most N leads of a task, 1..1000"))
                  .withDefault(QStringLiteral("50"))
                  .withRange(1, 1000));
    table.add(commandRedisSpecs());
    table.acceptPositional();
    table.setFooter(commandRedisHelp()
                    + QStringLiteral("Exit status: 0 found; 1 nothing in the journal, or Redis "
                                     "unreachable; 2 bad usage.\n"));
    return table;
}

QString formatTimelines(const QList<LeadTimeline> &timelines)
{
    QString text;
    for (const LeadTimeline &t : timelines) {
        text += QStringLiteral("%1 in '%2': %3 (task %4)\n")
                    .arg(t.identity, t.campaign, t.state(), t.tasks().join(QStringLiteral(", ")));
        const qint64 start = t.events.isEmpty() ? 0 : t.events.first().atMs;
        for (const JournalEvent &e : t.events)
            text += QStringLiteral("  %1  %2  %3  %4\n")
                        .arg(QDateTime::fromMSecsSinceEpoch(e.atMs).toString(
                                 QStringLiteral("yyyy-MM-dd HH:mm:ss.zzz")),
                             journalOffsetText(e.atMs - start).leftJustified(9),
                             e.stepName().leftJustified(16), e.summary());
        text += QLatin1Char('\n');
    }
    return text;
}

nlohmann::json timelinesJson(const QList<LeadTimeline> &timelines)
{
    nlohmann::json out = nlohmann::json::array();
    for (const LeadTimeline &t : timelines) {
        nlohmann::json events = nlohmann::json::array();
        for (const JournalEvent &e : t.events) {
            nlohmann::json event = nlohmann::json::object();
            const QList<QByteArray> fields = e.toFields();
            for (qsizetype i = 0; i + 1 < fields.size(); i += 2) {
                bool number = false;
                const qint64 n = fields[i + 1].toLongLong(&number);
                const std::string key = fields[i].toStdString();
                if (number && key != "task" && key != "detail" && key != "campaign")
                    event[key] = n;
                else
                    event[key] = fields[i + 1].toStdString();
            }
            event["step"] = e.stepName().toStdString();
            event["summary"] = e.summary().toStdString();
            events.push_back(std::move(event));
        }
        out.push_back({ { "lead", t.identity.toStdString() },
                        { "campaign", t.campaign.toStdString() },
                        { "state", t.state().toStdString() },
                        { "events", std::move(events) } });
    }
    return out;
}

} // namespace

int runLeadCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const FlagTable flags = leadFlags();
    const auto parsed = flags.parse(args.mid(1), QProcessEnvironment::systemEnvironment());
    if (parsed.ok() && parsed->helpRequested()) {
        out << flags.helpText();
        return 0;
    }
    QString problem = parsed.ok() ? QString() : parsed.error();
    const QStringList queries = parsed.ok() ? parsed->positional() : QStringList();
    if (problem.isEmpty() && queries.size() > 1)
        problem = QStringLiteral("one lead at a time: '%1' and '%2'").arg(queries[0], queries[1]);
    const QString query = queries.value(0);
    if (problem.isEmpty() && query.trimmed().isEmpty())
        problem = QStringLiteral("which lead? Give an email, a Close lead id or a task id");
    if (!problem.isEmpty()) {
        err << "sluice lead: " << problem << "\n";
        return 2;
    }
    const bool json = parsed->isOn(QStringLiteral("json"));
    const int limit = int(parsed->integer(QStringLiteral("limit")));
    CommandRedis redis;
    const auto opened = openCommandRedis(redis, parsed.value(), QStringLiteral("lead"));
    if (const int *code = std::get_if<int>(&opened))
        return *code;
    const QString ns = std::get<QString>(opened);
    LeadJournal journal(redis.client.get(), RedisKeys(ns));
    journal.search(query, limit, [&](Result<QList<LeadTimeline>, RedisError> r) {
        if (!r.ok()) {
            err << "sluice lead: Redis: " << r.error().describe() << Qt::endl;
            QCoreApplication::exit(1);
            return;
        }
        if (json) {
            out << QString::fromStdString(jsonText(timelinesJson(r.value()), 2)) << Qt::endl;
        } else if (r.value().isEmpty()) {
            err << "sluice lead: nothing in the journal for '" << query << "' (namespace " << ns
                << "); emails match whole, and events expire with the task "
                   "retention"
                << Qt::endl;
        } else {
            out << formatTimelines(r.value());
            out.flush();
        }
        QCoreApplication::exit(r.value().isEmpty() ? 1 : 0);
    });
    const int code = QCoreApplication::exec();
    redis.client->disconnectFromServer();
    return code;
}
