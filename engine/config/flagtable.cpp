#include "flagtable.h"

#include <QRegularExpression>
#include <QSet>

namespace sluice {

namespace {

std::optional<bool> switchValue(const QString &text)
{
    const QString t = text.trimmed().toLower();
    if (t == QLatin1String("1") || t == QLatin1String("on") || t == QLatin1String("true")
        || t == QLatin1String("yes"))
        return true;
    if (t.isEmpty() || t == QLatin1String("0") || t == QLatin1String("off")
        || t == QLatin1String("false") || t == QLatin1String("no"))
        return false;
    return std::nullopt;
}

/// "a, b or c"
QString alternatives(const QStringList &values)
{
    if (values.size() < 2)
        return values.join(QString());
    return values.mid(0, values.size() - 1).join(QStringLiteral(", ")) + QStringLiteral(" or ")
        + values.last();
}

QString numberText(const FlagSpec &spec, double value)
{
    if (spec.type == FlagType::Duration)
        return durationText(std::chrono::milliseconds { qint64(value) });
    return QString::number(value);
}

/// "from 1 to 64", "of at least 1ms", "" without bounds.
QString rangeText(const FlagSpec &spec)
{
    if (spec.minimum && spec.maximum)
        return QStringLiteral(" from %1 to %2")
            .arg(numberText(spec, *spec.minimum), numberText(spec, *spec.maximum));
    if (spec.minimum)
        return QStringLiteral(" of at least %1").arg(numberText(spec, *spec.minimum));
    if (spec.maximum)
        return QStringLiteral(" of at most %1").arg(numberText(spec, *spec.maximum));
    return {};
}

bool inRange(const FlagSpec &spec, double value)
{
    return !(spec.minimum && value < *spec.minimum) && !(spec.maximum && value > *spec.maximum);
}

/// roff: a dash is \-, a backslash is \e.
QString roffText(QString text)
{
    text.replace(QLatin1Char('\\'), QStringLiteral("\\e"));
    text.replace(QLatin1Char('-'), QStringLiteral("\\-"));
    if (text.startsWith(QLatin1Char('.')) || text.startsWith(QLatin1Char('\'')))
        text.prepend(QStringLiteral("\\&"));
    return text;
}

} // namespace

std::optional<std::chrono::milliseconds> parseDuration(const QString &text)
{
    static const QRegularExpression re(QStringLiteral("^(\\d{1,7})(ms|s|m|h|d)$"));
    const auto m = re.match(text.trimmed());
    if (!m.hasMatch())
        return std::nullopt;
    const QString u = m.captured(2);
    const qint64 unit = u == QLatin1String("ms") ? 1
        : u == QLatin1String("s")                ? 1000
        : u == QLatin1String("m")                ? 60'000
        : u == QLatin1String("h")                ? 3'600'000
                                                 : 86'400'000;
    return std::chrono::milliseconds { m.captured(1).toLongLong() * unit };
}

QString durationText(std::chrono::milliseconds d)
{
    const qint64 ms = d.count();
    if (ms > 0 && ms % 86'400'000 == 0)
        return QStringLiteral("%1d").arg(ms / 86'400'000);
    if (ms > 0 && ms % 3'600'000 == 0)
        return QStringLiteral("%1h").arg(ms / 3'600'000);
    if (ms > 0 && ms % 60'000 == 0)
        return QStringLiteral("%1m").arg(ms / 60'000);
    if (ms > 0 && ms % 1000 == 0)
        return QStringLiteral("%1s").arg(ms / 1000);
    return QStringLiteral("%1ms").arg(ms);
}

// --- FlagSpec -------------------------------------------------------------------------------

FlagSpec FlagSpec::option(const QString &name, FlagType type, const QString &valueName,
                          const QString &help)
{
    FlagSpec spec;
    spec.name = name;
    spec.type = type;
    spec.valueName = valueName;
    spec.help = help;
    return spec;
}

FlagSpec FlagSpec::toggle(const QString &name, const QString &help)
{
    return option(name, FlagType::Switch, QString(), help);
}

FlagSpec FlagSpec::variable(const QString &env, const QString &help)
{
    FlagSpec spec = option(QString(), FlagType::Text, QString(), help);
    spec.env = env;
    spec.envOnly = true;
    return spec;
}

FlagSpec FlagSpec::secretVariable(const QString &env, const QString &help)
{
    FlagSpec spec = variable(env, help);
    spec.secret = true;
    return spec;
}

FlagSpec &FlagSpec::withEnv(const QString &variable)
{
    env = variable;
    return *this;
}

FlagSpec &FlagSpec::withDefault(const QString &value)
{
    defaultValue = value;
    return *this;
}

FlagSpec &FlagSpec::withDefaultNote(const QString &note)
{
    defaultNote = note;
    return *this;
}

FlagSpec &FlagSpec::withChoices(const QStringList &values)
{
    choices = values;
    return *this;
}

FlagSpec &FlagSpec::withRange(double min, double max)
{
    minimum = min;
    maximum = max;
    return *this;
}

FlagSpec &FlagSpec::withDurationRange(std::chrono::milliseconds min, std::chrono::milliseconds max)
{
    return withRange(double(min.count()), double(max.count()));
}

FlagSpec &FlagSpec::asSecret()
{
    secret = true;
    return *this;
}

QString FlagSpec::synopsis() const
{
    return QStringLiteral("--") + name
        + (takesValue() && !valueName.isEmpty() ? QLatin1Char(' ') + valueName : QString());
}

QString FlagSpec::fullHelp() const
{
    if (!defaultNote.isEmpty())
        return help + QStringLiteral(" (default: ") + defaultNote + QLatin1Char(')');
    if (defaultValue.isEmpty())
        return help;
    return help + QStringLiteral(" (default ")
        + (secret ? QStringLiteral("set, not shown") : defaultValue) + QLatin1Char(')');
}

// --- FlagValues -----------------------------------------------------------------------------

bool FlagValues::given(const QString &name) const
{
    return source(name) != Source::Default;
}

FlagValues::Source FlagValues::source(const QString &name) const
{
    const auto it = m_entries.constFind(name);
    return it == m_entries.constEnd() ? Source::Default : it->source;
}

QString FlagValues::origin(const QString &name) const
{
    const QString origin = m_entries.value(name).origin;
    return origin.isEmpty() ? QStringLiteral("--") + name : origin;
}

QString FlagValues::text(const QString &name) const
{
    const QStringList values = m_entries.value(name).values;
    return values.isEmpty() ? QString() : values.last();
}

QStringList FlagValues::list(const QString &name) const
{
    QStringList items;
    for (const QString &value : m_entries.value(name).values)
        for (const QString &item : value.split(QLatin1Char(','), Qt::SkipEmptyParts))
            items.append(item.trimmed());
    return items;
}

bool FlagValues::isOn(const QString &name) const
{
    return switchValue(text(name)).value_or(false);
}

qint64 FlagValues::integer(const QString &name) const
{
    return text(name).trimmed().toLongLong();
}

double FlagValues::number(const QString &name) const
{
    return text(name).trimmed().toDouble();
}

std::chrono::milliseconds FlagValues::duration(const QString &name) const
{
    return parseDuration(text(name)).value_or(std::chrono::milliseconds { 0 });
}

void FlagValues::setFallback(const QString &name, const QString &value)
{
    Entry &entry = m_entries[name];
    if (entry.source == Source::Default)
        entry.values = { value };
}

// --- FlagTable ------------------------------------------------------------------------------

FlagTable::FlagTable(const QString &command, const QString &usage, const QString &about)
    : m_command(command)
    , m_usage(usage)
    , m_about(about)
{ }

FlagTable &FlagTable::add(const FlagSpec &spec)
{
    m_specs.push_back(spec);
    return *this;
}

FlagTable &FlagTable::add(const std::vector<FlagSpec> &specs)
{
    m_specs.insert(m_specs.end(), specs.begin(), specs.end());
    return *this;
}

FlagTable &FlagTable::acceptPositional()
{
    m_positional = true;
    return *this;
}

FlagTable &FlagTable::setFooter(const QString &footer)
{
    m_footer = footer;
    return *this;
}

FlagTable &FlagTable::setOptionsHeading(const QString &heading)
{
    m_heading = heading;
    return *this;
}

const FlagSpec *FlagTable::find(const QString &name) const
{
    for (const FlagSpec &spec : m_specs)
        if (!spec.envOnly && spec.name == name)
            return &spec;
    return nullptr;
}

std::optional<QString> FlagTable::checkValue(const FlagSpec &spec, const QString &origin,
                                             const QString &value) const
{
    // A secret's value (a key, a URL with a password) is never repeated back.
    const QString shown
        = spec.secret ? QStringLiteral("the value") : QLatin1Char('\'') + value + QLatin1Char('\'');
    const QString trimmed = value.trimmed();
    bool ok = true;
    switch (spec.type) {
    case FlagType::Switch:
        if (!switchValue(value))
            return QStringLiteral("%1: %2 is not on or off").arg(origin, shown);
        return std::nullopt;
    case FlagType::Int: {
        const qint64 n = trimmed.toLongLong(&ok);
        if (!ok || !inRange(spec, double(n)))
            return QStringLiteral("%1: %2 is not a whole number%3")
                .arg(origin, shown, rangeText(spec));
        return std::nullopt;
    }
    case FlagType::Double: {
        const double x = trimmed.toDouble(&ok);
        if (!ok || !inRange(spec, x))
            return QStringLiteral("%1: %2 is not a number%3").arg(origin, shown, rangeText(spec));
        return std::nullopt;
    }
    case FlagType::Duration: {
        const auto d = parseDuration(value);
        if (!d || !inRange(spec, double(d->count())))
            return QStringLiteral("%1: %2 is not a duration%3 (write it like 500ms, 30s or 5m)")
                .arg(origin, shown, rangeText(spec));
        return std::nullopt;
    }
    case FlagType::Choice:
        for (const QString &choice : spec.choices)
            if (trimmed.compare(choice, Qt::CaseInsensitive) == 0)
                return std::nullopt;
        return QStringLiteral("%1: must be %2").arg(origin, alternatives(spec.choices));
    case FlagType::Text:
    case FlagType::List:
        return std::nullopt;
    }
    return std::nullopt;
}

Result<FlagValues, QString> FlagTable::parse(const QStringList &args,
                                             const QProcessEnvironment &env) const
{
    FlagValues values;
    // Defaults, then the environment over them, then the command line over both.
    for (const FlagSpec &spec : m_specs) {
        const QString key = spec.envOnly ? spec.env : spec.name;
        FlagValues::Entry entry;
        if (!spec.defaultValue.isEmpty())
            entry.values = { spec.defaultValue };
        if (!spec.env.isEmpty() && env.contains(spec.env)) {
            const QString value = env.value(spec.env);
            entry.values = { value };
            entry.source = FlagValues::Source::Environment;
            entry.origin = spec.env;
        }
        values.m_entries.insert(key, entry);
    }
    QSet<QString> seen; // a List's variable is replaced by its flags, not added to
    for (qsizetype i = 0; i < args.size(); ++i) {
        QString arg = args[i];
        if (arg == QLatin1String("--help") || arg == QLatin1String("-h")) {
            values.m_help = true;
            return values;
        }
        if (arg.startsWith(QLatin1Char('-')) && !arg.startsWith(QLatin1String("--"))
            && arg.size() > 1)
            return QStringLiteral("unknown option '%1' for `sluice %2`; see `sluice %2 --help`")
                .arg(arg, m_command);
        if (!arg.startsWith(QLatin1String("--")) || arg == QLatin1String("--")) {
            if (!m_positional)
                return QStringLiteral("unexpected argument '%1'").arg(arg);
            values.m_positional.append(arg);
            continue;
        }
        std::optional<QString> value;
        if (const qsizetype eq = arg.indexOf(QLatin1Char('=')); eq > 0) {
            value = arg.mid(eq + 1);
            arg = arg.left(eq);
        }
        const FlagSpec *spec = find(arg.mid(2));
        if (!spec)
            return QStringLiteral("unknown option '%1' for `sluice %2`; see `sluice %2 --help`")
                .arg(arg, m_command);
        if (!spec->takesValue()) {
            if (value)
                return QStringLiteral("%1 takes no value").arg(arg);
            value = QStringLiteral("on");
        } else if (!value) {
            // `--output --format csv` is a forgotten value, not a file called "--format".
            if (i + 1 >= args.size() || args[i + 1].startsWith(QLatin1String("--")))
                return QStringLiteral("%1 needs a value").arg(arg);
            value = args[++i];
        }
        if (auto problem = checkValue(*spec, arg, *value))
            return *problem;
        FlagValues::Entry &entry = values.m_entries[spec->name];
        if (spec->type == FlagType::List && seen.contains(spec->name))
            entry.values.append(*value);
        else
            entry.values = { *value };
        seen.insert(spec->name);
        entry.source = FlagValues::Source::Argument;
        entry.origin = arg;
    }
    // A variable is judged only when no flag overrides it.
    for (const FlagSpec &spec : m_specs) {
        const FlagValues::Entry &entry = values.m_entries[spec.envOnly ? spec.env : spec.name];
        if (entry.source == FlagValues::Source::Environment)
            if (auto problem = checkValue(spec, spec.env, entry.values.value(0)))
                return *problem;
    }
    return values;
}

QString FlagTable::optionsHelp() const
{
    QString text;
    QStringList secrets;
    for (const FlagSpec &spec : m_specs) {
        if (spec.envOnly && spec.secret) {
            secrets.append(spec.env);
            continue;
        }
        const QString what = spec.envOnly ? spec.env : spec.synopsis();
        QString line = QString(QStringLiteral("  ") + what).leftJustified(26) + QLatin1Char(' ')
            + spec.fullHelp();
        if (!spec.env.isEmpty() && !spec.envOnly)
            line += QStringLiteral(" [") + spec.env + QLatin1Char(']');
        text += line + QLatin1Char('\n');
    }
    if (!text.isEmpty())
        text.prepend(m_heading + QStringLiteral(":\n"));
    if (!secrets.isEmpty())
        text += QStringLiteral("\nSecrets come from the environment only: ")
            + secrets.join(QStringLiteral(", ")) + QStringLiteral(".\n");
    return text;
}

QString FlagTable::helpText() const
{
    QString text;
    if (!m_usage.isEmpty())
        text += QStringLiteral("Usage: ") + m_usage + QStringLiteral("\n\n");
    if (!m_about.isEmpty())
        text += m_about + QStringLiteral("\n\n");
    text += optionsHelp();
    if (!m_footer.isEmpty())
        text += QLatin1Char('\n') + m_footer;
    return text;
}

QString FlagTable::manEntries() const
{
    QString text;
    for (const FlagSpec &spec : m_specs) {
        if (spec.envOnly)
            continue; // the man page's ENVIRONMENT section
        text += QStringLiteral(".TP\n\\fB") + roffText(QStringLiteral("--") + spec.name)
            + QStringLiteral("\\fR");
        if (spec.takesValue() && !spec.valueName.isEmpty())
            text += QStringLiteral(" \\fI") + roffText(spec.valueName) + QStringLiteral("\\fR");
        if (!spec.env.isEmpty())
            text += QStringLiteral(" (\\fB") + roffText(spec.env) + QStringLiteral("\\fR)");
        text += QLatin1Char('\n') + roffText(spec.fullHelp()) + QLatin1Char('\n');
    }
    return text;
}

} // namespace sluice
