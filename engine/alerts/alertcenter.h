#pragma once

#include "alert.h"
#include "alertrules.h"
#include "store/rediskeys.h"

#include <QHash>
#include <QObject>
#include <QTimer>

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace sluice {

class AlertSender;
class RedisReply;
class RedisClient;

/// 1 while an alert of that kind fires (index: AlertKind), for /metrics gauges that must stay
/// readable after the AlertCenter is gone.
using AlertGaugeState = std::array<std::atomic<int>, kAllAlertKinds.size()>;

struct AlertCenterServices
{
    RedisClient *redis = nullptr; ///< may be unreachable: alerts are then instance-local
    RedisKeys keys;
    QString instance;
    /// Reads the figures and calls back with them (at once or later, on this thread).
    std::function<void(std::function<void(AlertReading)>)> read;
    /// This instance's figures for `sluice status` (a JSON object), written with each
    /// evaluation; optional.
    std::function<nlohmann::json()> status;
    std::shared_ptr<AlertGaugeState> gauges; ///< optional
};

/// Who acknowledged a firing alert, and when.
struct AlertAck
{
    QString by;
    qint64 atMs = 0;
};

/// Watches the conditions of issue 17 and tells the operator: every `interval` it reads the
/// figures, asks AlertRules which conditions hold, and settles with the other instances
/// through Redis (resources/lua/alerts_evaluate.lua) which alerts start or end, so across the
/// fleet each fires once and resolves once. What this instance starts or ends it logs, POSTs to
/// every --alert-url (AlertSender) and emits. When Redis cannot be reached, it decides alone
/// and says so in each event (instance-local).
///
/// The fleet's firing alerts, the alert log (every instance's events, newest last) and the
/// acknowledgements are read back from Redis at each evaluation, so every console and /healthz
/// show the same thing.
class AlertCenter : public QObject
{
    Q_OBJECT
public:
    static constexpr size_t kHistory = 500;

    AlertCenter(AlertOptions options, AlertCenterServices services, QObject *parent = nullptr);
    ~AlertCenter() override;

    void start();
    void stop();
    /// One evaluation now (the timer runs them every interval); skipped while one runs.
    void evaluate();

    /// The firing alerts (the fleet's, as Redis last said, plus this instance's own while it
    /// decides alone), in kind order.
    std::vector<AlertEvent> active() const;
    bool isActive(AlertKind kind) const;
    /// Firing and resolved events, oldest first (at most kHistory).
    const std::deque<AlertEvent> &history() const { return m_history; }
    std::optional<AlertAck> acknowledged(AlertKind kind) const;
    /// Marks the firing alert of `kind` as seen by `who` for every console; it is forgotten
    /// when the alert resolves. `done` gets the error, if any.
    void acknowledge(AlertKind kind, const QString &who,
                     std::function<void(std::optional<QString>)> done = {});
    const AlertOptions &options() const { return m_rules.options(); }
    AlertSender *sender() const { return m_sender.get(); }
    /// Evaluations completed (tests wait on it).
    qint64 evaluations() const { return m_evaluations; }

Q_SIGNALS:
    /// This instance started or ended an alert (and POSTed it).
    void alerted(const sluice::AlertEvent &event);
    /// An event joined the history after the first read of it: this instance's, or another
    /// instance's from the fleet's alert log (a console notifies on these).
    void logged(const sluice::AlertEvent &event);
    /// The firing set, the history or the acknowledgements changed.
    void changed();

private:
    void decide(const std::vector<AlertCondition> &conditions);
    void decideAlone(const std::map<AlertKind, AlertEvent> &holding);
    void settled(const std::map<AlertKind, AlertEvent> &holding, const RedisReply &reply);
    void announce(const AlertEvent &event);
    /// Into the history; `news`: emit logged() too.
    void remember(const AlertEvent &event, bool news = true);
    void readBack();
    void pruneStatuses(qint64 nowMs);
    void publishGauges();
    AlertEvent eventFor(const AlertCondition &condition, qint64 nowMs) const;
    /// The "resolved" event of `firing`, sent by this instance at `nowMs`.
    AlertEvent resolutionOf(const AlertEvent &firing, qint64 nowMs) const;

    AlertRules m_rules;
    AlertCenterServices m_services;
    std::unique_ptr<AlertSender> m_sender;
    QTimer m_timer;
    bool m_evaluating = false;
    qint64 m_evaluations = 0;
    std::map<AlertKind, AlertEvent> m_fleetActive; ///< as Redis says
    std::map<AlertKind, AlertEvent> m_localActive; ///< decided alone (Redis unreachable)
    std::map<AlertKind, AlertAck> m_acks;
    std::deque<AlertEvent> m_history;
    QByteArray m_logCursor; ///< the alert log read up to here ("" before the first read)
    bool m_readingBack = false;
};

} // namespace sluice
