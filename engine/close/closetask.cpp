#include "closetask.h"

#include "core/jsontext.h"

#include <QRegularExpression>

#include <nlohmann/json.hpp>

namespace sluice {

using json = nlohmann::json;

Result<CloseTask, QString> parseCloseTask(const json &task)
{
    if (!task.is_object())
        return QStringLiteral("a task is not a JSON object");
    auto text = [&task](const char *key) -> std::optional<QString> {
        const auto it = task.find(key);
        if (it == task.end() || !it->is_string())
            return std::nullopt;
        return QString::fromStdString(it->get<std::string>());
    };
    CloseTask out;
    const auto id = text("id");
    if (!id || id->isEmpty())
        return QStringLiteral("a task has no string \"id\"");
    out.id = *id;
    out.type = text("_type").value_or(QString());
    out.leadId = text("lead_id").value_or(QString());
    // A task without text is a task that is not ours; that is the caller's call, not a fault.
    out.text = text("text").value_or(QString());
    const auto created = text("date_created");
    if (!created)
        return QStringLiteral("task %1 has no string \"date_created\"").arg(out.id);
    const auto when = parseCloseDateTime(*created);
    if (!when)
        return QStringLiteral("task %1: date_created '%2' is not an ISO 8601 date-time")
            .arg(out.id, created->left(64));
    out.dateCreated = *when;
    return out;
}

Result<CloseTaskPage, QString> parseCloseTaskPage(const QByteArray &body)
{
    const json page = parseJson(body);
    if (!page.is_object())
        return QStringLiteral("the answer is not a JSON object");
    const auto data = page.find("data");
    if (data == page.end() || !data->is_array())
        return QStringLiteral("the answer has no \"data\" array");
    const auto more = page.find("has_more");
    if (more == page.end() || !more->is_boolean())
        return QStringLiteral("the answer has no boolean \"has_more\"");
    CloseTaskPage out;
    out.hasMore = more->get<bool>();
    out.tasks.reserve(data->size());
    for (const json &task : *data) {
        auto parsed = parseCloseTask(task);
        if (!parsed)
            return parsed.error();
        out.tasks.push_back(std::move(parsed).value());
    }
    return out;
}

std::optional<QDateTime> parseCloseDateTime(const QString &text)
{
    static const QRegularExpression pattern(QStringLiteral(
        R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)"
        R"((Z|[+-]\d{2}:?\d{2})?)?$)"));
    const QRegularExpressionMatch m = pattern.match(text.trimmed());
    if (!m.hasMatch())
        return std::nullopt;
    const QDate date(m.captured(1).toInt(), m.captured(2).toInt(), m.captured(3).toInt());
    if (!date.isValid())
        return std::nullopt;
    QTime time(0, 0);
    if (m.hasCaptured(4)) {
        const QString fraction = m.captured(7).leftJustified(3, QLatin1Char('0')).left(3);
        time = QTime(m.captured(4).toInt(), m.captured(5).toInt(),
                     m.hasCaptured(6) ? m.captured(6).toInt() : 0,
                     m.hasCaptured(7) ? fraction.toInt() : 0);
        if (!time.isValid())
            return std::nullopt;
    }
    int offsetSeconds = 0;
    const QString zone = m.captured(8);
    if (!zone.isEmpty() && zone != QLatin1String("Z")) {
        QString digits = zone.mid(1);
        digits.remove(QLatin1Char(':'));
        const int hours = digits.left(2).toInt(), minutes = digits.mid(2, 2).toInt();
        if (hours > 23 || minutes > 59)
            return std::nullopt;
        offsetSeconds
            = (hours * 3600 + minutes * 60) * (zone.startsWith(QLatin1Char('-')) ? -1 : 1);
    }
    QDateTime at(date, time, Qt::UTC);
    return at.addSecs(-offsetSeconds);
}

QString closeDateTimeText(const QDateTime &time)
{
    return time.toUTC().toString(QStringLiteral("yyyy-MM-ddTHH:mm:ss.zzz000+00:00"));
}

} // namespace sluice
