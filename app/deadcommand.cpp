// `sluice dead list|discard` and `sluice retry --dead`: the dead letters from the shell,
// grouped by their reason code, with what the operator does about each.
#include "await.h"
#include "commandredis.h"
#include "commands.h"

#include "control/operatorcontrol.h"
#include "core/jsontext.h"
#include "core/spantext.h"
#include "queue/leadreason.h"
#include "redis/redisclient.h"
#include "store/rediskeys.h"

#include <QDateTime>
#include <QRegularExpression>
#include <QTextStream>

#include <nlohmann/json.hpp>

using namespace sluice;

namespace {

const char kDeadUsage[] = "Usage: sluice dead list [--reason CODE] [--limit N] [--json]\n"
                          "       sluice dead discard (--reason CODE | --id ENTRY...) --why TEXT "
                          "[--who NAME] [--yes]\n";

/// The reason a --reason value names, or why it names none.
Result<LeadReason, QString> reasonOption(const QString &text)
{
    const LeadReason reason = leadReasonFromCode(text.trimmed().toUtf8());
    if (leadReasonCode(reason) == text.trimmed().toUtf8())
        return reason;
    QStringList codes;
    for (LeadReason r : allLeadReasons())
        codes << QString::fromUtf8(leadReasonCode(r));
    return QStringLiteral("unknown reason '%1'; one of: %2")
        .arg(text, codes.join(QLatin1String(", ")));
}

/// The --id values, or why one is not a dead letter's entry id.
Result<std::vector<QByteArray>, QString> idOptions(const QStringList &values)
{
    static const QRegularExpression entryId(QStringLiteral("^\\d+-\\d+$"));
    std::vector<QByteArray> ids;
    for (const QString &v : values) {
        for (const QString &id : v.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            if (!entryId.match(id.trimmed()).hasMatch())
                return QStringLiteral("'%1' is not a dead letter's entry id (they look like "
                                      "1765098000000-0; `sluice dead list` shows them)")
                    .arg(id);
            ids.push_back(id.trimmed().toUtf8());
        }
    }
    return ids;
}

FlagSpec reasonFlag(const QString &help)
{
    return FlagSpec::option(QStringLiteral("reason"), FlagType::Text, QStringLiteral("CODE"), help);
}

FlagSpec idFlag(const QString &help)
{
    return FlagSpec::option(QStringLiteral("id"), FlagType::List, QStringLiteral("ENTRY"), help);
}

int deadFailure(const QString &command, const QString &why, int code)
{
    QTextStream(stderr) << "sluice " << command << ": " << why << "\n";
    return code;
}

int deadList(const QStringList &args)
{
    const QString command = QStringLiteral("dead list");
    const FlagTable flags = commandRedisTable(
        command,
        QStringLiteral("sluice dead list [--reason CODE] [--limit N] [--json] [REDIS OPTIONS]"),
        QStringLiteral("Lists the dead letters: how many per reason, with what to do about each,\n"
                       "then the newest ones (entry id, email, campaign, reason, age)."),
        { reasonFlag(QStringLiteral("only this reason code")),
          FlagSpec::option(QStringLiteral("limit"), FlagType::Int, QStringLiteral("N"),
                           QStringLiteral("at most this many entries, 1..10000"))
              .withDefault(QStringLiteral("20"))
              .withRange(1, 10'000),
          FlagSpec::toggle(QStringLiteral("json"), QStringLiteral("print JSON")) });
    const auto read = readCommandFlags(flags, args.mid(1));
    if (const int *code = std::get_if<int>(&read))
        return *code;
    const FlagValues &values = std::get<FlagValues>(read);
    std::optional<LeadReason> only;
    if (values.given(QStringLiteral("reason"))) {
        const auto reason = reasonOption(values.text(QStringLiteral("reason")));
        if (!reason.ok())
            return deadFailure(command, reason.error(), 2);
        only = reason.value();
    }
    const int limit = int(values.integer(QStringLiteral("limit")));

    CommandRedis redis;
    const auto ns = openCommandRedis(redis, values, command);
    if (const int *code = std::get_if<int>(&ns))
        return *code;
    OperatorControl control(redis.client.get(), RedisKeys(std::get<QString>(ns)), nullptr);
    auto counts = await<Result<std::vector<DeadLetterCount>, RedisError>>(
        [&](auto done) { control.deadLetterCounts(std::move(done)); });
    if (!counts.ok())
        return deadFailure(command, counts.error().describe(), 1);
    auto letters = await<Result<std::vector<DeadLetter>, RedisError>>([&](auto done) {
        if (only)
            control.deadLettersWithReason(*only, limit, std::move(done));
        else
            control.deadLetters(limit, std::move(done));
    });
    if (!letters.ok())
        return deadFailure(command, letters.error().describe(), 1);
    std::vector<DeadLetterCount> shown;
    for (const DeadLetterCount &c : counts.value())
        if (!only || c.code == *only)
            shown.push_back(c);

    QTextStream out(stdout);
    if (values.isOn(QStringLiteral("json"))) {
        nlohmann::json j
            = { { "reasons", nlohmann::json::array() }, { "entries", nlohmann::json::array() } };
        for (const DeadLetterCount &c : shown)
            j["reasons"].push_back({ { "code", leadReasonCode(c.code).toStdString() },
                                     { "title", leadReasonTitle(c.code).toStdString() },
                                     { "action", leadReasonAction(c.code).toStdString() },
                                     { "count", c.count },
                                     { "newest_ms", c.newestMs } });
        for (const DeadLetter &d : letters.value())
            j["entries"].push_back({ { "id", d.entryId.toStdString() },
                                     { "email", d.lead.lead.email.toStdString() },
                                     { "close_lead", d.lead.closeLeadId.toStdString() },
                                     { "campaign", d.lead.campaignName.toStdString() },
                                     { "task", d.lead.taskId.toStdString() },
                                     { "code", leadReasonCode(d.code).toStdString() },
                                     { "reason", d.reason.toStdString() },
                                     { "dead_ms", d.deadMs } });
        out << QString::fromStdString(jsonText(j, 2)) << "\n";
        return 0;
    }
    qint64 total = 0;
    for (const DeadLetterCount &c : shown)
        total += c.count;
    if (total == 0) {
        out << (only ? "no dead letters with that reason\n" : "no dead letters\n");
        return 0;
    }
    // One "now" for the whole listing, so every age is measured from the same instant.
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    out << total << " dead letter(s)\n\n";
    for (const DeadLetterCount &c : shown) {
        out << QString::number(c.count).rightJustified(7) << "  "
            << QString::fromUtf8(leadReasonCode(c.code)) << " - " << leadReasonTitle(c.code)
            << " (newest " << spanText(nowMs - c.newestMs) << " ago)\n";
        out << "         " << leadReasonAction(c.code) << "\n";
    }
    out << "\nNewest" << (only ? " with that reason" : "") << ":\n";
    out << QStringLiteral("%1  %2  %3  %4  %5\n")
               .arg(QStringLiteral("ENTRY").leftJustified(20),
                    QStringLiteral("EMAIL").leftJustified(30),
                    QStringLiteral("CAMPAIGN").leftJustified(20),
                    QStringLiteral("AGE").leftJustified(7), QStringLiteral("REASON"));
    for (const DeadLetter &d : letters.value()) {
        const QString who = d.lead.lead.email.isEmpty()
            ? (d.lead.closeLeadId.isEmpty() ? QStringLiteral("?")
                                            : QStringLiteral("close:") + d.lead.closeLeadId)
            : d.lead.lead.email;
        out << QStringLiteral("%1  %2  %3  %4  %5: %6\n")
                   .arg(QString::fromUtf8(d.entryId).leftJustified(20), who.leftJustified(30),
                        d.lead.campaignName.leftJustified(20),
                        (d.deadMs > 0 ? spanText(nowMs - d.deadMs) : QStringLiteral("?"))
                            .leftJustified(7),
                        QString::fromUtf8(leadReasonCode(d.code)), d.reason);
    }
    return 0;
}

int deadDiscard(const QStringList &args)
{
    const QString command = QStringLiteral("dead discard");
    const FlagTable flags = commandRedisTable(
        command,
        QStringLiteral("sluice dead discard (--reason CODE | --id ENTRY...) --why TEXT [--who "
                       "NAME] [--yes] [REDIS OPTIONS]"),
        QStringLiteral("Discards dead letters for good: each is kept, with who, why and when, in\n"
                       "the stream of discarded dead letters and in the lead's journal. Without\n"
                       "--yes it only says what it would discard (exit status 1)."),
        { reasonFlag(QStringLiteral("every dead letter with this reason code")),
          idFlag(QStringLiteral("this dead letter (an entry id from `sluice dead list`); "
                                "repeatable, or comma-separated")),
          FlagSpec::option(QStringLiteral("why"), FlagType::Text, QStringLiteral("TEXT"),
                           QStringLiteral("why they are discarded (kept); required")),
          FlagSpec::option(QStringLiteral("who"), FlagType::Text, QStringLiteral("NAME"),
                           QStringLiteral("who discards (kept)"))
              .withDefaultNote(QStringLiteral("the login name, $USER")),
          FlagSpec::toggle(QStringLiteral("yes"),
                           QStringLiteral("discard; without it, only say what would go")) });
    const auto read = readCommandFlags(flags, args.mid(1));
    if (const int *code = std::get_if<int>(&read))
        return *code;
    const FlagValues &values = std::get<FlagValues>(read);
    const bool byReason = values.given(QStringLiteral("reason"));
    const bool byId = values.given(QStringLiteral("id"));
    if (byReason == byId)
        return deadFailure(
            command, QStringLiteral("say which: --reason CODE or --id ENTRY (one of them)"), 2);
    const QString why = values.text(QStringLiteral("why")).trimmed();
    if (why.isEmpty())
        return deadFailure(
            command, QStringLiteral("say why with --why TEXT (it is kept with each lead)"), 2);
    std::optional<LeadReason> reason;
    std::vector<QByteArray> ids;
    if (byReason) {
        const auto r = reasonOption(values.text(QStringLiteral("reason")));
        if (!r.ok())
            return deadFailure(command, r.error(), 2);
        reason = r.value();
    } else {
        auto parsed = idOptions(values.list(QStringLiteral("id")));
        if (!parsed.ok())
            return deadFailure(command, parsed.error(), 2);
        ids = std::move(parsed.value());
    }

    QString who = values.text(QStringLiteral("who")).trimmed();
    if (who.isEmpty())
        who = qEnvironmentVariable("USER", qEnvironmentVariable("LOGNAME")).trimmed();
    if (who.isEmpty())
        return deadFailure(command,
                           QStringLiteral("say who discards with --who NAME ($USER is unset)"), 2);

    CommandRedis redis;
    const auto ns = openCommandRedis(redis, values, command);
    if (const int *code = std::get_if<int>(&ns))
        return *code;
    OperatorControl control(redis.client.get(), RedisKeys(std::get<QString>(ns)), nullptr);
    QTextStream out(stdout);
    if (!values.isOn(QStringLiteral("yes"))) {
        if (reason) {
            const auto counts = await<Result<std::vector<DeadLetterCount>, RedisError>>(
                [&](auto done) { control.deadLetterCounts(std::move(done)); });
            if (!counts.ok())
                return deadFailure(command, counts.error().describe(), 1);
            qint64 n = 0;
            for (const DeadLetterCount &c : counts.value())
                if (c.code == *reason)
                    n = c.count;
            out << "would discard " << n << " dead letter(s) with reason "
                << QString::fromUtf8(leadReasonCode(*reason)) << " (" << leadReasonTitle(*reason)
                << ")";
        } else {
            out << "would discard " << ids.size() << " dead letter(s) by id";
        }
        out << "; nothing done: add --yes to discard\n";
        return 1;
    }

    qint64 discarded = 0;
    const auto discard = [&](const std::vector<QByteArray> &batch) -> std::optional<QString> {
        const auto r = await<Result<int, RedisError>>([&](auto done) {
            if (auto refused = control.discardDeadLetters(batch, who, why, done))
                done(RedisError { RedisError::Kind::Usage, *refused, {} });
        });
        if (!r.ok())
            return r.error().describe();
        discarded += r.value();
        return std::nullopt;
    };
    if (reason) {
        // A page at a time, newest first, until none with that reason is left.
        for (;;) {
            const auto page = await<Result<std::vector<DeadLetter>, RedisError>>(
                [&](auto done) { control.deadLettersWithReason(*reason, 500, std::move(done)); });
            if (!page.ok())
                return deadFailure(command, page.error().describe(), 1);
            if (page.value().empty())
                break;
            std::vector<QByteArray> batch;
            for (const DeadLetter &d : page.value())
                batch.push_back(d.entryId);
            const qint64 before = discarded;
            if (auto problem = discard(batch))
                return deadFailure(command, *problem, 1);
            if (discarded == before)
                break; // taken meanwhile by someone else; what is left is not ours to loop on
        }
    } else if (auto problem = discard(ids)) {
        return deadFailure(command, *problem, 1);
    }
    out << "discarded " << discarded << " dead letter(s) (kept in the discarded stream and the "
        << "leads' journals, by " << who << ": " << why << ")\n";
    if (!reason && discarded < qint64(ids.size()))
        out << ids.size() - size_t(discarded) << " id(s) were not dead letters (any more)\n";
    return 0;
}

} // namespace

int runDeadCommand(const QStringList &args)
{
    const QString sub = args.value(1);
    QStringList rest = args;
    if (rest.size() > 1)
        rest.removeAt(1);
    if (sub == QLatin1String("list"))
        return deadList(rest);
    if (sub == QLatin1String("discard"))
        return deadDiscard(rest);
    if (sub == QLatin1String("--help") || sub == QLatin1String("-h")) {
        QTextStream(stdout) << kDeadUsage
                            << "\n`sluice dead list --help` and `sluice dead discard --help` "
                               "show their options.\n";
        return 0;
    }
    QTextStream(stderr) << "sluice dead: "
                        << (sub.isEmpty() ? QStringLiteral("say list or discard")
                                          : QStringLiteral("unknown command '%1'").arg(sub))
                        << "\n\n"
                        << kDeadUsage;
    return 2;
}

int runRetryCommand(const QStringList &args)
{
    const QString command = QStringLiteral("retry");
    const FlagTable flags = commandRedisTable(
        command,
        QStringLiteral("sluice retry --dead [--reason CODE | --id ENTRY...] [REDIS OPTIONS]"),
        QStringLiteral("Moves dead-lettered leads back into the queue (attempts reset, out of\n"
                       "their tasks' dead counts): all of them, those with one reason, or some by\n"
                       "entry id."),
        { FlagSpec::toggle(QStringLiteral("dead"), QStringLiteral("retry dead letters (required)")),
          reasonFlag(QStringLiteral("only those with this reason code")),
          idFlag(QStringLiteral("only this dead letter (entry id); repeatable, or "
                                "comma-separated")) });
    const auto read = readCommandFlags(flags, args.mid(1));
    if (const int *code = std::get_if<int>(&read))
        return *code;
    const FlagValues &values = std::get<FlagValues>(read);
    if (!values.isOn(QStringLiteral("dead")))
        return deadFailure(command,
                           QStringLiteral("say what to retry: --dead (`sluice retry --help`)"), 2);
    if (values.given(QStringLiteral("reason")) && values.given(QStringLiteral("id")))
        return deadFailure(command, QStringLiteral("--reason or --id, not both"), 2);
    std::optional<LeadReason> reason;
    std::vector<QByteArray> ids;
    if (values.given(QStringLiteral("reason"))) {
        const auto r = reasonOption(values.text(QStringLiteral("reason")));
        if (!r.ok())
            return deadFailure(command, r.error(), 2);
        reason = r.value();
    }
    if (values.given(QStringLiteral("id"))) {
        auto parsed = idOptions(values.list(QStringLiteral("id")));
        if (!parsed.ok())
            return deadFailure(command, parsed.error(), 2);
        ids = std::move(parsed.value());
    }

    CommandRedis redis;
    const auto ns = openCommandRedis(redis, values, command);
    if (const int *code = std::get_if<int>(&ns))
        return *code;
    OperatorControl control(redis.client.get(), RedisKeys(std::get<QString>(ns)), nullptr);
    const auto moved = await<Result<int, RedisError>>([&](auto done) {
        if (reason)
            control.retryDeadLettersWithReason(*reason, 1'000'000, std::move(done));
        else if (!ids.empty())
            control.retryDeadLetters(ids, std::move(done));
        else
            control.retryDeadLetters(1'000'000, std::move(done));
    });
    if (!moved.ok())
        return deadFailure(command, moved.error().describe(), 1);
    QTextStream(stdout) << "moved " << moved.value()
                        << " dead-lettered lead(s) back into the queue\n";
    return 0;
}
