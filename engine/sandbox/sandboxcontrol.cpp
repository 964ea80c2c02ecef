// The sandbox's private control API under /_sandbox/ (bearer: the Instantly key) and its stats.
#include "sandboxserver.h"

#include "core/jsontext.h"

#include <nlohmann/json.hpp>

namespace sluice {

using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

StoreReply badControl(const QString &message)
{
    return instantlyError(400, message);
}

json faultsJson(const FaultOptions &f)
{
    return json {
        { "latency_ms", f.latency.count() },
        { "error_rate", f.errorRate },
        { "hang_rate", f.hangRate },
        { "hang_ms", f.hangDuration.count() },
        { "body_error_rate", f.bodyErrorRate },
        { "apply_drop_rate", f.applyDropRate },
        { "apply_hang_rate", f.applyHangRate },
    };
}

json closeFaultsJson(const CloseFaultOptions &f)
{
    return json { { "latency_ms", f.latency.count() },
                  { "search_refused_status", f.searchRefusedStatus } };
}

json stringsJson(const QStringList &list)
{
    json out = json::array();
    for (const QString &s : list)
        out.push_back(s.toStdString());
    return out;
}

/// A strictly positive integer member, or nullopt.
std::optional<int> positiveInt(const json &object, const char *key)
{
    if (!object.contains(key) || !object[key].is_number_integer() || object[key].get<qint64>() <= 0
        || object[key].get<qint64>() > std::numeric_limits<int>::max())
        return std::nullopt;
    return object[key].get<int>();
}

} // namespace

