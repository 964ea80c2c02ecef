#include "backfill.h"

#include "close/closeclient.h"
#include "close/closewebhook.h"
#include "config/serveoptions.h"
#include "intake/intakebatch.h"
#include "redis/luascripts.h"
#include "redis/redisclient.h"

#include <QRegularExpression>

#include <memory>

namespace sluice {

namespace {

/// Close task markers asked for in one MGET.
constexpr int kBackfillSeenChunk = 500;

} // namespace

BackfillPlan sortBackfillTasks(const std::vector<CloseTask> &tasks, const QDateTime &since)
{
    static const QRegularExpression leadIdShape(QStringLiteral("^lead_[A-Za-z0-9_-]{1,123}$"));
    BackfillPlan plan;
    plan.since = since;
    for (const CloseTask &task : tasks) {
        if (!task.type.isEmpty() && task.type != QLatin1String("lead"))
            continue; // asked for lead tasks only; anything else is not a lead's to-do
        ++plan.listed;
        const auto campaign = campaignOfTaskText(task.text);
        if (campaign.ok() && !campaign.value()) {
            ++plan.notOurs;
            continue;
        }
        QString problem;
        if (!campaign.ok())
            problem = QStringLiteral("task text: ") + campaign.error();
        else if (!isCloseTaskId(task.id))
            problem = QStringLiteral("'%1' is not a Close task id").arg(task.id.left(64));
        else if (!leadIdShape.match(task.leadId).hasMatch())
            problem = QStringLiteral("'%1' is not a Close lead id").arg(task.leadId.left(64));
        if (!problem.isEmpty()) {
            plan.refused.append(task.id.left(64) + QStringLiteral(": ") + problem);
            continue;
        }
        plan.toQueue.push_back({ task.id, task.leadId, *campaign.value(), task.dateCreated, {} });
    }
    return plan;
}

Result<QDateTime, QString> parseBackfillSince(const QString &text, const QDateTime &now)
{
    const QString t = text.trimmed();
    if (t.isEmpty())
        return QStringLiteral("--since needs a time: an ISO 8601 date-time or a duration back "
                              "from now like 6h or 2d");
    if (const auto back = parseDuration(t)) {
        if (back->count() <= 0)
            return QStringLiteral("--since %1: a duration back from now must be more than 0")
                .arg(t);
        return now.toUTC().addMSecs(-back->count());
    }
    const auto at = parseCloseDateTime(t);
    if (!at)
        return QStringLiteral("--since '%1' is neither an ISO 8601 date-time "
                              "(2026-12-07T06:00:00Z) nor a duration like 90m, 6h or 2d")
            .arg(t.left(64));
    if (*at > now)
        return QStringLiteral("--since %1 is in the future").arg(closeDateTimeText(*at));
    return *at;
}

Backfill::Backfill(CloseClient *close, RedisClient *redis, RedisKeys keys, BackfillOptions options,
                   QObject *parent)
    : QObject(parent)
    , m_close(close)
    , m_redis(redis)
    , m_keys(std::move(keys))
    , m_options(options)
{
    if (m_redis)
        m_redis->loadScript(enqueueScript(), bundledLuaScript(enqueueScript()));
}

QString Backfill::enqueueScript()
{
    return QStringLiteral("intake_enqueue");
}

void Backfill::plan(const QDateTime &since, PlanDone done)
{
    QPointer<Backfill> self(this);
    m_close->listLeadTasksSince(
        since, [self, since, done = std::move(done)](ApiReply<std::vector<CloseTask>> listed) {
            if (!self)
                return;
            if (!listed.ok()) {
                done(QString(QStringLiteral("Close task listing: ") + listed.error().describe()));
                return;
            }
            if (!self->m_redis) {
                done(QStringLiteral("no Redis"));
                return;
            }
            auto plan = std::make_shared<BackfillPlan>(sortBackfillTasks(listed.value(), since));
            if (plan->toQueue.empty()) {
                done(*plan);
                return;
            }
            // Which are queued already: one MGET per chunk of markers, all pipelined.
            struct Check
            {
                std::vector<QByteArray> seenBy; ///< Sluice task id per item, empty: not seen
                int pending = 0;
                QString error;
            };
            auto check = std::make_shared<Check>();
            check->seenBy.resize(plan->toQueue.size());
            const size_t n = plan->toQueue.size();
            for (size_t first = 0; first < n; first += kBackfillSeenChunk) {
                const size_t last = std::min(n, first + kBackfillSeenChunk);
                QList<QByteArray> argv { "MGET" };
                for (size_t i = first; i < last; ++i)
                    argv.append(self->m_keys.closeTask(plan->toQueue[i].closeTaskId));
                ++check->pending;
                self->m_redis->command(argv, [plan, check, first, done](RedisResult r) {
                    if (!r.ok())
                        check->error = r.error().describe();
                    else
                        for (size_t i = 0; i < r.value().elements().size(); ++i)
                            check->seenBy[first + i] = r.value().elements()[i].bytes();
                    if (--check->pending > 0)
                        return;
                    if (!check->error.isEmpty()) {
                        done(QString(QStringLiteral("Redis: ") + check->error));
                        return;
                    }
                    std::vector<BackfillItem> fresh;
                    for (size_t i = 0; i < plan->toQueue.size(); ++i) {
                        BackfillItem item = plan->toQueue[i];
                        if (check->seenBy[i].isEmpty()) {
                            fresh.push_back(std::move(item));
                        } else {
                            item.sluiceTaskId = QString::fromUtf8(check->seenBy[i]);
                            plan->alreadySeen.push_back(std::move(item));
                        }
                    }
                    plan->toQueue = std::move(fresh);
                    done(*plan);
                });
            }
        });
}

void Backfill::apply(const BackfillPlan &plan, ApplyDone done)
{
    if (!m_redis) {
        done(QStringLiteral("no Redis"));
        return;
    }
    auto outcome = std::make_shared<BackfillOutcome>();
    if (plan.toQueue.empty()) {
        done(*outcome);
        return;
    }
    auto pending = std::make_shared<int>(int(plan.toQueue.size()));
    auto shared = std::make_shared<ApplyDone>(std::move(done));
    for (const BackfillItem &item : plan.toQueue) {
        IntakeRequest request;
        request.source = IntakeSource::CloseBackfill;
        request.campaignName = item.campaign;
        request.closeLeadId = item.closeLeadId;
        request.closeTaskId = item.closeTaskId;
        request.needsLeadLookup = true;
        IntakeBatch batch = IntakeBatch::fromRequest(request, newTaskId(), {},
                                                     QDateTime::currentMSecsSinceEpoch());
        batch.note = QStringLiteral("Close task %1 (created %2), by backfill since %3")
                         .arg(item.closeTaskId, closeDateTimeText(item.created),
                              closeDateTimeText(plan.since));
        const QString closeTaskId = item.closeTaskId;
        m_redis->evalScript(
            enqueueScript(), batch.scriptKeys(m_keys),
            batch.scriptArgs(m_keys, m_options.retention.count(), m_options.journal),
            [outcome, pending, shared, closeTaskId](RedisResult r) {
                if (!r.ok()) {
                    outcome->failed.append(closeTaskId + QStringLiteral(": Redis: ")
                                           + r.error().describe());
                } else if (!r.value().isArray() || r.value().at(0).bytes().isEmpty()) {
                    outcome->failed.append(closeTaskId
                                           + QStringLiteral(": unexpected answer from the queue: ")
                                           + r.value().describe());
                } else if (r.value().at(1).integer() == 1) {
                    ++outcome->skipped;
                } else {
                    ++outcome->queued;
                    outcome->sluiceTaskIds.append(QString::fromUtf8(r.value().at(0).bytes()));
                }
                if (--*pending == 0)
                    (*shared)(*outcome);
            });
    }
}

} // namespace sluice

#include "moc_backfill.cpp" // NOLINT(bugprone-suspicious-include)
