#include "intakebatch.h"

#include "close/closelead.h"
#include "close/closewebhook.h"
#include "core/jsontext.h"
#include "journal/leadjournal.h"
#include "queue/leadreason.h"
#include "store/queuedlead.h"
#include "store/rediskeys.h"

#include <QRandomGenerator>

#include <nlohmann/json.hpp>

namespace sluice {

using json = nlohmann::json;

namespace {

/// The lead journal's name for a spooled entry (journalIdentity()), from its fields. Worked out
/// here rather than in the script: Redis runs every webhook's script on its single thread.
QByteArray journalIdentityOf(const QList<QByteArray> &fields)
{
    for (qsizetype i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i] == "close_lead")
            return "close:" + fields[i + 1];
        if (fields[i] != "lead")
            continue;
        const json lead = parseJson(fields[i + 1]);
        if (lead.is_object() && lead.contains("email") && lead["email"].is_string())
            return journalIdentity(QString::fromStdString(lead["email"].get<std::string>()))
                .toUtf8();
    }
    return {};
}

} // namespace

IntakeBatch IntakeBatch::fromRequest(const IntakeRequest &request, const QString &taskId,
                                     const QString &dedupeId, qint64 createdMs)
{
    IntakeBatch batch;
    batch.taskId = taskId;
    batch.campaign = request.campaignName;
    switch (request.source) {
    case IntakeSource::CloseWebhook:
        batch.source = QStringLiteral("close");
        break;
    case IntakeSource::DirectBatch:
        batch.source = QStringLiteral("direct");
        break;
    case IntakeSource::CloseBackfill:
        batch.source = QStringLiteral("backfill");
        break;
    }
    batch.dedupeId = dedupeId;
    batch.closeTaskId = request.closeTaskId;
    batch.createdMs = createdMs;

    QueuedLead queued;
    queued.taskId = taskId;
    queued.campaignName = request.campaignName;
    queued.source = batch.source;
    queued.receivedMs = createdMs;
    queued.eventId = request.eventId;
    if (request.needsLeadLookup || request.unusable()) {
        queued.needsLookup = true;
        queued.closeLeadId = request.closeLeadId;
        QList<QByteArray> fields = queued.toFields();
        if (request.unusable()) {
            // A dead letter from the start, shaped as a lookup: once the lead is fixed in
            // Close, a retry looks it up again. intake_enqueue.lua stores an entry with a
            // `code` in the dead letters, and journals it under each address it names.
            json emails = json::array();
            for (const QString &email : request.unusableEmails)
                emails.push_back(journalIdentity(email).toStdString());
            const LeadReason code
                = request.allUnsubscribed ? LeadReason::Unsubscribed : LeadReason::NoUsableEmail;
            fields << "reason" << noUsableContactText(request.closeLeadId, request.skipped).toUtf8()
                   << "code" << leadReasonCode(code) << "dead_ms" << QByteArray::number(createdMs)
                   << "seen_emails" << jsonBytes(emails);
        }
        batch.entries.append(std::move(fields));
        batch.identities.append("close:" + request.closeLeadId.toUtf8());
        return batch;
    }
    batch.entries.reserve(qsizetype(request.leads.size()));
    batch.identities.reserve(qsizetype(request.leads.size()));
    for (const Lead &lead : request.leads) {
        queued.lead = lead;
        batch.entries.append(queued.toFields());
        batch.identities.append(journalIdentity(lead.email).toUtf8());
    }
    return batch;
}

QList<QByteArray> IntakeBatch::scriptKeys(const RedisKeys &keys) const
{
    QList<QByteArray> out { keys.leads(), keys.task(taskId), keys.tasks() };
    if (!dedupeId.isEmpty())
        out.append(keys.closeEvent(dedupeId));
    if (!closeTaskId.isEmpty())
        out.append(keys.closeTask(closeTaskId));
    return out;
}

QList<QByteArray> IntakeBatch::scriptArgs(const RedisKeys &keys, qint64 retentionSeconds,
                                          bool journal) const
{
    QList<QByteArray> out;
    qsizetype size = 7;
    for (const auto &fields : entries)
        size += fields.size() + 2;
    out.reserve(size);
    out << taskId.toUtf8() << campaign.toUtf8() << source.toUtf8() << QByteArray::number(createdMs)
        << QByteArray::number(retentionSeconds) << keys.prefix << note.toUtf8();
    for (qsizetype i = 0; i < entries.size(); ++i) {
        out.append(QByteArray::number(entries[i].size()));
        out.append(journal ? identities.value(i) : QByteArray());
        out.append(entries[i]);
    }
    return out;
}

QByteArray IntakeBatch::toJsonLine() const
{
    json list = json::array();
    for (const auto &fields : entries) {
        json one = json::array();
        for (const QByteArray &field : fields)
            one.push_back(field.toStdString());
        list.push_back(std::move(one));
    }
    json line = { { "task", taskId.toStdString() },   { "campaign", campaign.toStdString() },
                  { "source", source.toStdString() }, { "dedupe", dedupeId.toStdString() },
                  { "created_ms", createdMs },        { "note", note.toStdString() },
                  { "entries", std::move(list) } };
    if (!closeTaskId.isEmpty())
        line["close_task"] = closeTaskId.toStdString();
    // dump() escapes control characters, so the line never holds a raw newline.
    return jsonBytes(line, -1, BadUtf8::Replace);
}

std::optional<IntakeBatch> IntakeBatch::fromJsonLine(const QByteArray &line)
{
    const json j = parseJson(line);
    if (!j.is_object())
        return std::nullopt;
    auto text = [&](const char *key) -> std::optional<QString> {
        const auto it = j.find(key);
        if (it == j.end() || !it->is_string())
            return std::nullopt;
        return QString::fromStdString(it->get<std::string>());
    };
    const auto task = text("task");
    const auto campaign = text("campaign");
    const auto source = text("source");
    const auto dedupe = text("dedupe");
    const auto created = j.find("created_ms");
    const auto entries = j.find("entries");
    if (!task || task->isEmpty() || !campaign || !source || !dedupe || created == j.end()
        || !created->is_number_integer() || entries == j.end() || !entries->is_array()
        || entries->empty())
        return std::nullopt;
    IntakeBatch batch;
    batch.taskId = *task;
    batch.campaign = *campaign;
    batch.source = *source;
    batch.dedupeId = *dedupe;
    batch.createdMs = created->get<qint64>();
    batch.note = text("note").value_or(QString()); // lines spooled before the journal have none
    batch.closeTaskId = text("close_task").value_or(QString()); // and before the backfill
    for (const json &entry : *entries) {
        if (!entry.is_array() || entry.empty() || entry.size() % 2 != 0)
            return std::nullopt;
        QList<QByteArray> fields;
        fields.reserve(qsizetype(entry.size()));
        for (const json &field : entry) {
            if (!field.is_string())
                return std::nullopt;
            fields.append(QByteArray::fromStdString(field.get<std::string>()));
        }
        batch.identities.append(journalIdentityOf(fields));
        batch.entries.append(std::move(fields));
    }
    return batch;
}

QString newTaskId()
{
    quint32 words[4];
    QRandomGenerator::system()->fillRange(words);
    return QString::fromLatin1(
        QByteArray(reinterpret_cast<const char *>(words), sizeof(words)).toHex());
}

} // namespace sluice
