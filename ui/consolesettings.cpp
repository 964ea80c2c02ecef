#include "consolesettings.h"

#include "config/serveoptions.h"

#include <algorithm>

#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSettings>

namespace sluice {

const QStringList &ConsoleSettings::editableFlags()
{
    static const QStringList flags {
        QStringLiteral("instantly-url"),
        QStringLiteral("close-url"),
        QStringLiteral("redis"),
        QStringLiteral("listen"),
        QStringLiteral("rate"),
        QStringLiteral("burst-rate"),
        QStringLiteral("safety-factor"),
        QStringLiteral("workers"),
        QStringLiteral("coalesce"),
        QStringLiteral("batch-max"),
        QStringLiteral("request-timeout"),
        QStringLiteral("retry-base"),
        QStringLiteral("retry-cap"),
        QStringLiteral("max-attempts"),
        QStringLiteral("breaker-open"),
        QStringLiteral("breaker-failure-rate"),
        QStringLiteral("close-rate"),
        QStringLiteral("journal"),
    };
    return flags;
}

ConsoleSettings ConsoleSettings::load(QSettings &settings)
{
    ConsoleSettings s;
    for (const QString &flag : editableFlags()) {
        const QString value = settings.value(QStringLiteral("serve/") + flag).toString();
        if (!value.isEmpty())
            s.flags.insert(flag, value);
    }
    s.instantlyApiKey = settings.value(QStringLiteral("secrets/instantly_api_key")).toString();
    s.closeApiKey = settings.value(QStringLiteral("secrets/close_api_key")).toString();
    s.webhookSecret = settings.value(QStringLiteral("secrets/close_webhook_secret")).toString();
    s.live = settings.value(QStringLiteral("mode/live"), false).toBool();
    if (!s.instantlyApiKey.isEmpty() || !s.closeApiKey.isEmpty() || !s.webhookSecret.isEmpty())
        restrictToOwner(settings); // written by an older build, perhaps 0644
    return s;
}

void ConsoleSettings::save(QSettings &settings) const
{
    for (const QString &flag : editableFlags()) {
        const QString value = flags.value(flag).trimmed();
        if (value.isEmpty())
            settings.remove(QStringLiteral("serve/") + flag);
        else
            settings.setValue(QStringLiteral("serve/") + flag, value);
    }
    settings.setValue(QStringLiteral("secrets/instantly_api_key"), instantlyApiKey);
    settings.setValue(QStringLiteral("secrets/close_api_key"), closeApiKey);
    settings.setValue(QStringLiteral("secrets/close_webhook_secret"), webhookSecret);
    settings.setValue(QStringLiteral("mode/live"), live);
    restrictToOwner(settings);
}

bool ConsoleSettings::restrictToOwner(QSettings &settings)
{
    // The file holds API keys: only its owner reads it. QSettings rewrites it through
    // QSaveFile, which keeps the mode of the file it replaces, so once is enough; set again
    // on every save all the same (a file copied in from elsewhere).
    settings.sync();
    const QString path = settings.fileName();
    if (path.isEmpty() || !QFileInfo::exists(path))
        return false;
    return QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
}

QStringList ConsoleSettings::arguments(const QStringList &commandLine) const
{
    QStringList args = commandLine;
    for (auto it = flags.cbegin(); it != flags.cend(); ++it) {
        const QString flag = QStringLiteral("--") + it.key();
        const bool given
            = std::any_of(commandLine.begin(), commandLine.end(), [&](const QString &a) {
                  return a == flag || a.startsWith(flag + QLatin1Char('='));
              });
        if (!given && !it.value().trimmed().isEmpty())
            args << flag << it.value().trimmed();
    }
    return args;
}

QProcessEnvironment ConsoleSettings::environment(QProcessEnvironment base) const
{
    // The environment wins over stored secrets, as it does for `sluice serve`.
    if (!instantlyApiKey.isEmpty() && !base.contains(QStringLiteral("INSTANTLY_API_KEY")))
        base.insert(QStringLiteral("INSTANTLY_API_KEY"), instantlyApiKey);
    if (!closeApiKey.isEmpty() && !base.contains(QStringLiteral("CLOSE_API_KEY")))
        base.insert(QStringLiteral("CLOSE_API_KEY"), closeApiKey);
    if (!webhookSecret.isEmpty() && !base.contains(QStringLiteral("CLOSE_WEBHOOK_SECRET")))
        base.insert(QStringLiteral("CLOSE_WEBHOOK_SECRET"), webhookSecret);
    return base;
}

std::optional<QString> ConsoleSettings::problem() const
{
    if (live && instantlyApiKey.trimmed().isEmpty())
        return QStringLiteral("Instantly API key: live mode needs one");
    static const QRegularExpression hex(QStringLiteral("^([0-9a-fA-F]{2})*$"));
    if (!hex.match(webhookSecret.trimmed()).hasMatch())
        return QStringLiteral("Close webhook signature key: must be hex, as Close shows it");
    QProcessEnvironment env;
    env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("x"));
    const auto parsed = parseServeOptions(arguments(), env);
    if (!parsed.ok())
        return parsed.error();
    return std::nullopt;
}

} // namespace sluice