json SandboxServer::statsJson() const
{
    int admitted = 0, limited = 0, serverErrors = 0, unanswered = 0;
    for (const SandboxLogEntry &e : m_log) {
        admitted += e.admitted ? 1 : 0;
        limited += e.status == 429 && e.closeGroup.isEmpty() ? 1 : 0;
        serverErrors += e.status >= 500 ? 1 : 0;
        unanswered += e.status == 0 ? 1 : 0;
    }
    json groups = json::object();
    int closeRequests = 0, closeLimited = 0;
    for (const QString &group : closeEndpointGroups()) {
        const auto it = m_closeStats.find(group);
        const CloseGroupStats stats = it == m_closeStats.end() ? CloseGroupStats {} : it->second;
        const CloseGroupLimit limit = closeLimit(group);
        groups[group.toStdString()] = { { "requests", stats.requests },
                                        { "rate_limited", stats.rateLimited },
                                        { "per_key", limit.perKey },
                                        { "per_org", limit.perOrg } };
        closeRequests += stats.requests;
        closeLimited += stats.rateLimited;
    }
    return json {
        { "requests", m_log.size() },
        { "admitted", admitted },
        { "rate_limited", limited },
        { "server_errors", serverErrors },
        { "unanswered", unanswered },
        { "worst_1s", worstWindow(milliseconds { 1000 }) },
        { "worst_60s", worstWindow(milliseconds { 60'000 }) },
        { "limits",
          { { "per_second", m_options.perSecond }, { "per_minute", m_options.perMinute } } },
        { "faults", faultsJson(m_options.faults) },
        { "leads", m_store.leadCount() },
        { "campaigns", m_store.campaignCount() },
        { "remaining_in_plan", m_store.remainingInPlan() },
        { "close",
          { { "requests", closeRequests },
            { "rate_limited", closeLimited },
            { "groups", std::move(groups) },
            { "leads", m_store.close().leadCount() },
            { "tasks", m_store.closeTasks().taskCount() },
            { "faults", closeFaultsJson(m_options.closeFaults) } } },
    };
}

void SandboxServer::addControlRoutes()
{
    auto control = [this](const QByteArray &method, const QString &path,
                          std::function<StoreReply(const HttpRequest &, const json &)> op) {
        addRoute(method, QStringLiteral("/_sandbox/") + path,
                 [this, op = std::move(op)](const HttpRequest &r, HttpResponder responder) {
                     if (!controlAuthorized(r, responder))
                         return;
                     json body = json::object();
                     if (!r.body.trimmed().isEmpty()) {
                         try {
                             body = parseJsonOrThrow(r.body);
                         } catch (const json::parse_error &e) {
                             const StoreReply error
                                 = badControl(QStringLiteral("body is not valid JSON: %1")
                                                  .arg(QString::fromUtf8(e.what())));
                             responder.sendJson(error.status, bodyBytes(error));
                             return;
                         }
                     }
                     const StoreReply reply = op(r, body);
                     responder.sendJson(reply.status, bodyBytes(reply));
                 });
    };

    control("GET", QStringLiteral("stats"),
            [this](const HttpRequest &, const json &) { return jsonReply(200, statsJson()); });
    control("GET", QStringLiteral("requests"), [this](const HttpRequest &r, const json &) {
        const quint64 after = r.query.queryItemValue(QStringLiteral("after")).toULongLong();
        json items = json::array();
        for (const SandboxLogEntry &e : m_log) {
            if (e.seq <= after)
                continue;
            json item = { { "seq", e.seq },
                          { "time_ms", e.wallTimeMs },
                          { "method", e.method.toStdString() },
                          { "path", e.path.toStdString() },
                          { "user_agent", e.userAgent.toStdString() },
                          { "status", e.status },
                          { "latency_ms", e.latencyMs },
                          { "admitted", e.admitted } };
            if (!e.closeGroup.isEmpty())
                item["close_group"] = e.closeGroup.toStdString();
            items.push_back(std::move(item));
        }
        return jsonReply(200, json { { "items", std::move(items) } });
    });
    control("GET", QStringLiteral("leads"), [this](const HttpRequest &r, const json &) {
        return jsonReply(
            200,
            json { { "items",
                     m_store.allLeads(r.query.queryItemValue(QStringLiteral("campaign"))) } });
    });

    // Instantly faults and limits.
    control("GET", QStringLiteral("faults"), [this](const HttpRequest &, const json &) {
        return jsonReply(200, faultsJson(m_options.faults));
    });
    control("PUT", QStringLiteral("faults"), [this](const HttpRequest &, const json &b) {
        if (!b.is_object())
            return badControl(QStringLiteral("body must be object"));
        FaultOptions f = m_options.faults;
        try {
            if (b.contains("latency_ms"))
                f.latency = milliseconds { b["latency_ms"].get<qint64>() };
            if (b.contains("error_rate"))
                f.errorRate = b["error_rate"].get<double>();
            if (b.contains("hang_rate"))
                f.hangRate = b["hang_rate"].get<double>();
            if (b.contains("hang_ms"))
                f.hangDuration = milliseconds { b["hang_ms"].get<qint64>() };
            if (b.contains("body_error_rate"))
                f.bodyErrorRate = b["body_error_rate"].get<double>();
            if (b.contains("apply_drop_rate"))
                f.applyDropRate = b["apply_drop_rate"].get<double>();
            if (b.contains("apply_hang_rate"))
                f.applyHangRate = b["apply_hang_rate"].get<double>();
        } catch (const json::exception &e) {
            return badControl(QStringLiteral("faults: %1").arg(QString::fromUtf8(e.what())));
        }
        if (auto problem = f.problem())
            return badControl(QStringLiteral("faults: ") + *problem);
        setFaults(f);
        return jsonReply(200, faultsJson(f));
    });
    auto limitsJson = [this] {
        return json { { "per_second", m_options.perSecond },
                      { "per_minute", m_options.perMinute } };
    };
    control("GET", QStringLiteral("limits"), [limitsJson](const HttpRequest &, const json &) {
        return jsonReply(200, limitsJson());
    });
    control(
        "PUT", QStringLiteral("limits"), [this, limitsJson](const HttpRequest &, const json &b) {
            if (b.is_object() && b.contains("preset")) {
                if (b["preset"] != "documented" && b["preset"] != "plan")
                    return badControl(
                        QStringLiteral("preset must be \"documented\" (100/s, 6000/min) "
                                       "or \"plan\" (10/s, 600/min)"));
                const SandboxOptions defaults = b["preset"] == "documented"
                    ? SandboxOptions::documentedInstantlyLimits()
                    : SandboxOptions {};
                setLimits(defaults.perSecond, defaults.perMinute);
                return jsonReply(200, limitsJson());
            }
            const json perSecond = b.value("per_second", json(m_options.perSecond));
            const json perMinute = b.value("per_minute", json(m_options.perMinute));
            if (!perSecond.is_number_integer() || !perMinute.is_number_integer()
                || perSecond.get<int>() <= 0 || perMinute.get<int>() <= 0)
                return badControl(QStringLiteral("per_second and per_minute must be integers > 0"));
            setLimits(perSecond.get<int>(), perMinute.get<int>());
            return jsonReply(200, limitsJson());
        });
    control("POST", QStringLiteral("outage"), [this](const HttpRequest &, const json &b) {
        const json startIn = b.value("start_in_ms", json(0));
        const json duration = b.value("duration_ms", json());
        if (!startIn.is_number_integer() || startIn.get<qint64>() < 0
            || !duration.is_number_integer() || duration.get<qint64>() <= 0)
            return badControl(QStringLiteral("outage needs integer duration_ms > 0 and "
                                             "start_in_ms >= 0"));
        addOutage(milliseconds { startIn.get<qint64>() }, milliseconds { duration.get<qint64>() });
        return jsonReply(200, json { { "start_in_ms", startIn }, { "duration_ms", duration } });
    });

    // Instantly workspace rules the docs leave open (docs/sandbox-rules.md).
    auto blocklistJson = [this] {
        return json { { "entries", stringsJson(m_store.blocklist()) } };
    };
    control("GET", QStringLiteral("blocklist"), [blocklistJson](const HttpRequest &, const json &) {
        return jsonReply(200, blocklistJson());
    });
    control("PUT", QStringLiteral("blocklist"),
            [this, blocklistJson](const HttpRequest &, const json &b) {
                const json entries = b.value("entries", json());
                QStringList list;
                bool ok = entries.is_array();
                for (const json &e : ok ? entries : json::array()) {
                    ok = ok && e.is_string() && !e.get<std::string>().empty();
                    if (ok)
                        list.append(QString::fromStdString(e.get<std::string>()));
                }
                if (!ok)
                    return badControl(QStringLiteral("blocklist needs {\"entries\": [emails or "
                                                     "domains as non-empty strings]}"));
                m_store.setBlocklist(list);
                m_options.blocklist = list;
                return jsonReply(200, blocklistJson());
            });
    auto planJson = [this] { return json { { "remaining_in_plan", m_store.remainingInPlan() } }; };
    control("GET", QStringLiteral("plan"),
            [planJson](const HttpRequest &, const json &) { return jsonReply(200, planJson()); });
    control("PUT", QStringLiteral("plan"), [this, planJson](const HttpRequest &, const json &b) {
        const json remaining = b.value("remaining_in_plan", json());
        if (!remaining.is_number_integer() || remaining.get<qint64>() < 0)
            return badControl(QStringLiteral("plan needs {\"remaining_in_plan\": integer >= 0}"));
        m_store.setRemainingInPlan(remaining.get<qint64>());
        m_options.remainingInPlan = remaining.get<qint64>();
        return jsonReply(200, planJson());
    });
    auto keyJson = [this] { return json { { "revoked", m_keyRevoked } }; };
    control("GET", QStringLiteral("key"),
            [keyJson](const HttpRequest &, const json &) { return jsonReply(200, keyJson()); });
    control("PUT", QStringLiteral("key"), [this, keyJson](const HttpRequest &, const json &b) {
        const json revoked = b.value("revoked", json());
        if (!revoked.is_boolean())
            return badControl(QStringLiteral("key needs {\"revoked\": true|false}"));
        setInstantlyKeyRevoked(revoked.get<bool>());
        return jsonReply(200, keyJson());
    });
    auto behaviourJson = [this] {
        return json { { "same_campaign_duplicates",
                        toString(m_store.sameCampaignDuplicates()).toStdString() } };
    };
    control("GET", QStringLiteral("behaviour"), [behaviourJson](const HttpRequest &, const json &) {
        return jsonReply(200, behaviourJson());
    });
    control("PUT", QStringLiteral("behaviour"),
            [this, behaviourJson](const HttpRequest &, const json &b) {
                const json value = b.value("same_campaign_duplicates", json());
                const auto behaviour = value.is_string()
                    ? sameCampaignDuplicatesFromString(QString::fromStdString(value))
                    : std::nullopt;
                if (!behaviour)
                    return badControl(
                        QStringLiteral("behaviour needs {\"same_campaign_duplicates\":"
                                       " \"create\" or \"skip\"}"));
                m_store.setSameCampaignDuplicates(*behaviour);
                m_options.sameCampaignDuplicates = *behaviour;
                return jsonReply(200, behaviourJson());
            });

    // Close.
    control("POST", QStringLiteral("close/leads"),
            [this](const HttpRequest &, const json &b) { return m_store.close().putLeads(b); });
    control("DELETE", QStringLiteral("close/leads"), [this](const HttpRequest &, const json &) {
        const int removed = m_store.close().leadCount();
        m_store.close().clear();
        return jsonReply(200, json { { "deleted", removed } });
    });
    control("POST", QStringLiteral("close/tasks"), [this](const HttpRequest &, const json &b) {
        return m_store.closeTasks().putTasks(
            b, [this](const QString &leadId) { return m_store.closeLeadName(leadId); });
    });
    control("DELETE", QStringLiteral("close/tasks"), [this](const HttpRequest &, const json &) {
        const int removed = m_store.closeTasks().taskCount();
        m_store.closeTasks().clear();
        return jsonReply(200, json { { "deleted", removed } });
    });
    control("DELETE", QStringLiteral("close/tasks/([^/]+)"),
            [this](const HttpRequest &r, const json &) {
                return m_store.closeTasks().deleteTask(r.captures.value(0));
            });
    auto closeLimitsJson = [this] {
        json out = json::object();
        for (const QString &group : closeEndpointGroups()) {
            const CloseGroupLimit limit = closeLimit(group);
            out[group.toStdString()] = { { "per_key", limit.perKey }, { "per_org", limit.perOrg } };
        }
        return out;
    };
    control("GET", QStringLiteral("close/limits"),
            [closeLimitsJson](const HttpRequest &, const json &) {
                return jsonReply(200, closeLimitsJson());
            });
    control("PUT", QStringLiteral("close/limits"),
            [this, closeLimitsJson](const HttpRequest &, const json &b) {
                if (!b.is_object())
                    return badControl(QStringLiteral("body must be object"));
                std::map<QString, CloseGroupLimit> updates;
                const QStringList groups = closeEndpointGroups();
                for (auto it = b.begin(); it != b.end(); ++it) {
                    const QString group = QString::fromStdString(it.key());
                    if (!groups.contains(group))
                        return badControl(QStringLiteral("unknown Close endpoint group '%1' "
                                                         "(known: %2)")
                                              .arg(group, groups.join(QStringLiteral(", "))));
                    CloseGroupLimit limit = closeLimit(group);
                    if (!it->is_object())
                        return badControl(QStringLiteral("%1 must be {\"per_key\": n, "
                                                         "\"per_org\": n}")
                                              .arg(group));
                    if (it->contains("per_key")) {
                        const auto n = positiveInt(*it, "per_key");
                        if (!n)
                            return badControl(
                                QStringLiteral("%1.per_key must be an integer > 0").arg(group));
                        limit.perKey = *n;
                    }
                    if (it->contains("per_org")) {
                        const auto n = positiveInt(*it, "per_org");
                        if (!n)
                            return badControl(
                                QStringLiteral("%1.per_org must be an integer > 0").arg(group));
                        limit.perOrg = *n;
                    }
                    updates[group] = limit;
                }
                for (const auto &[group, limit] : updates)
                    setCloseLimit(group, limit);
                return jsonReply(200, closeLimitsJson());
            });
    control("GET", QStringLiteral("close/faults"), [this](const HttpRequest &, const json &) {
        return jsonReply(200, closeFaultsJson(m_options.closeFaults));
    });
    control("PUT", QStringLiteral("close/faults"), [this](const HttpRequest &, const json &b) {
        if (!b.is_object())
            return badControl(QStringLiteral("body must be object"));
        CloseFaultOptions f = m_options.closeFaults;
        const json refused = b.value("search_refused_status", json(f.searchRefusedStatus));
        const json latency = b.value("latency_ms", json(f.latency.count()));
        if (!refused.is_number_integer() || !latency.is_number_integer())
            return badControl(QStringLiteral("close faults: search_refused_status and latency_ms "
                                             "must be integers"));
        f.searchRefusedStatus = refused.get<int>();
        f.latency = milliseconds { latency.get<qint64>() };
        if (auto problem = f.problem())
            return badControl(QStringLiteral("close faults: ") + *problem);
        setCloseFaults(f);
        return jsonReply(200, closeFaultsJson(f));
    });

    control("POST", QStringLiteral("reset"), [this](const HttpRequest &, const json &) {
        reset();
        return jsonReply(200, json { { "reset", true } });
    });
}

} // namespace sluice
