#pragma once

#include "breakeroptions.h"

#include <QByteArray>
#include <QString>

#include <chrono>
#include <optional>
#include <vector>

namespace sluice {

/// What a sliding window holds at one moment.
struct BreakerMetrics
{
    int calls = 0;
    int failures = 0;
    int slowCalls = 0; ///< successes and failures that took slowCallDuration or longer

    double failureRatePercent() const { return calls > 0 ? 100.0 * failures / calls : 0.0; }
    double slowCallRatePercent() const { return calls > 0 ? 100.0 * slowCalls / calls : 0.0; }
    bool operator==(const BreakerMetrics &) const = default;
};

/// The circuit breaker's sliding window, in bounded memory: a ring of the last N calls
/// (count-based), or a ring of N one-second aggregates (time-based; second s holds the calls
/// recorded in [s × 1000, s × 1000 + 999] ms, and the window at `now` is the N seconds up to
/// and including now's). Pure data, no clock of its own.
class BreakerWindow
{
public:
    /// `size` is calls (count-based) or seconds (time-based), at least 1.
    BreakerWindow(BreakerWindowType type, int size);
    static BreakerWindow fromOptions(const BreakerOptions &options);

    /// One counted call that ended at `now`. A time-based window drops a call older than the
    /// data already in its slot (only possible when clocks disagree).
    void record(std::chrono::milliseconds now, bool failure, bool slow);
    /// The calls in the window at `now` (a count window ignores `now`).
    BreakerMetrics metrics(std::chrono::milliseconds now) const;
    void clear();

    BreakerWindowType type() const { return m_type; }
    int size() const { return m_size; }

    /// A compact text form, readable in redis-cli. Count-based: one character per call, oldest
    /// first: '.' success, 's' slow success, 'x' failure, 'X' slow failure. Time-based:
    /// "second:calls:failures:slow" per non-empty second, ascending, joined by ','.
    QByteArray save() const;
    /// Loads what save() wrote, even for another window size: a smaller count window keeps the
    /// newest calls, a time window keeps the newest second of each slot. On a malformed text it
    /// says why and leaves the window unchanged.
    std::optional<QString> restore(const QByteArray &text);

private:
    struct Bucket
    {
        qint64 second = 0;
        int calls = 0; ///< 0: the slot is empty, whatever `second` says
        int failures = 0;
        int slowCalls = 0;
    };

    void recordCount(bool failure, bool slow);
    std::size_t slotOf(qint64 second) const;

    BreakerWindowType m_type;
    int m_size;
    // count-based
    std::vector<quint8> m_ring; ///< bit 0: failure, bit 1: slow
    int m_next = 0; ///< where the next call goes
    int m_filled = 0;
    BreakerMetrics m_totals; ///< of the ring, kept up to date
    // time-based
    std::vector<Bucket> m_buckets;
};

} // namespace sluice
