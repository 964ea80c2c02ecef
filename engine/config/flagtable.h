#pragma once

#include "core/result.h"

#include <QHash>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

#include <chrono>
#include <optional>
#include <vector>

namespace sluice {

/// What a flag's value is; the reader refuses a value that is not one, naming the flag.
enum class FlagType {
    Switch, ///< `--name`, no value; its variable reads on/off, true/false, yes/no, 1/0
    Int,
    Double,
    Text,
    Choice, ///< one of `choices`, any case
    Duration, ///< 250ms, 30s, 5m, 2h, 30d
    List, ///< repeatable, and each value split at commas
};

/// One command-line flag as data: its name, type, environment variable, default and help.
/// Built with the factory functions and the chained setters, so an entry reads as one line.
struct FlagSpec
{
    QString name; ///< without the dashes
    FlagType type = FlagType::Text;
    QString valueName; ///< "N", "URL" in the help
    QString help;
    QString env; ///< environment variable; empty for none
    QString defaultValue; ///< what the value is when neither the flag nor the variable is given
    /// How the help states a default that is not a value ("a private redis-server"); it then
    /// says "(default: note)" instead of "(default value)".
    QString defaultNote;
    QStringList choices; ///< FlagType::Choice
    std::optional<double> minimum, maximum; ///< Int, Double; Duration in milliseconds
    bool secret = false; ///< never printed: keys, passwords, URLs that may carry credentials
    bool envOnly = false; ///< read from the environment only, never from the command line

    static FlagSpec option(const QString &name, FlagType type, const QString &valueName,
                           const QString &help);
    static FlagSpec toggle(const QString &name, const QString &help); ///< a FlagType::Switch
    /// A setting read from the environment only; looked up by the variable's name.
    static FlagSpec variable(const QString &env, const QString &help);
    /// A secret read from the environment only, such as an API key.
    static FlagSpec secretVariable(const QString &env, const QString &help);

    FlagSpec &withEnv(const QString &variable);
    FlagSpec &withDefault(const QString &value);
    FlagSpec &withDefaultNote(const QString &note);
    FlagSpec &withChoices(const QStringList &values);
    FlagSpec &withRange(double min, double max);
    FlagSpec &withDurationRange(std::chrono::milliseconds min, std::chrono::milliseconds max);
    FlagSpec &asSecret();

    bool takesValue() const { return type != FlagType::Switch; }
    /// "--name V"
    QString synopsis() const;
    /// The help text with "(default ...)" when there is one; a secret's default is hidden.
    QString fullHelp() const;
};

/// The values of one command line, each from the flag, else its variable, else its default.
class FlagValues
{
public:
    enum class Source { Default, Environment, Argument };

    bool helpRequested() const { return m_help; }
    const QStringList &positional() const { return m_positional; }

    /// The table has this flag (or environment-only variable).
    bool contains(const QString &name) const { return m_entries.contains(name); }
    /// Given on the command line or by the environment (not just the default).
    bool given(const QString &name) const;
    Source source(const QString &name) const;
    /// How to name where a value came from in an error: "--name" or the variable.
    QString origin(const QString &name) const;

    QString text(const QString &name) const; ///< the last value; the default when not given
    QStringList list(const QString &name) const; ///< every value, commas split
    bool isOn(const QString &name) const; ///< a switch that is given (and not turned off)
    qint64 integer(const QString &name) const;
    double number(const QString &name) const;
    std::chrono::milliseconds duration(const QString &name) const;

    /// A different default for this run: applies only when the flag and its variable are not
    /// given (`sluice loadtest` uses the namespace "sandbox" unless told otherwise).
    void setFallback(const QString &name, const QString &value);

private:
    friend class FlagTable;
    struct Entry
    {
        QStringList values;
        Source source = Source::Default;
        QString origin;
    };
    QHash<QString, Entry> m_entries;
    QStringList m_positional;
    bool m_help = false;
};

/// A command's flags as data: reads argv (`--name value`, `--name=value`, switches) and the
/// environment, refuses unknown flags and bad values with a message that names the flag or
/// the variable, and writes the command's `--help` and the man page's entries.
class FlagTable
{
public:
    /// `command` as the user types it after `sluice` ("serve", "runs show"), for messages.
    explicit FlagTable(const QString &command, const QString &usage = {},
                       const QString &about = {});

    FlagTable &add(const FlagSpec &spec);
    FlagTable &add(const std::vector<FlagSpec> &specs);
    /// Plain arguments are accepted (and returned by FlagValues::positional()); without this
    /// one is refused as "unexpected argument".
    FlagTable &acceptPositional();
    /// Printed after the options in `--help` (exit status, notes).
    FlagTable &setFooter(const QString &footer);
    FlagTable &setOptionsHeading(const QString &heading);

    const QString &command() const { return m_command; }
    const std::vector<FlagSpec> &specs() const { return m_specs; }
    const FlagSpec *find(const QString &name) const;

    /// `args` without the program and command names. `--help` and `-h` end the reading with
    /// helpRequested() set.
    Result<FlagValues, QString> parse(const QStringList &args,
                                      const QProcessEnvironment &env) const;

    /// "Options:" and one line per flag: "  --name V   help (default X) [VARIABLE]".
    QString optionsHelp() const;
    /// Usage, about, the options and the footer.
    QString helpText() const;
    /// The flags as man(7) `.TP` entries, for the OPTIONS section of packaging/sluice.1.
    QString manEntries() const;

private:
    std::optional<QString> checkValue(const FlagSpec &spec, const QString &origin,
                                      const QString &value) const;

    QString m_command;
    QString m_usage;
    QString m_about;
    QString m_footer;
    QString m_heading = QStringLiteral("Options");
    std::vector<FlagSpec> m_specs;
    bool m_positional = false;
};

/// "250ms", "30s", "5m", "2h", "30d" → milliseconds; nullopt for anything else.
std::optional<std::chrono::milliseconds> parseDuration(const QString &text);
/// 100ms, 30s, 5m, 24h: the largest unit that divides it.
QString durationText(std::chrono::milliseconds d);

} // namespace sluice
