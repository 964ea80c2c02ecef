#pragma once

#include <QByteArray>
#include <QList>
#include <QMutex>
#include <QPair>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace sluice {

/// Label name/value pairs of one series, in the order they are rendered.
using MetricLabels = QList<QPair<QByteArray, QByteArray>>;

/// A count that only goes up. Lock-free; safe to bump from any thread.
class MetricCounter
{
public:
    void increment(qint64 by = 1) { m_value.fetch_add(by, std::memory_order_relaxed); }
    qint64 value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<qint64> m_value { 0 };
};

/// A value that goes up and down. Lock-free; safe from any thread.
class MetricGauge
{
public:
    void set(double value) { m_value.store(value, std::memory_order_relaxed); }
    void add(double delta);
    double value() const { return m_value.load(std::memory_order_relaxed); }

private:
    std::atomic<double> m_value { 0 };
};

/// Observations counted into fixed buckets (upper bounds, ascending; +Inf is implicit).
/// Lock-free; safe from any thread.
class MetricHistogram
{
public:
    explicit MetricHistogram(std::vector<double> upperBounds);

    void observe(double value);
    const std::vector<double> &upperBounds() const { return m_bounds; }
    /// Observations <= upperBounds()[index] (cumulative, as Prometheus renders them);
    /// index == upperBounds().size() is +Inf, i.e. count().
    qint64 cumulativeCount(size_t index) const;
    qint64 count() const { return m_count.load(std::memory_order_relaxed); }
    double sum() const { return m_sum.load(std::memory_order_relaxed); }

private:
    std::vector<double> m_bounds;
    std::unique_ptr<std::atomic<qint64>[]> m_buckets; ///< per bucket, not cumulative
    std::atomic<qint64> m_count { 0 };
    std::atomic<double> m_sum { 0 };
};

/// A Prometheus registry: metric families by name, series by labels, rendered in the text
/// exposition format (version 0.0.4) for GET /metrics. Every part registers what it counts
/// here (the intake, later the dispatcher, limiter and breaker), so one page shows all.
///
/// Registering returns a reference that stays valid as long as the registry: look a series up
/// once and keep it, so the hot path only does an atomic increment. Registering the same name
/// and labels again returns the same series; the same name with another kind is a programming
/// mistake and aborts.
class Metrics
{
public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics &) = delete;
    Metrics &operator=(const Metrics &) = delete;

    MetricCounter &counter(const QByteArray &name, const QByteArray &help,
                           const MetricLabels &labels = {});
    MetricGauge &gauge(const QByteArray &name, const QByteArray &help,
                       const MetricLabels &labels = {});
    /// The bounds of the first registration of a family are used for all its series.
    MetricHistogram &histogram(const QByteArray &name, const QByteArray &help,
                               const std::vector<double> &upperBounds,
                               const MetricLabels &labels = {});
    /// A gauge read when the page is rendered (queue depth, connection state). `read` runs on
    /// the thread that calls render(), with the registry locked: keep it quick, and do not
    /// register metrics from inside it.
    void addGaugeCallback(const QByteArray &name, const QByteArray &help,
                          std::function<double()> read, const MetricLabels &labels = {});

    /// The whole registry in the text format, families in registration order.
    QByteArray render() const;

    /// Buckets for latencies in seconds, 0.5 ms to 30 s.
    static std::vector<double> latencyBuckets();

private:
    enum class Kind { Counter, Gauge, Histogram };
    struct Series;
    struct Family;
    Series &series(const QByteArray &name, const QByteArray &help, Kind kind,
                   const MetricLabels &labels, const std::vector<double> &upperBounds = {});

    mutable QMutex m_mutex;
    std::vector<std::unique_ptr<Family>> m_families;
};

} // namespace sluice
