// `sluice backfill --since TIME [--yes] [--json]`: queue the Close tasks whose webhooks never
// arrived (Sluice down longer than Close's retries, or the subscription paused).
#include "commandredis.h"
#include "commands.h"

#include "close/closeclient.h"
#include "close/closegate.h"
#include "config/serveoptions.h"
#include "core/jsontext.h"
#include "intake/backfill.h"
#include "redis/redisclient.h"

#include <QCoreApplication>
#include <QTextStream>

#include <nlohmann/json.hpp>

using namespace sluice;

namespace {

/// --since, --yes, --json, the Close flags and the Redis ones. Only the variables of these
/// flags are read: a serve-only variable with a bad value must not stop a backfill.
FlagTable backfillFlags()
{
    FlagTable table(
        QStringLiteral("backfill"),
        QStringLiteral("sluice backfill --since TIME [--yes] [--json] [options]"),
        QStringLiteral(
            "Finds the Close lead tasks created since TIME whose text starts with \"Instantly:\"\n"
            "and queues the ones Sluice has not seen (by webhook or an earlier backfill),\n"
            "deduplicated by Close task id: the way back when Sluice was down longer than\n"
            "Close's retries, or Close paused the webhook subscription. Without --yes it only\n"
            "shows what it would queue."));
    table.add(FlagSpec::option(QStringLiteral("since"), FlagType::Text, QStringLiteral("TIME"),
                               QStringLiteral("tasks created at or after TIME: ISO 8601 "
                                              "(2026-12-07T06:00:00Z; UTC without an offset) or a "
                                              "duration back from now (90m, 6h, 2d); required")));
    table.add(FlagSpec::toggle(QStringLiteral("yes"),
                               QStringLiteral("queue them (without it: a dry run)")));
    table.add(FlagSpec::toggle(QStringLiteral("json"),
                               QStringLiteral("print the plan (and the outcome) as JSON")));
    // The Close budget is shared with every Sluice on the Redis, so it is serve's flag.
    table.add(serveFlagSpecs({ QStringLiteral("close-url"), QStringLiteral("close-rate"),
                               QStringLiteral("safety-factor"), QStringLiteral("journal"),
                               QStringLiteral("CLOSE_API_KEY") }));
    table.add(commandRedisSpecs());
    table.setFooter(
        commandRedisHelp()
        + QStringLiteral("Tasks that are ours but unusable (no campaign, a strange lead id) are "
                         "listed, never queued.\n"
                         "Exit status: 0 done (or nothing to do); 1 Close or Redis failed, or some "
                         "task could not be stored; 2 bad usage.\n"));
    return table;
}

QString backfillTimeText(const QDateTime &at)
{
    return at.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss 'UTC'"));
}

QString backfillTable(const std::vector<BackfillItem> &items, bool seen)
{
    QList<QStringList> rows {
        { QStringLiteral("CLOSE TASK"), QStringLiteral("LEAD"), QStringLiteral("CREATED"),
          seen ? QStringLiteral("CAMPAIGN (queued as)") : QStringLiteral("CAMPAIGN") }
    };
    for (const BackfillItem &item : items) {
        QString campaign = item.campaign;
        if (seen)
            campaign += QStringLiteral(" (%1)").arg(item.sluiceTaskId);
        rows.append(
            { item.closeTaskId, item.closeLeadId, backfillTimeText(item.created), campaign });
    }
    qsizetype widths[3] = { 0, 0, 0 };
    for (const QStringList &row : rows)
        for (int c = 0; c < 3; ++c)
            widths[c] = std::max(widths[c], row[c].size());
    QString text;
    for (const QStringList &row : rows)
        text += QStringLiteral("  %1  %2  %3  %4\n")
                    .arg(row[0].leftJustified(widths[0]), row[1].leftJustified(widths[1]),
                         row[2].leftJustified(widths[2]), row[3]);
    return text;
}

nlohmann::json backfillItemsJson(const std::vector<BackfillItem> &items)
{
    nlohmann::json out = nlohmann::json::array();
    for (const BackfillItem &item : items) {
        nlohmann::json one = { { "close_task_id", item.closeTaskId.toStdString() },
                               { "lead_id", item.closeLeadId.toStdString() },
                               { "campaign", item.campaign.toStdString() },
                               { "created", closeDateTimeText(item.created).toStdString() } };
        if (!item.sluiceTaskId.isEmpty())
            one["task_id"] = item.sluiceTaskId.toStdString();
        out.push_back(std::move(one));
    }
    return out;
}

nlohmann::json backfillPlanJson(const BackfillPlan &plan)
{
    nlohmann::json refused = nlohmann::json::array();
    for (const QString &r : plan.refused)
        refused.push_back(r.toStdString());
    return { { "since", closeDateTimeText(plan.since).toStdString() },
             { "listed", plan.listed },
             { "not_ours", plan.notOurs },
             { "to_queue", backfillItemsJson(plan.toQueue) },
             { "already_queued", backfillItemsJson(plan.alreadySeen) },
             { "refused", std::move(refused) } };
}

} // namespace

