#include "serveoptions.h"

#include <QHash>
#include <QRegularExpression>

namespace sluice {

namespace {

struct Flag
{
    const char *name; ///< without the dashes
    const char *env; ///< environment variable, or nullptr
    bool takesValue;
    bool listenerOnly;
    const char *help;
};

const Flag kFlags[] = {
    { "listen", "SLUICE_LISTEN", true, true, "host:port for webhooks (default 127.0.0.1:8080)" },
    { "allow-remote", nullptr, false, true, "allow a non-loopback --listen address" },
    { "instantly-url", "INSTANTLY_URL", true, false,
      "Instantly API base URL (default https://api.instantly.ai)" },
    { "close-url", "CLOSE_URL", true, false, "Close API base URL (default https://api.close.com)" },
    { "redis", "REDIS_URL", true, false,
      "redis://[:password@]host:port/db, rediss://..., unix:///path (default: a private "
      "redis-server)" },
    { "redis-ca-file", "REDIS_CA_FILE", true, false, "PEM CA file trusted for rediss://" },
    { "rate", "SLUICE_RATE", true, false, "workspace budget, e.g. 600/min (default 600/min)" },
    { "burst-rate", "SLUICE_BURST_RATE", true, false, "per-second cap, e.g. 10/s (default 10/s)" },
    { "caps", "SLUICE_CAPS", true, false,
      "Instantly caps preset: plan = 10/s + 600/min (this team's plan), documented = 100/s + "
      "6000/min (Instantly's docs); --rate and --burst-rate override (default plan)" },
    { "safety-factor", "SLUICE_SAFETY_FACTOR", true, false,
      "pace at this share of each cap, (0, 1] (default 0.8)" },
    { "instances-hint", "SLUICE_INSTANCES_HINT", true, false,
      "instances assumed until the fleet is counted in Redis; sizes the fallback when "
      "Redis is away (default 1)" },
    { "workers", "SLUICE_WORKERS", true, false, "dispatchers in this process, 1..64 (default 1)" },
    { "bulk", nullptr, false, false, "one POST /api/v2/leads/add per campaign batch (default)" },
    { "single", nullptr, false, false, "one POST /api/v2/leads per lead" },
    { "namespace", "SLUICE_NAMESPACE", true, false, "Redis key namespace (default 'default')" },
    { "claim-idle", "SLUICE_CLAIM_IDLE", true, false,
      "take over a dead worker's leads after this, e.g. 60s or 500ms (default 60s)" },
    { "request-timeout", "SLUICE_REQUEST_TIMEOUT", true, false,
      "give up on an upstream request after this (default 30s)" },
    { "retry-base", "SLUICE_RETRY_BASE", true, false,
      "first retry delay after a transient failure; doubles, full jitter (default 1s)" },
    { "retry-cap", "SLUICE_RETRY_CAP", true, false, "longest retry delay (default 5m)" },
    { "max-attempts", "SLUICE_MAX_ATTEMPTS", true, false,
      "attempts before a lead is dead-lettered, 1..100 (default 12)" },
    { "coalesce", "SLUICE_COALESCE", true, false,
      "bulk mode: wait this long for more leads of a campaign, 0..10s (default 200ms)" },
    { "batch-max", "SLUICE_BATCH_MAX", true, false,
      "bulk mode: leads per request, 1..1000 (default 1000)" },
    { "breaker-open", "SLUICE_BREAKER_OPEN", true, false,
      "first open period of the circuit breaker; grows 1.5x per opening up to 5m (default 5s)" },
    { "breaker-failure-rate", "SLUICE_BREAKER_FAILURE_RATE", true, false,
      "open at this % of failed calls among the last 20, 1..100 (default 50)" },
    { "close-rate", "SLUICE_CLOSE_RATE", true, false,
      "cap on each Close endpoint group, shared by all instances (default 10/s)" },
    { "lookup-batch", "SLUICE_LOOKUP_BATCH", true, false,
      "Close leads looked up per search request, 1..200; 1 = one GET each (default 100)" },
    { "lookup-hold", "SLUICE_LOOKUP_HOLD", true, false,
      "bulk mode: hold a campaign's batch for its leads still being looked up, 0..60s "
      "(default 2s)" },
    { "upstream-concurrency", "SLUICE_UPSTREAM_CONCURRENCY", true, false,
      "requests on the wire at once to Instantly or Close, per client, 1..6; a rate-limit slot "
      "is taken only when one is free, so requests leave when the limiter says (default 4)" },
    { "skip-if", "SLUICE_SKIP_IF", true, false,
      "Instantly's skip flag on each send: none = add the lead whatever other campaigns hold "
      "it; in-campaign = skip_if_in_campaign, Instantly skips a lead that already exists in "
      "any campaign of the workspace; in-workspace = skip_if_in_workspace, skips a lead that "
      "exists anywhere in the workspace, in any campaign or list (default none)" },
    { "delivered-retention", "SLUICE_DELIVERED_RETENTION", true, false,
      "how long a delivered lead makes a replay of it a no-op, 1h..365d (default 30d)" },
    { "data-dir", "SLUICE_DATA_DIR", true, false,
      "spool and private Redis data (default: per-user data dir)" },
    { "instance", "SLUICE_INSTANCE", true, false,
      "this process's name in the fleet; a restart under the same name takes back its "
      "unsettled leads at once (default: a name kept in the data directory, one per process)" },
    { "log-format", "SLUICE_LOG_FORMAT", true, false, "text or json (default text)" },
    { "journal", "SLUICE_JOURNAL", true, false,
      "keep each lead's timeline in Redis, on or off (default on)" },
};

QString flagList(bool workerOnly)
{
    QStringList names;
    for (const Flag &f : kFlags) {
        if (!(workerOnly && f.listenerOnly))
            names.append(QStringLiteral("--") + QLatin1String(f.name));
    }
    return names.join(QStringLiteral(", "));
}

} // namespace

QString ServeOptions::listenText() const
{
    const QString host = listenAddress.protocol() == QAbstractSocket::IPv6Protocol
        ? QLatin1Char('[') + listenAddress.toString() + QLatin1Char(']')
        : listenAddress.toString();
    return host + QLatin1Char(':') + QString::number(listenPort);
}

std::optional<ServeFlagInfo> serveFlagInfo(const QString &name)
{
    static const QRegularExpression defaultIn(QStringLiteral("\\(default:? ([^)]*)\\)"));
    for (const Flag &f : kFlags) {
        if (name != QLatin1String(f.name))
            continue;
        ServeFlagInfo info;
        info.help = QLatin1String(f.help);
        info.defaultText = defaultIn.match(info.help).captured(1);
        return info;
    }
    return std::nullopt;
}

QString serveHelpText(bool workerOnly)
{
    QString text = workerOnly
        ? QStringLiteral(
            "Usage: sluice worker [options]\n\nDispatchers only: deliver queued leads "
            "to Instantly. Scale out by running more, on any machine, against one Redis.\n\n")
        : QStringLiteral(
            "Usage: sluice serve [options]\n\nThe webhook listener and the dispatchers, "
            "headless.\n\n");
    text += QStringLiteral("Options (each also an environment variable):\n");
    for (const Flag &f : kFlags) {
        if (workerOnly && f.listenerOnly)
            continue;
        QString line = QStringLiteral("  --") + QLatin1String(f.name)
            + (f.takesValue ? QStringLiteral(" V") : QString());
        line = line.leftJustified(26) + QLatin1Char(' ') + QLatin1String(f.help);
        if (f.env)
            line += QStringLiteral(" [") + QLatin1String(f.env) + QLatin1Char(']');
        text += line + QLatin1Char('\n');
    }
    text += QStringLiteral(
        "\nSecrets come from the environment only: INSTANTLY_API_KEY, CLOSE_API_KEY, "
        "CLOSE_WEBHOOK_SECRET.\n");
    return text;
}

Result<ServeOptions, QString> parseServeOptions(const QStringList &args,
                                                const QProcessEnvironment &env, bool workerOnly)
{
    // Collect values: environment first, then flags over them.
    QHash<QString, QString> values; // flag name -> value ("1" for switches)
    QHash<QString, QString> origin; // flag name -> how to name it in an error
    for (const Flag &f : kFlags) {
        if (f.env && env.contains(QLatin1String(f.env)) && !(workerOnly && f.listenerOnly)) {
            values.insert(QLatin1String(f.name), env.value(QLatin1String(f.env)));
            origin.insert(QLatin1String(f.name), QLatin1String(f.env));
        }
    }
    bool modeSeen = false;
    for (qsizetype i = 0; i < args.size(); ++i) {
        QString arg = args[i];
        if (!arg.startsWith(QLatin1String("--")))
            return QStringLiteral("unexpected argument '%1'").arg(arg);
        QString inlineValue;
        bool hasInline = false;
        const qsizetype eq = arg.indexOf(QLatin1Char('='));
        if (eq > 0) {
            inlineValue = arg.mid(eq + 1);
            arg = arg.left(eq);
            hasInline = true;
        }
        const QString name = arg.mid(2);
        const Flag *flag = nullptr;
        for (const Flag &f : kFlags) {
            if (name == QLatin1String(f.name) && !(workerOnly && f.listenerOnly))
                flag = &f;
        }
        if (!flag)
            return QStringLiteral("unknown option '%1'; known: %2").arg(arg, flagList(workerOnly));
        if (!flag->takesValue) {
            if (hasInline)
                return QStringLiteral("%1 takes no value").arg(arg);
            if (name == QLatin1String("bulk") || name == QLatin1String("single")) {
                if (modeSeen)
                    return QStringLiteral("give either --bulk or --single, not both");
                modeSeen = true;
                values.insert(QStringLiteral("mode"), name);
                origin.insert(QStringLiteral("mode"), arg);
                continue;
            }
            values.insert(name, QStringLiteral("1"));
            origin.insert(name, arg);
            continue;
        }
        if (!hasInline) {
            if (i + 1 >= args.size())
                return QStringLiteral("%1 needs a value").arg(arg);
            inlineValue = args[++i];
        }
        values.insert(name, inlineValue);
        origin.insert(name, arg);
    }
    if (env.contains(QStringLiteral("SLUICE_MODE")) && !values.contains(QStringLiteral("mode"))) {
        values.insert(QStringLiteral("mode"), env.value(QStringLiteral("SLUICE_MODE")));
        origin.insert(QStringLiteral("mode"), QStringLiteral("SLUICE_MODE"));
    }

    ServeOptions o;
    auto bad = [&](const char *name, const QString &why) {
        return QStringLiteral("%1: %2").arg(origin.value(QLatin1String(name)), why);
    };
    if (values.contains(QStringLiteral("listen"))) {
        static const QRegularExpression re(QStringLiteral("^\\[?([^\\]]+?)\\]?:(\\d{1,5})$"));
        const auto m = re.match(values.value(QStringLiteral("listen")));
        const QHostAddress address(m.captured(1));
        const int port = m.captured(2).toInt();
        if (!m.hasMatch() || address.isNull() || port > 65535)
            return bad(
                "listen",
                QStringLiteral("'%1' is not host:port with an IP address (e.g. 127.0.0.1:8080)")
                    .arg(values.value(QStringLiteral("listen"))));
        o.listenAddress = address;
        o.listenPort = quint16(port);
    }
    o.allowRemote = values.contains(QStringLiteral("allow-remote"));
    if (!o.listenAddress.isLoopback() && !o.allowRemote && !workerOnly)
        return QStringLiteral("listening on %1 would accept webhooks from other machines; add "
                              "--allow-remote if that is what you want")
            .arg(o.listenAddress.toString());
    for (const char *name : { "instantly-url", "close-url" }) {
        if (!values.contains(QLatin1String(name)))
            continue;
        const QUrl url(values.value(QLatin1String(name)), QUrl::StrictMode);
        if (!url.isValid()
            || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https"))
            || url.host().isEmpty())
            return bad(name,
                       QStringLiteral("'%1' is not an http(s) URL")
                           .arg(values.value(QLatin1String(name))));
        (QLatin1String(name) == QLatin1String("instantly-url") ? o.instantlyUrl : o.closeUrl) = url;
    }
    o.redisUrl = values.value(QStringLiteral("redis"));
    o.redisCaFile = values.value(QStringLiteral("redis-ca-file"));
    QString presetRate = QStringLiteral("600/min"), presetBurst = QStringLiteral("10/s");
    if (values.contains(QStringLiteral("caps"))) {
        const QString preset = values.value(QStringLiteral("caps")).toLower();
        if (preset == QLatin1String("documented")) {
            presetRate = QStringLiteral("6000/min");
            presetBurst = QStringLiteral("100/s");
        } else if (preset != QLatin1String("plan")) {
            return bad("caps", QStringLiteral("must be plan or documented"));
        }
    }
    if (values.contains(QStringLiteral("rate")) || values.contains(QStringLiteral("burst-rate"))
        || values.contains(QStringLiteral("caps"))) {
        o.caps.clear();
        for (const char *name : { "rate", "burst-rate" }) {
            const QString text = values.value(
                QLatin1String(name),
                QLatin1String(name) == QLatin1String("rate") ? presetRate : presetBurst);
            auto rule = parseRateRule(text);
            if (!rule.ok())
                return bad(name, rule.error());
            o.caps.push_back(rule.value());
        }
    }
    if (values.contains(QStringLiteral("safety-factor"))) {
        bool ok = false;
        o.safetyFactor = values.value(QStringLiteral("safety-factor")).toDouble(&ok);
        if (!ok || !(o.safetyFactor > 0 && o.safetyFactor <= 1))
            return bad("safety-factor", QStringLiteral("must be a number above 0 and at most 1"));
    }
    for (const char *name : { "instances-hint", "workers" }) {
        if (!values.contains(QLatin1String(name)))
            continue;
        bool ok = false;
        const int n = values.value(QLatin1String(name)).toInt(&ok);
        if (!ok || n < 1 || n > 64)
            return bad(name, QStringLiteral("must be a whole number from 1 to 64"));
        (QLatin1String(name) == QLatin1String("workers") ? o.workers : o.instancesHint) = n;
    }
    if (values.contains(QStringLiteral("mode"))) {
        const QString mode = values.value(QStringLiteral("mode")).toLower();
        if (mode != QLatin1String("bulk") && mode != QLatin1String("single"))
            return bad("mode", QStringLiteral("must be bulk or single"));
        o.mode = mode == QLatin1String("single") ? ServeOptions::Mode::Single
                                                 : ServeOptions::Mode::Bulk;
    }
    if (values.contains(QStringLiteral("namespace"))) {
        static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9_.-]{1,64}$"));
        o.ns = values.value(QStringLiteral("namespace"));
        if (!re.match(o.ns).hasMatch())
            return bad("namespace", QStringLiteral("use 1 to 64 letters, digits, '.', '_' or '-'"));
    }
    // Durations: flag, target, smallest, largest.
    const struct
    {
        const char *name;
        std::chrono::milliseconds *target;
        std::chrono::milliseconds min, max;
    } durations[] = {
        // At least 3 maintenance intervals (500 ms): a live worker renews what it holds.
        { "claim-idle", &o.claimIdle, std::chrono::milliseconds { 1500 },
          std::chrono::hours { 24 } },
        { "request-timeout", &o.requestTimeout, std::chrono::milliseconds { 100 },
          std::chrono::minutes { 10 } },
        { "retry-base", &o.retryBase, std::chrono::milliseconds { 1 }, std::chrono::hours { 1 } },
        { "retry-cap", &o.retryCap, std::chrono::milliseconds { 1 }, std::chrono::hours { 24 } },
        { "coalesce", &o.coalescingWindow, std::chrono::milliseconds { 0 },
          std::chrono::seconds { 10 } },
        { "lookup-hold", &o.lookupHold, std::chrono::milliseconds { 0 },
          std::chrono::seconds { 60 } },
        { "delivered-retention", &o.deliveredRetention, std::chrono::hours { 1 },
          std::chrono::hours { 24 * 365 } },
        { "breaker-open", &o.breaker.openWaitBase, std::chrono::milliseconds { 100 },
          std::chrono::minutes { 5 } },
    };
    for (const auto &d : durations) {
        if (!values.contains(QLatin1String(d.name)))
            continue;
        const auto ms = parseDuration(values.value(QLatin1String(d.name)));
        if (!ms || *ms < d.min || *ms > d.max)
            return bad(d.name,
                       QStringLiteral("'%1' is not a duration from %2 to %3 (write it like 500ms, "
                                      "30s or 5m)")
                           .arg(values.value(QLatin1String(d.name)), durationText(d.min),
                                durationText(d.max)));
        *d.target = *ms;
    }
    if (o.retryCap < o.retryBase)
        return QStringLiteral("--retry-cap (%1 ms) is below --retry-base (%2 ms)")
            .arg(o.retryCap.count())
            .arg(o.retryBase.count());
    const struct
    {
        const char *name;
        int *target;
        int min, max;
    } counts[] = {
        { "max-attempts", &o.maxAttempts, 1, 100 },
        { "batch-max", &o.maxBatch, 1, 1000 },
        { "lookup-batch", &o.lookupBatch, 1, 200 },
        { "upstream-concurrency", &o.upstreamConcurrency, 1, 6 },
    };
    for (const auto &c : counts) {
        if (!values.contains(QLatin1String(c.name)))
            continue;
        bool ok = false;
        const int n = values.value(QLatin1String(c.name)).toInt(&ok);
        if (!ok || n < c.min || n > c.max)
            return bad(
                c.name,
                QStringLiteral("must be a whole number from %1 to %2").arg(c.min).arg(c.max));
        *c.target = n;
    }
    if (values.contains(QStringLiteral("breaker-failure-rate"))) {
        bool ok = false;
        const double rate = values.value(QStringLiteral("breaker-failure-rate")).toDouble(&ok);
        if (!ok || rate < 1 || rate > 100)
            return bad("breaker-failure-rate",
                       QStringLiteral("must be a percentage from 1 to 100"));
        o.breaker.failureRateThresholdPercent = rate;
    }
    o.breaker.openWaitCap = std::max(o.breaker.openWaitCap, o.breaker.openWaitBase);
    if (values.contains(QStringLiteral("close-rate"))) {
        auto rule = parseRateRule(values.value(QStringLiteral("close-rate")));
        if (!rule.ok())
            return bad("close-rate", rule.error());
        o.closeCaps = { rule.value() };
    }
    if (values.contains(QStringLiteral("skip-if"))) {
        const auto skip = skipIfFromName(values.value(QStringLiteral("skip-if")));
        if (!skip)
            return bad("skip-if", QStringLiteral("must be none, in-campaign or in-workspace"));
        o.skipIf = *skip;
    }
    o.dataDir = values.value(QStringLiteral("data-dir"));
    o.instance = values.value(QStringLiteral("instance")).trimmed();
    static const QRegularExpression instanceName(QStringLiteral("^[A-Za-z0-9._-]{1,64}$"));
    if (values.contains(QStringLiteral("instance")) && !instanceName.match(o.instance).hasMatch())
        return bad("instance", QStringLiteral("must be 1 to 64 letters, digits, '.', '_' or '-'"));
    if (values.contains(QStringLiteral("log-format"))) {
        const QString format = values.value(QStringLiteral("log-format")).toLower();
        if (format != QLatin1String("text") && format != QLatin1String("json"))
            return bad("log-format", QStringLiteral("must be text or json"));
        o.logFormat = format == QLatin1String("json") ? ServeOptions::LogFormat::Json
                                                      : ServeOptions::LogFormat::Text;
    }
    if (values.contains(QStringLiteral("journal"))) {
        const QString journal = values.value(QStringLiteral("journal")).toLower();
        if (journal != QLatin1String("on") && journal != QLatin1String("off"))
            return bad("journal", QStringLiteral("must be on or off"));
        o.journal = journal == QLatin1String("on");
    }
    o.instantlyApiKey = env.value(QStringLiteral("INSTANTLY_API_KEY"));
    o.closeApiKey = env.value(QStringLiteral("CLOSE_API_KEY"));
    o.webhookSecret = env.value(QStringLiteral("CLOSE_WEBHOOK_SECRET"));
    return o;
}

} // namespace sluice
