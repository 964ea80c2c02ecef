#pragma once

#include <QtGlobal>

#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <deque>
#include <optional>

namespace sluice {

/// One reading of the fleet, as Redis knows it: counters only grow (they are totals since
/// some start), the rest are levels at `atMs`.
struct ForecastSample
{
    qint64 backlog = 0; ///< leads not yet settled: in the stream, coalescing, on the wire
    qint64 settledTotal = 0; ///< leads settled (delivered, skipped, dead, parked), ever
    qint64 requestsTotal = 0; ///< lead requests that left for Instantly, fleet-wide, ever
    qint64 rateLimitedTotal = 0; ///< of those, answered 429, ever
    double effectivePerSecond = 0; ///< the limiter's current pace (after any 429 slow-down)
    int capPerMinute = 0; ///< the per-minute cap; 0 when there is none
};

/// What the operator is told about the backlog and the budget.
struct Forecast
{
    qint64 backlog = 0;
    /// Leads per second the backlog drains at: what was settled over the window, or, before
    /// there is a window or while nothing settles, the limiter's pace times the leads a
    /// request has been carrying.
    double drainPerSecond = 0;
    bool drainMeasured = false; ///< drainPerSecond is measured, not the pace's promise
    /// Until the last lead of today's backlog is settled; nullopt when nothing drains it.
    std::optional<std::chrono::milliseconds> timeToDrain;
    std::optional<qint64> lastLeadAtMs; ///< when, on the caller's clock
    /// Requests the per-minute cap still allows in the minute ending now (nullopt: no cap).
    std::optional<int> budgetLeftThisMinute;
    /// 429s within the window that our own pace cannot explain: they came while the fleet's
    /// own requests in the minute before them were under the cap. Someone else is spending
    /// the workspace's budget.
    qint64 unexplained429 = 0;
};

/// A forecast as `sluice status` and /healthz show it: snake_case fields, times in Unix ms,
/// null where nothing can be said yet.
nlohmann::json forecastJson(const Forecast &forecast);

/// Backlog and budget forecasts from samples on an injected clock: pure arithmetic, like the
/// breaker and GCRA, so it is tested with a stepped clock. Samples older than the window are
/// dropped; feed one every second or so.
class Forecaster
{
public:
    explicit Forecaster(std::chrono::milliseconds window = std::chrono::seconds { 60 });

    void add(qint64 atMs, const ForecastSample &sample);
    Forecast forecast() const;

    /// Whether the backlog will not drain within `limit` at today's rate: the `drain_slow`
    /// condition. False while there is no backlog.
    static bool drainsTooSlowly(const Forecast &forecast, std::chrono::milliseconds limit);

private:
    struct Point
    {
        qint64 atMs = 0;
        ForecastSample sample;
        qint64 unexplained429 = 0; ///< of the 429s since the point before
    };
    qint64 requestsInMinuteBefore(qint64 atMs, qint64 requestsNow) const;

    std::chrono::milliseconds m_window;
    std::deque<Point> m_points;
};

} // namespace sluice
