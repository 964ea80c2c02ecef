#pragma once

#include <QMap>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include <optional>

class QSettings;

namespace sluice {

struct ServeOptions;

/// What the settings dialog edits and QSettings keeps: `serve` flags by name (without the
/// dashes: "rate", "redis", ...), the secrets, and whether the console runs live. Turned into
/// the same flags and environment `sluice serve` reads, so one parser validates both.
struct ConsoleSettings
{
    QMap<QString, QString> flags; ///< empty value: the default
    QString instantlyApiKey;
    QString closeApiKey;
    QString webhookSecret;
    bool live = false;

    static ConsoleSettings load(QSettings &settings);
    /// Saves, and makes the file readable by its owner only (0600): it holds secrets.
    void save(QSettings &settings) const;
    /// Makes the settings file 0600; false when there is no file or its mode cannot be set.
    static bool restrictToOwner(QSettings &settings);

    /// Command-line flags first (they win), then these settings.
    QStringList arguments(const QStringList &commandLine = {}) const;
    QProcessEnvironment environment(QProcessEnvironment base) const;
    /// Why these settings cannot run, naming the field; nullopt when they can.
    std::optional<QString> problem() const;

    /// The flags the dialog offers, in its order.
    static const QStringList &editableFlags();
};

} // namespace sluice
