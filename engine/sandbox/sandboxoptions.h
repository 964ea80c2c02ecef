#pragma once

#include <QString>
#include <QStringList>

#include <chrono>
#include <map>
#include <optional>

namespace sluice {

/// Faults the sandbox injects into Instantly requests that passed auth and the rate limit.
struct FaultOptions
{
    std::chrono::milliseconds latency { 0 }; ///< added to every answer
    double errorRate = 0.0; ///< probability of a 500
    double hangRate = 0.0; ///< probability of holding the request for `hangDuration`
    std::chrono::milliseconds hangDuration { 120'000 }; ///< then 504; meant to outlast clients
    double bodyErrorRate = 0.0; ///< probability of a 200 whose body is an error
    /// Probability that the request takes effect and then the connection is closed unanswered.
    double applyDropRate = 0.0;
    /// Probability that the request takes effect and its answer is held for `hangDuration`
    /// (then a 504): the client sees a timeout although the work was done.
    double applyHangRate = 0.0;

    /// Why these options are unusable, or nullopt.
    std::optional<QString> problem() const;
};

/// One Close endpoint group's limits, in requests per second (Close's own example: 20 per key,
/// 3x that per organisation).
struct CloseGroupLimit
{
    int perKey = 20;
    int perOrg = 60;
};

/// Faults of the fake Close API.
struct CloseFaultOptions
{
    std::chrono::milliseconds latency { 0 }; ///< added to every Close answer
    /// 0: off; else every POST /api/v1/data/search/ is answered with this status (400, 403 or
    /// 404), for tests of a client's fallback to GET /api/v1/lead/{id}/.
    int searchRefusedStatus = 0;

    std::optional<QString> problem() const;
};

/// What Instantly leaves undocumented and the sandbox lets a test choose.
enum class SameCampaignDuplicates {
    Create, ///< the same email sent again to one campaign (skip flags off) makes a second lead
    Skip, ///< ... is not created and counts in `duplicated_leads`
};

/// Everything a sandbox is started with. Defaults are this team's real Instantly limits.
struct SandboxOptions
{
    /// Instantly's currently documented workspace limits (developer.instantly.ai rate limit).
    static constexpr int kDocumentedPerSecond = 100;
    static constexpr int kDocumentedPerMinute = 6'000;
    /// Options with Instantly's documented 100/s and 6,000/min instead of this team's plan.
    static SandboxOptions documentedInstantlyLimits();

    QString apiKey = QStringLiteral("sandbox"); ///< Instantly bearer key accepted
    QString closeApiKey = QStringLiteral("sandbox"); ///< Close Basic-auth user accepted (first)
    QStringList moreCloseApiKeys; ///< further keys of the same Close organisation
    int perSecond = 10;
    int perMinute = 600;
    bool sendRetryAfter = false; ///< Instantly does not promise Retry-After; off by default
    FaultOptions faults;
    quint32 seed = 1; ///< for the fault dice, so runs repeat
    int logCapacity = 200'000; ///< request-log entries kept

    // Instantly workspace rules the docs leave open (docs/sandbox-rules.md).
    qint64 remainingInPlan = 100'000; ///< leads the plan still allows
    QStringList blocklist; ///< emails and domains of the workspace blocklist
    SameCampaignDuplicates sameCampaignDuplicates = SameCampaignDuplicates::Create;

    // Close.
    /// Limits by endpoint group name; groups not listed get CloseGroupLimit's defaults.
    std::map<QString, CloseGroupLimit> closeLimits;
    CloseFaultOptions closeFaults;

    /// closeApiKey followed by moreCloseApiKeys.
    QStringList closeApiKeys() const;

    std::optional<QString> problem() const;
};

/// "create" / "skip", and back; nullopt for anything else.
QString toString(SameCampaignDuplicates value);
std::optional<SameCampaignDuplicates> sameCampaignDuplicatesFromString(const QString &text);

} // namespace sluice
