#pragma once

#include <QString>

#include <chrono>
#include <optional>

namespace sluice {

/// How leads go to Instantly.
enum class DeliveryMode {
    Bulk, ///< POST /api/v2/leads/add, up to maxBatch leads of one campaign per request
    Single, ///< POST /api/v2/leads, one request per lead
};

/// Which of Instantly's skip flags the sends carry (--skip-if). Never what makes a resend a
/// no-op: that is the delivered set and, after an uncertain answer, listing the campaign.
enum class SkipIf {
    None, ///< no flag: a lead goes into this campaign whatever other campaigns hold it
    InCampaign, ///< skip_if_in_campaign: Instantly skips a lead "that already exists in ANY
                ///< campaign in your workspace"
    InWorkspace, ///< skip_if_in_workspace: skips a lead "that already exists anywhere in your
                 ///< workspace (in any campaign or list)"
};

/// "none", "in-campaign", "in-workspace"
QString skipIfName(SkipIf skip);
std::optional<SkipIf> skipIfFromName(const QString &name);

/// Everything a Dispatcher is configured with. Validate with problem() at start.
struct DispatcherOptions
{
    /// Redis key namespace (RedisKeys): every instance of one deployment uses the same.
    QString keyNamespace = QStringLiteral("default");
    /// This instance's consumer name in the group; unique per live instance. Empty: one is
    /// made from the host name, the process id and a random suffix.
    QString consumerName;
    DeliveryMode mode = DeliveryMode::Bulk;
    SkipIf skipIf = SkipIf::None;
    bool journal = true; ///< write each lead's attempts and outcome to the lead journal
    /// A delivered lead makes a replay of it a no-op this long (the delivered sorted set is
    /// trimmed past it), so a lead deleted in Instantly can be added again later.
    std::chrono::milliseconds deliveredRetention { std::chrono::hours { 24 * 30 } };

    /// Leads of one campaign arriving within this window after the first go out together.
    std::chrono::milliseconds coalescingWindow { 200 };
    int maxBatch = 1000; ///< 1..1000 (Instantly's bulk limit)
    /// Close lookups (leads a webhook did not carry: every real one): ids per search request,
    /// 1..200 (1 = one GET per lead), and how long ids asked for together are gathered.
    int lookupBatch = 100;
    std::chrono::milliseconds lookupWindow { 20 };
    /// While lookups for a campaign's leads are under way, its open batch waits for them, at
    /// most this long after its first lead (bulk mode).
    std::chrono::milliseconds lookupHold { 2000 };
    /// XREADGROUP BLOCK time; also how quickly a stop or a pause is noticed by the reader.
    std::chrono::milliseconds blockTime { 1000 };
    /// Entries pending this long in a (presumably dead) consumer are reclaimed.
    std::chrono::milliseconds claimIdleTimeout { 60'000 };
    /// A consumer whose heartbeat (renewed every maintenance tick) is this old is dead: its
    /// entries are taken over at once, not after claimIdleTimeout.
    std::chrono::milliseconds livenessTimeout { 5000 };
    /// While paused by itself (a rejected key, an exhausted plan), how often the fleet (one
    /// instance) probes with one cheap request whether the pause can end.
    std::chrono::milliseconds probeInterval { 60'000 };
    /// How often the fleet (one instance) looks for the campaigns that parked leads wait for.
    std::chrono::milliseconds parkedRecheck { 60'000 };
    /// How often retries are promoted, pending entries reclaimed and the pause flag read.
    std::chrono::milliseconds maintenanceInterval { 500 };
    /// Leads read but not yet settled, at most (back-pressure on the reader).
    int maxInFlight = 2000;
    /// Lead requests (bulk or single) on the wire at once, 1..6. The next one takes its
    /// rate-limit slot only when one of these has its answer, so it leaves at once: Qt
    /// queues requests beyond 6 per host, and a queue that drains at once breaks the cap.
    int maxRequestsInFlight = 4;

    /// Transient failures are retried after a full-jitter exponential delay:
    /// random(0, min(retryCap, retryBase × 2^(attempt − 1))).
    std::chrono::milliseconds retryBase { 1000 };
    std::chrono::milliseconds retryCap { 300'000 };
    int maxAttempts = 12; ///< the attempt that reaches this goes to the dead letters

    /// Single mode: Instantly answers a skipped lead (already in the campaign) with the lead
    /// as it was. One whose `timestamp_created` is more than this before our request counts
    /// as skipped, not created; the margin absorbs clock skew between us and Instantly.
    std::chrono::milliseconds skipDetectionMargin { 5000 };

    /// Why these options cannot work, or nullopt when they can.
    std::optional<QString> problem() const;
};

/// "bulk" / "single"
QString deliveryModeName(DeliveryMode mode);

} // namespace sluice