int runBackfillCommand(const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const auto read = readCommandFlags(backfillFlags(), args.mid(1));
    if (const int *code = std::get_if<int>(&read))
        return *code;
    const FlagValues &values = std::get<FlagValues>(read);
    if (!values.given(QStringLiteral("since"))) {
        err << "sluice backfill: --since is required (an ISO 8601 date-time, or a duration back "
               "from now like 6h or 2d)\n";
        return 2;
    }
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const auto since = parseBackfillSince(values.text(QStringLiteral("since")), now);
    if (!since) {
        err << "sluice backfill: " << since.error() << "\n";
        return 2;
    }
    const auto options = serveOptionsFrom(values, true);
    if (!options) {
        err << "sluice backfill: " << options.error() << "\n";
        return 2;
    }
    const ServeOptions &o = options.value();
    if (o.closeApiKey.isEmpty()) {
        err << "sluice backfill: CLOSE_API_KEY is not set\n";
        return 2;
    }
    const BackfillOptions backfillOptions { BackfillOptions {}.retention, o.dispatcher.journal };
    if (since.value() < now.addSecs(-backfillOptions.retention.count()))
        err << "sluice backfill: note: Sluice remembers queued Close tasks for "
            << backfillOptions.retention.count() / 86'400
            << " days; older tasks show as new (the delivered set still keeps a lead from "
               "reaching a campaign twice)\n";

    CommandRedis redis;
    const auto opened = openCommandRedis(redis, values, QStringLiteral("backfill"));
    if (const int *code = std::get_if<int>(&opened))
        return *code;
    const RedisKeys keys(std::get<QString>(opened));

    CloseOptions closeOptions;
    closeOptions.baseUrl = o.closeUrl;
    closeOptions.apiKey = o.closeApiKey;
    CloseClient close(closeOptions);
    LimiterOptions closeBudget;
    closeBudget.caps = o.closeCaps;
    closeBudget.safetyFactor = o.limiter.safetyFactor;
    // Through the gate the lookups use: one shared budget per Close route for the fleet.
    close.transport()->setGate(
        new CloseGate(redis.client.get(), keys.closeLimiter(), closeBudget, &close));
    Backfill backfill(&close, redis.client.get(), keys, backfillOptions);

    const bool apply = values.isOn(QStringLiteral("yes"));
    const bool asJson = values.isOn(QStringLiteral("json"));
    int code = 1;
    backfill.plan(since.value(), [&](Result<BackfillPlan, QString> planned) {
        if (!planned) {
            err << "sluice backfill: " << planned.error() << "\n";
            QCoreApplication::exit(1);
            return;
        }
        const BackfillPlan plan = planned.value();
        if (!asJson) {
            out << "Close lead tasks created since " << backfillTimeText(plan.since) << ": "
                << plan.listed << " (" << plan.notOurs << " not \"Instantly:\" tasks, "
                << plan.alreadySeen.size() << " already queued, " << plan.refused.size()
                << " unusable)\n";
            for (const QString &r : plan.refused)
                out << "  unusable: " << r << "\n";
            if (!plan.alreadySeen.empty())
                out << "\nAlready queued (not again):\n" << backfillTable(plan.alreadySeen, true);
            out << "\n"
                << (apply ? "Queueing " : "Would queue ") << plan.toQueue.size() << " task(s)"
                << (plan.toQueue.empty() ? "." : ":") << "\n";
            if (!plan.toQueue.empty())
                out << backfillTable(plan.toQueue, false);
            out.flush();
        }
        if (!apply) {
            if (asJson) {
                nlohmann::json j = backfillPlanJson(plan);
                j["applied"] = false;
                out << QString::fromStdString(jsonText(j, 2)) << "\n";
            } else {
                out << "\nDry run: nothing queued."
                    << (plan.toQueue.empty() ? "" : " Run again with --yes to queue them.") << "\n";
            }
            code = 0;
            QCoreApplication::exit(code);
            return;
        }
        backfill.apply(plan, [&, plan](Result<BackfillOutcome, QString> applied) {
            if (!applied) {
                err << "sluice backfill: " << applied.error() << "\n";
                QCoreApplication::exit(1);
                return;
            }
            const BackfillOutcome &r = applied.value();
            if (asJson) {
                nlohmann::json j = backfillPlanJson(plan);
                nlohmann::json failed = nlohmann::json::array();
                for (const QString &f : r.failed)
                    failed.push_back(f.toStdString());
                j["applied"] = true;
                j["queued"] = r.queued;
                j["skipped"] = r.skipped + int(plan.alreadySeen.size());
                j["failed"] = std::move(failed);
                out << QString::fromStdString(jsonText(j, 2)) << "\n";
            } else {
                out << "\nQueued " << r.queued << ", skipped "
                    << r.skipped + int(plan.alreadySeen.size()) << " (already queued), failed "
                    << r.failed.size() << ".\n";
                for (const QString &f : r.failed)
                    err << "sluice backfill: " << f << "\n";
            }
            code = r.failed.isEmpty() ? 0 : 1;
            QCoreApplication::exit(code);
        });
    });
    code = QCoreApplication::exec();
    redis.client->disconnectFromServer();
    return code;
}
