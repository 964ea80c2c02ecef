// `sluice lead QUERY`: a lead's timelines from the lead journal, from the shell.
#include "commandredis.h"
#include "commands.h"

#include "config/serveoptions.h"
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

const char kLeadHelp[]
    = "Usage: sluice lead QUERY [--json] [--limit N] [REDIS OPTIONS]\n\n"
      "Prints a lead's life from the lead journal that every Sluice sharing the\n"
      "Redis writes: received, queued, each attempt (HTTP status, latency, limiter\n"
      "wait, breaker state, leads in the request), delivered, retries, dead\n"
      "letters, verify and clean-up. One timeline per lead and campaign.\n"
      "QUERY is an email (any case), a Close lead id (lead_...), or a task id\n"
      "(then every lead of that task).\n\n"
      "Options:\n"
      "  --json                 print the timelines as JSON\n"
      "  --limit N              at most N leads of a task, 1..1000 (default 50)\n\n";

struct LeadRequest
{
    QString query;
    bool json = false;
    int limit = 50;
    bool help = false;
    QStringList redisArgs;
};

Result<LeadRequest, QString> parseLeadRequest(const QStringList &args)
{
    LeadRequest request;
    for (qsizetype i = 0; i < args.size(); ++i) {
        QString arg = args[i];
        if (arg == QLatin1String("--help") || arg == QLatin1String("-h")) {
            request.help = true;
            return request;
        }
        if (!arg.startsWith(QLatin1String("--"))) {
            if (!request.query.isEmpty())
                return QStringLiteral("one lead at a time: '%1' and '%2'").arg(request.query, arg);
            request.query = arg;
            continue;
        }
        QString value;
        bool hasValue = false;
        if (const qsizetype eq = arg.indexOf(QLatin1Char('=')); eq > 0) {
            value = arg.mid(eq + 1);
            arg = arg.left(eq);
            hasValue = true;
        }
        const QString name = arg.mid(2);
        if (name == QLatin1String("json")) {
            if (hasValue)
                return QStringLiteral("--json takes no value");
            request.json = true;
            continue;
        }
        if (!hasValue) {
            if (i + 1 >= args.size() || args[i + 1].startsWith(QLatin1String("--")))
                return QStringLiteral("%1 needs a value").arg(arg);
            value = args[++i];
        }
        if (name == QLatin1String("limit")) {
            bool ok = false;
            request.limit = value.toInt(&ok);
            if (!ok || request.limit < 1 || request.limit > 1000)
                return QStringLiteral("--limit: '%1' is not a whole number from 1 to 1000")
                    .arg(value);
        } else if (isCommandRedisFlag(name)) {
            request.redisArgs << arg << value;
        } else {
            return QStringLiteral("unknown option '%1'; see `sluice lead --help`").arg(arg);
        }
    }
    if (request.query.trimmed().isEmpty())
        return QStringLiteral("which lead? Give an email, a Close lead id or a task id");
    return request;
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
    const auto parsed = parseLeadRequest(args.mid(1));
    if (!parsed.ok()) {
        err << "sluice lead: " << parsed.error() << "\n";
        return 2;
    }
    const LeadRequest &request = parsed.value();
    if (request.help) {
        out << kLeadHelp << commandRedisHelp()
            << "Exit status: 0 found; 1 nothing in the journal, or Redis unreachable; 2 bad "
               "usage.\n";
        return 0;
    }
    CommandRedis redis;
    const auto opened = openCommandRedis(redis, request.redisArgs, QStringLiteral("lead"));
    if (const int *code = std::get_if<int>(&opened))
        return *code;
    const QString ns = std::get<QString>(opened);
    LeadJournal journal(redis.client.get(), RedisKeys(ns));
    journal.search(request.query, request.limit, [&](Result<QList<LeadTimeline>, RedisError> r) {
        if (!r.ok()) {
            err << "sluice lead: Redis: " << r.error().describe() << Qt::endl;
            QCoreApplication::exit(1);
            return;
        }
        if (request.json) {
            out << QString::fromStdString(timelinesJson(r.value()).dump(2)) << Qt::endl;
        } else if (r.value().isEmpty()) {
            err << "sluice lead: nothing in the journal for '" << request.query << "' (namespace "
                << ns
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
