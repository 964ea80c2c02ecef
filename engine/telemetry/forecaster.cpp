#include "forecaster.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace sluice {

using std::chrono::milliseconds;

namespace {

constexpr qint64 kMinuteMs = 60'000;
/// Less than this much history is not a measurement of the drain rate yet.
constexpr qint64 kMinSpanMs = 5'000;

} // namespace

Forecaster::Forecaster(milliseconds window)
    : m_window(std::max(window, milliseconds { kMinSpanMs }))
{ }

qint64 Forecaster::requestsInMinuteBefore(qint64 atMs, qint64 requestsNow) const
{
    // The oldest point within the minute: before a minute of history, the requests since the
    // first sample (the budget left is then an upper bound).
    for (const Point &p : m_points)
        if (p.atMs >= atMs - kMinuteMs)
            return std::max<qint64>(0, requestsNow - p.sample.requestsTotal);
    return 0;
}

void Forecaster::add(qint64 atMs, const ForecastSample &sample)
{
    Point point { atMs, sample, 0 };
    if (!m_points.empty()) {
        const Point &last = m_points.back();
        if (atMs < last.atMs)
            return; // a clock that went back: the next sample after it counts
        if (sample.settledTotal < last.sample.settledTotal
            || sample.requestsTotal < last.sample.requestsTotal
            || sample.rateLimitedTotal < last.sample.rateLimitedTotal) {
            m_points.clear(); // counters were reset (a new namespace, a flushed Redis)
        } else {
            const qint64 new429 = sample.rateLimitedTotal - last.sample.rateLimitedTotal;
            if (new429 > 0 && sample.capPerMinute > 0
                && requestsInMinuteBefore(atMs, sample.requestsTotal) < sample.capPerMinute)
                point.unexplained429 = new429;
        }
    }
    m_points.push_back(point);
    const qint64 keep = std::max<qint64>(m_window.count(), kMinuteMs);
    while (m_points.size() > 1 && m_points.front().atMs < atMs - keep)
        m_points.pop_front();
}

Forecast Forecaster::forecast() const
{
    Forecast f;
    if (m_points.empty())
        return f;
    const Point &last = m_points.back();
    f.backlog = last.sample.backlog;

    // The window's first point, and what was settled and sent since.
    const Point *first = &last;
    for (const Point &p : m_points) {
        if (p.atMs >= last.atMs - m_window.count()) {
            first = &p;
            break;
        }
    }
    const qint64 span = last.atMs - first->atMs;
    const qint64 settled = last.sample.settledTotal - first->sample.settledTotal;
    const qint64 requests = last.sample.requestsTotal - first->sample.requestsTotal;
    if (span >= kMinSpanMs && settled > 0) {
        f.drainPerSecond = double(settled) * 1000.0 / double(span);
        f.drainMeasured = true;
    } else {
        const double leadsPerRequest
            = requests > 0 && settled > 0 ? std::max(1.0, double(settled) / double(requests)) : 1.0;
        f.drainPerSecond = std::max(0.0, last.sample.effectivePerSecond) * leadsPerRequest;
    }
    if (f.backlog <= 0)
        f.timeToDrain = milliseconds { 0 };
    else if (f.drainPerSecond > 0)
        f.timeToDrain
            = milliseconds { qint64(std::ceil(double(f.backlog) * 1000.0 / f.drainPerSecond)) };
    if (f.timeToDrain)
        f.lastLeadAtMs = last.atMs + f.timeToDrain->count();

    if (last.sample.capPerMinute > 0)
        f.budgetLeftThisMinute = int(
            std::max<qint64>(0,
                             last.sample.capPerMinute
                                 - requestsInMinuteBefore(last.atMs, last.sample.requestsTotal)));
    for (const Point &p : m_points)
        if (p.atMs > last.atMs - m_window.count())
            f.unexplained429 += p.unexplained429;
    return f;
}

bool Forecaster::drainsTooSlowly(const Forecast &forecast, milliseconds limit)
{
    if (forecast.backlog <= 0)
        return false;
    return !forecast.timeToDrain || *forecast.timeToDrain > limit;
}

nlohmann::json forecastJson(const Forecast &forecast)
{
    auto orNull = [](const auto &value) {
        return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
    };
    return {
        { "backlog", forecast.backlog },
        { "drain_per_second", forecast.drainPerSecond },
        { "drain_measured", forecast.drainMeasured },
        { "time_to_drain_ms",
          forecast.timeToDrain ? nlohmann::json(qint64(forecast.timeToDrain->count()))
                               : nlohmann::json(nullptr) },
        { "last_lead_at_ms", orNull(forecast.lastLeadAtMs) },
        { "budget_left_this_minute", orNull(forecast.budgetLeftThisMinute) },
        { "unexplained_429", forecast.unexplained429 },
    };
}

} // namespace sluice
