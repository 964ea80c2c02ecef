#include "serveoptions.h"

#include <QRegularExpression>

namespace sluice {

namespace {

using std::chrono::milliseconds;

FlagSpec serveOption(const char *name, FlagType type, const char *env, const char *help)
{
    return FlagSpec::option(QLatin1String(name), type, QStringLiteral("V"), QLatin1String(help))
        .withEnv(QLatin1String(env));
}

FlagSpec durationOption(const char *name, const char *env, const char *help, const char *value,
                        milliseconds min, milliseconds max)
{
    return serveOption(name, FlagType::Duration, env, help)
        .withDefault(QLatin1String(value))
        .withDurationRange(min, max);
}

FlagSpec countOption(const char *name, const char *env, const char *help, const char *value,
                     int min, int max)
{
    return serveOption(name, FlagType::Int, env, help)
        .withDefault(QLatin1String(value))
        .withRange(min, max);
}

/// The flags only `sluice serve` (the listener) takes.
bool listenerOnly(const FlagSpec &spec)
{
    return spec.name == QLatin1String("listen") || spec.name == QLatin1String("allow-remote");
}

const std::vector<FlagSpec> &allServeSpecs()
{
    static const std::vector<FlagSpec> specs {
        serveOption("listen", FlagType::Text, "SLUICE_LISTEN", "host:port for webhooks")
            .withDefault(QStringLiteral("127.0.0.1:8080")),
        FlagSpec::toggle(QStringLiteral("allow-remote"),
                         QStringLiteral("allow a non-loopback --listen address")),
        serveOption("instantly-url", FlagType::Text, "INSTANTLY_URL", "Instantly API base URL")
            .withDefault(QStringLiteral("https://api.instantly.ai")),
        serveOption("close-url", FlagType::Text, "CLOSE_URL", "Close API base URL")
            .withDefault(QStringLiteral("https://api.close.com")),
        // A Redis URL may carry its password: never printed back.
        serveOption("redis", FlagType::Text, "REDIS_URL",
                    "redis://[:password@]host:port/db, rediss://..., unix:///path")
            .withDefaultNote(QStringLiteral("a private redis-server"))
            .asSecret(),
        serveOption("redis-ca-file", FlagType::Text, "REDIS_CA_FILE",
                    "PEM CA file trusted for rediss://"),
        serveOption("rate", FlagType::Text, "SLUICE_RATE", "workspace budget, e.g. 600/min")
            .withDefault(QStringLiteral("600/min")),
        serveOption("burst-rate", FlagType::Text, "SLUICE_BURST_RATE", "per-second cap, e.g. 10/s")
            .withDefault(QStringLiteral("10/s")),
        serveOption("caps", FlagType::Choice, "SLUICE_CAPS",
                    "Instantly caps preset: plan = 10/s + 600/min (this team's plan), documented "
                    "= 100/s + 6000/min (Instantly's docs); --rate and --burst-rate override")
            .withChoices({ QStringLiteral("plan"), QStringLiteral("documented") })
            .withDefault(QStringLiteral("plan")),
        serveOption("safety-factor", FlagType::Double, "SLUICE_SAFETY_FACTOR",
                    "pace at this share of each cap, (0, 1]")
            .withDefault(QStringLiteral("0.8")),
        countOption("instances-hint", "SLUICE_INSTANCES_HINT",
                    "instances assumed until the fleet is counted in Redis; sizes the fallback "
                    "when Redis is away",
                    "1", 1, 64),
        countOption("workers", "SLUICE_WORKERS", "dispatchers in this process, 1..64", "1", 1, 64),
        FlagSpec::toggle(QStringLiteral("bulk"),
                         QStringLiteral("one POST /api/v2/leads/add per campaign batch (default)")),
        FlagSpec::toggle(QStringLiteral("single"),
                         QStringLiteral("one POST /api/v2/leads per lead")),
        FlagSpec::variable(QStringLiteral("SLUICE_MODE"),
                           QStringLiteral("bulk or single; --bulk and --single win over it")),
        serveOption("namespace", FlagType::Text, "SLUICE_NAMESPACE", "Redis key namespace")
            .withDefault(QStringLiteral("default"))
            .withDefaultNote(QStringLiteral("'default'")),
        // At least 3 maintenance intervals (500 ms): a live worker renews what it holds.
        durationOption("claim-idle", "SLUICE_CLAIM_IDLE",
                       "take over a dead worker's leads after this, e.g. 60s or 500ms", "60s",
                       milliseconds { 1500 }, std::chrono::hours { 24 }),
        durationOption("request-timeout", "SLUICE_REQUEST_TIMEOUT",
                       "give up on an upstream request after this", "30s", milliseconds { 100 },
                       std::chrono::minutes { 10 }),
        durationOption("retry-base", "SLUICE_RETRY_BASE",
                       "first retry delay after a transient failure; doubles, full jitter", "1s",
                       milliseconds { 1 }, std::chrono::hours { 1 }),
        durationOption("retry-cap", "SLUICE_RETRY_CAP", "longest retry delay", "5m",
                       milliseconds { 1 }, std::chrono::hours { 24 }),
        countOption("max-attempts", "SLUICE_MAX_ATTEMPTS",
                    "attempts before a lead is dead-lettered, 1..100", "12", 1, 100),
        durationOption("coalesce", "SLUICE_COALESCE",
                       "bulk mode: wait this long for more leads of a campaign, 0..10s", "200ms",
                       milliseconds { 0 }, std::chrono::seconds { 10 }),
        countOption("batch-max", "SLUICE_BATCH_MAX", "bulk mode: leads per request, 1..1000",
                    "1000", 1, 1000),
        durationOption("breaker-open", "SLUICE_BREAKER_OPEN",
                       "first open period of the circuit breaker; grows 1.5x per opening up to 5m",
                       "5s", milliseconds { 100 }, std::chrono::minutes { 5 }),
        serveOption("breaker-failure-rate", FlagType::Double, "SLUICE_BREAKER_FAILURE_RATE",
                    "open at this % of failed calls among the last 20, 1..100")
            .withDefault(QStringLiteral("50")),
        serveOption("close-rate", FlagType::Text, "SLUICE_CLOSE_RATE",
                    "cap on each Close endpoint group, shared by all instances")
            .withDefault(QStringLiteral("10/s")),
        countOption("lookup-batch", "SLUICE_LOOKUP_BATCH",
                    "Close leads looked up per search request, 1..200; 1 = one GET each", "100", 1,
                    200),
        durationOption("lookup-hold", "SLUICE_LOOKUP_HOLD",
                       "bulk mode: hold a campaign's batch for its leads still being looked up, "
                       "0..60s",
                       "2s", milliseconds { 0 }, std::chrono::seconds { 60 }),
        countOption("upstream-concurrency", "SLUICE_UPSTREAM_CONCURRENCY",
                    "requests on the wire at once to Instantly or Close, per client, 1..6; a "
                    "rate-limit slot is taken only when one is free, so requests leave when the "
                    "limiter says",
                    "4", 1, 6),
        serveOption("skip-if", FlagType::Choice, "SLUICE_SKIP_IF",
                    "Instantly's skip flag on each send: none = add the lead whatever other "
                    "campaigns hold it; in-campaign = skip_if_in_campaign, Instantly skips a lead "
                    "that already exists in any campaign of the workspace; in-workspace = "
                    "skip_if_in_workspace, skips a lead that exists anywhere in the workspace, in "
                    "any campaign or list")
            .withChoices({ QStringLiteral("none"), QStringLiteral("in-campaign"),
                           QStringLiteral("in-workspace") })
            .withDefault(QStringLiteral("none")),
        durationOption("delivered-retention", "SLUICE_DELIVERED_RETENTION",
                       "how long a delivered lead makes a replay of it a no-op, 1h..365d", "30d",
                       std::chrono::hours { 1 }, std::chrono::hours { 24 * 365 }),
        serveOption("data-dir", FlagType::Text, "SLUICE_DATA_DIR", "spool and private Redis data")
            .withDefaultNote(QStringLiteral("per-user data dir")),
        serveOption("instance", FlagType::Text, "SLUICE_INSTANCE",
                    "this process's name in the fleet; a restart under the same name takes back "
                    "its unsettled leads at once")
            .withDefaultNote(QStringLiteral("a name kept in the data directory, one per process")),
        serveOption("log-format", FlagType::Choice, "SLUICE_LOG_FORMAT", "text or json")
            .withChoices({ QStringLiteral("text"), QStringLiteral("json") })
            .withDefault(QStringLiteral("text")),
        serveOption("journal", FlagType::Choice, "SLUICE_JOURNAL",
                    "keep each lead's timeline in Redis, on or off")
            .withChoices({ QStringLiteral("on"), QStringLiteral("off") })
            .withDefault(QStringLiteral("on")),
        serveOption("alert-url", FlagType::List, "SLUICE_ALERT_URL",
                    "POST each alert (JSON with a Slack-style `text`) to this URL; repeat the flag "
                    "or separate URLs with commas. A secret: shown masked")
            .asSecret(),
        durationOption("alert-interval", "SLUICE_ALERT_INTERVAL",
                       "how often alert conditions are evaluated", "5s", AlertOptions::kMinInterval,
                       std::chrono::minutes { 10 }),
        countOption(
            "alert-dead-letters", "SLUICE_ALERT_DEAD_LETTERS",
            "dead_letters fires at this many new dead letters within --alert-dead-letters-within",
            "10", 1, 1'000'000),
        durationOption("alert-dead-letters-within", "SLUICE_ALERT_DEAD_LETTERS_WITHIN",
                       "the window --alert-dead-letters counts in", "10m",
                       std::chrono::seconds { 1 }, std::chrono::hours { 24 * 7 }),
        durationOption("alert-drain-within", "SLUICE_ALERT_DRAIN_WITHIN",
                       "drain_slow fires when the backlog will not clear within this long at the "
                       "current rate",
                       "1h", std::chrono::seconds { 1 }, std::chrono::hours { 24 * 7 }),
        countOption("alert-rate-limited", "SLUICE_ALERT_RATE_LIMITED",
                    "rate_limited fires at this many 429s in a minute that Sluice's own pace "
                    "cannot explain",
                    "3", 1, 1'000'000),
        durationOption("alert-intake-failing-for", "SLUICE_ALERT_INTAKE_FAILING_FOR",
                       "intake_failing fires when webhooks have been refused or failing (5xx, bad "
                       "signatures) for this long",
                       "5m", std::chrono::seconds { 1 }, std::chrono::hours { 24 * 3 }),
        durationOption("alert-intake-silent-for", "SLUICE_ALERT_INTAKE_SILENT_FOR",
                       "intake_silent fires after this long without webhooks inside "
                       "--alert-hours; 0s: never",
                       "1h", milliseconds { 0 }, std::chrono::hours { 24 * 7 }),
        serveOption("alert-hours", FlagType::Text, "SLUICE_ALERT_HOURS",
                    "the hours intake_silent watches: DAYS HH:MM-HH:MM, \"daily ...\" or "
                    "\"always\"")
            .withDefault(QStringLiteral("Mon-Fri 08:00-18:00")),
        serveOption("alert-timezone", FlagType::Text, "SLUICE_ALERT_TIMEZONE",
                    "the time zone of --alert-hours, an IANA name such as Europe/Berlin")
            .withDefaultNote(QStringLiteral("the machine's")),
        countOption("alert-plan-low", "SLUICE_ALERT_PLAN_LOW",
                    "plan_low fires when Instantly's remaining_in_plan is below this; 0: never",
                    "1000", 0, 1'000'000'000),
        FlagSpec::secretVariable(QStringLiteral("INSTANTLY_API_KEY"),
                                 QStringLiteral("Instantly API key")),
        FlagSpec::secretVariable(QStringLiteral("CLOSE_API_KEY"), QStringLiteral("Close API key")),
        FlagSpec::secretVariable(QStringLiteral("CLOSE_WEBHOOK_SECRET"),
                                 QStringLiteral("Close webhook signature key, hex")),
    };
    return specs;
}

} // namespace

std::vector<FlagSpec> serveFlagSpecs(bool workerOnly)
{
    std::vector<FlagSpec> specs;
    for (const FlagSpec &spec : allServeSpecs())
        if (!(workerOnly && listenerOnly(spec)))
            specs.push_back(spec);
    return specs;
}

std::vector<FlagSpec> serveFlagSpecs(const QStringList &names)
{
    std::vector<FlagSpec> specs;
    for (const QString &name : names)
        for (const FlagSpec &spec : allServeSpecs())
            if (spec.name == name || (spec.envOnly && spec.env == name))
                specs.push_back(spec);
    return specs;
}

FlagTable serveFlagTable(bool workerOnly)
{
    FlagTable table(
        workerOnly ? QStringLiteral("worker") : QStringLiteral("serve"),
        workerOnly ? QStringLiteral("sluice worker [options]")
                   : QStringLiteral("sluice serve [options]"),
        workerOnly ? QStringLiteral("Dispatchers only: deliver queued leads to Instantly. Scale "
                                    "out by running more, on any machine, against one Redis.")
                   : QStringLiteral("The webhook listener and the dispatchers, headless."));
    table.add(serveFlagSpecs(workerOnly));
    table.setOptionsHeading(QStringLiteral("Options (each also an environment variable)"));
    return table;
}

QString ServeOptions::listenText() const
{
    const QString host = listenAddress.protocol() == QAbstractSocket::IPv6Protocol
        ? QLatin1Char('[') + listenAddress.toString() + QLatin1Char(']')
        : listenAddress.toString();
    return host + QLatin1Char(':') + QString::number(listenPort);
}

std::optional<ServeFlagInfo> serveFlagInfo(const QString &name)
{
    for (const FlagSpec &spec : allServeSpecs()) {
        if (spec.envOnly || spec.name != name)
            continue;
        ServeFlagInfo info;
        info.help = spec.fullHelp();
        info.defaultText = spec.defaultNote.isEmpty() ? spec.defaultValue : spec.defaultNote;
        return info;
    }
    return std::nullopt;
}

QString serveHelpText(bool workerOnly)
{
    return serveFlagTable(workerOnly).helpText();
}

Result<ServeOptions, QString> parseServeOptions(const QStringList &args,
                                                const QProcessEnvironment &env, bool workerOnly)
{
    const auto values = serveFlagTable(workerOnly).parse(args, env);
    if (!values.ok())
        return values.error();
    return serveOptionsFrom(values.value(), workerOnly);
}

Result<ServeOptions, QString> serveOptionsFrom(const FlagValues &v, bool workerOnly)
{
    ServeOptions o;
    const auto has = [&](const char *name) { return v.contains(QLatin1String(name)); };
    const auto text = [&](const char *name) { return v.text(QLatin1String(name)); };
    const auto bad = [&](const char *name, const QString &why) {
        return QStringLiteral("%1: %2").arg(v.origin(QLatin1String(name)), why);
    };
    if (has("listen")) {
        static const QRegularExpression re(QStringLiteral("^\\[?([^\\]]+?)\\]?:(\\d{1,5})$"));
        const auto m = re.match(text("listen"));
        const QHostAddress address(m.captured(1));
        const int port = m.captured(2).toInt();
        if (!m.hasMatch() || address.isNull() || port > 65535)
            return bad(
                "listen",
                QStringLiteral("'%1' is not host:port with an IP address (e.g. 127.0.0.1:8080)")
                    .arg(text("listen")));
        o.listenAddress = address;
        o.listenPort = quint16(port);
    }
    o.allowRemote = v.isOn(QStringLiteral("allow-remote"));
    if (!o.listenAddress.isLoopback() && !o.allowRemote && !workerOnly)
        return QStringLiteral("listening on %1 would accept webhooks from other machines; add "
                              "--allow-remote if that is what you want")
            .arg(o.listenAddress.toString());
    for (const char *name : { "instantly-url", "close-url" }) {
        if (!has(name))
            continue;
        const QUrl url(text(name), QUrl::StrictMode);
        if (!url.isValid()
            || (url.scheme() != QLatin1String("http") && url.scheme() != QLatin1String("https"))
            || url.host().isEmpty())
            return bad(name, QStringLiteral("'%1' is not an http(s) URL").arg(text(name)));
        (QLatin1String(name) == QLatin1String("instantly-url") ? o.instantlyUrl : o.closeUrl) = url;
    }
    o.redisUrl = text("redis");
    o.redisCaFile = text("redis-ca-file");
    if (has("rate")) {
        // The preset gives the caps a flag or variable does not.
        const bool documented = text("caps").toLower() == QLatin1String("documented");
        o.limiter.caps.clear();
        for (const char *name : { "rate", "burst-rate" }) {
            const bool rate = QLatin1String(name) == QLatin1String("rate");
            const QString preset = documented
                ? (rate ? QStringLiteral("6000/min") : QStringLiteral("100/s"))
                : (rate ? QStringLiteral("600/min") : QStringLiteral("10/s"));
            auto rule = parseRateRule(v.given(QLatin1String(name)) ? text(name) : preset);
            if (!rule.ok())
                return bad(name, rule.error());
            o.limiter.caps.push_back(rule.value());
        }
    }
    if (has("safety-factor")) {
        o.limiter.safetyFactor = v.number(QStringLiteral("safety-factor"));
        if (!(o.limiter.safetyFactor > 0 && o.limiter.safetyFactor <= 1))
            return bad("safety-factor", QStringLiteral("must be a number above 0 and at most 1"));
    }
    if (has("instances-hint"))
        o.limiter.instancesHint = int(v.integer(QStringLiteral("instances-hint")));
    if (has("workers"))
        o.workers = int(v.integer(QStringLiteral("workers")));
    DispatcherOptions &d = o.dispatcher;
    const bool bulk = v.isOn(QStringLiteral("bulk")), single = v.isOn(QStringLiteral("single"));
    if (bulk && single)
        return QStringLiteral("give either --bulk or --single, not both");
    if (bulk || single) {
        d.mode = single ? DeliveryMode::Single : DeliveryMode::Bulk;
    } else if (v.given(QStringLiteral("SLUICE_MODE"))) {
        const QString mode = text("SLUICE_MODE").toLower();
        if (mode != QLatin1String("bulk") && mode != QLatin1String("single"))
            return bad("SLUICE_MODE", QStringLiteral("must be bulk or single"));
        d.mode = mode == QLatin1String("single") ? DeliveryMode::Single : DeliveryMode::Bulk;
    }
    if (has("namespace")) {
        static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9_.-]{1,64}$"));
        d.keyNamespace = text("namespace");
        if (!re.match(d.keyNamespace).hasMatch())
            return bad("namespace", QStringLiteral("use 1 to 64 letters, digits, '.', '_' or '-'"));
    }
    // The reader has checked every value's type and range.
    const struct
    {
        const char *name;
        std::chrono::milliseconds *target;
    } durations[] = {
        { "claim-idle", &d.claimIdleTimeout },
        { "request-timeout", &o.requestTimeout },
        { "retry-base", &d.retryBase },
        { "retry-cap", &d.retryCap },
        { "coalesce", &d.coalescingWindow },
        { "lookup-hold", &d.lookupHold },
        { "delivered-retention", &d.deliveredRetention },
        { "breaker-open", &o.breaker.openWaitBase },
    };
    for (const auto &duration : durations)
        if (has(duration.name))
            *duration.target = v.duration(QLatin1String(duration.name));
    if (d.retryCap < d.retryBase)
        return QStringLiteral("--retry-cap (%1 ms) is below --retry-base (%2 ms)")
            .arg(d.retryCap.count())
            .arg(d.retryBase.count());
    const struct
    {
        const char *name;
        int *target;
    } counts[] = {
        { "max-attempts", &d.maxAttempts },
        { "batch-max", &d.maxBatch },
        { "lookup-batch", &d.lookupBatch },
        { "upstream-concurrency", &d.maxRequestsInFlight },
    };
    for (const auto &count : counts)
        if (has(count.name))
            *count.target = int(v.integer(QLatin1String(count.name)));
    if (has("breaker-failure-rate")) {
        const double rate = v.number(QStringLiteral("breaker-failure-rate"));
        if (rate < 1 || rate > 100)
            return bad("breaker-failure-rate",
                       QStringLiteral("must be a percentage from 1 to 100"));
        o.breaker.failureRateThresholdPercent = rate;
    }
    o.breaker.openWaitCap = std::max(o.breaker.openWaitCap, o.breaker.openWaitBase);
    if (has("close-rate")) {
        auto rule = parseRateRule(text("close-rate"));
        if (!rule.ok())
            return bad("close-rate", rule.error());
        o.closeCaps = { rule.value() };
    }
    if (has("skip-if"))
        d.skipIf = skipIfFromName(text("skip-if").toLower()).value_or(SkipIf::None);
    o.dataDir = text("data-dir");
    o.instance = text("instance").trimmed();
    static const QRegularExpression instanceName(QStringLiteral("^[A-Za-z0-9._-]{1,64}$"));
    if (v.given(QStringLiteral("instance")) && !instanceName.match(o.instance).hasMatch())
        return bad("instance", QStringLiteral("must be 1 to 64 letters, digits, '.', '_' or '-'"));
    if (has("log-format"))
        o.logFormat = text("log-format").toLower() == QLatin1String("json")
            ? ServeOptions::LogFormat::Json
            : ServeOptions::LogFormat::Text;
    if (has("journal"))
        d.journal = text("journal").toLower() == QLatin1String("on");
    AlertOptions &a = o.alerts;
    if (has("alert-url"))
        a.urls = v.list(QStringLiteral("alert-url"));
    const auto duration = [&](const char *name, std::chrono::milliseconds &target) {
        if (has(name))
            target = v.duration(QLatin1String(name));
    };
    duration("alert-interval", a.interval);
    duration("alert-dead-letters-within", a.deadLettersWithin);
    duration("alert-drain-within", a.drainWithin);
    duration("alert-intake-failing-for", a.intakeFailingFor);
    duration("alert-intake-silent-for", a.intakeSilentFor);
    if (has("alert-dead-letters"))
        a.deadLettersGrowth = int(v.integer(QStringLiteral("alert-dead-letters")));
    if (has("alert-rate-limited"))
        a.rateLimited429 = int(v.integer(QStringLiteral("alert-rate-limited")));
    if (has("alert-plan-low"))
        a.planLow = v.integer(QStringLiteral("alert-plan-low"));
    if (has("alert-hours")) {
        QString why;
        const auto hours = AlertHours::parse(text("alert-hours"), &why);
        if (!hours)
            return bad("alert-hours", why);
        a.hours = *hours;
    }
    if (has("alert-timezone") && v.given(QStringLiteral("alert-timezone"))) {
        const QTimeZone zone(text("alert-timezone").trimmed().toUtf8());
        if (!zone.isValid())
            return bad("alert-timezone",
                       QStringLiteral("'%1' is not a time zone this machine knows (an IANA name "
                                      "such as Europe/Berlin)")
                           .arg(text("alert-timezone")));
        a.hours.zone = zone;
    }
    if (auto problem = a.problem())
        return *problem;
    o.instantlyApiKey = text("INSTANTLY_API_KEY");
    o.closeApiKey = text("CLOSE_API_KEY");
    o.webhookSecret = text("CLOSE_WEBHOOK_SECRET");
    return o;
}

} // namespace sluice
