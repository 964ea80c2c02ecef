#include "metrics.h"

#include <QMutexLocker>

#include <algorithm>
#include <cmath>

namespace sluice {

namespace {

QByteArray escapeLabelValue(const QByteArray &value)
{
    QByteArray out;
    out.reserve(value.size());
    for (const char c : value) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

QByteArray escapeHelp(const QByteArray &help)
{
    QByteArray out = help;
    out.replace("\\", "\\\\");
    out.replace("\n", "\\n");
    return out;
}

/// `a="x",b="y"` (no braces), the identity of a series within its family.
QByteArray renderLabels(const MetricLabels &labels)
{
    QByteArray out;
    for (const auto &[key, value] : labels) {
        if (!out.isEmpty())
            out += ',';
        out += key + "=\"" + escapeLabelValue(value) + '"';
    }
    return out;
}

QByteArray number(double value)
{
    if (std::isnan(value))
        return "NaN";
    if (std::isinf(value))
        return value > 0 ? "+Inf" : "-Inf";
    return QByteArray::number(value, 'g', 15);
}

/// name{labels} or name{labels,extra}, or the bare name.
QByteArray seriesName(const QByteArray &name, const QByteArray &labels,
                      const QByteArray &extra = {})
{
    if (labels.isEmpty() && extra.isEmpty())
        return name;
    QByteArray out = name + '{' + labels;
    if (!labels.isEmpty() && !extra.isEmpty())
        out += ',';
    return out + extra + '}';
}

void atomicAdd(std::atomic<double> &target, double delta)
{
    double current = target.load(std::memory_order_relaxed);
    while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) { }
}

} // namespace

void MetricGauge::add(double delta)
{
    atomicAdd(m_value, delta);
}

MetricHistogram::MetricHistogram(std::vector<double> upperBounds)
    : m_bounds(std::move(upperBounds))
    , m_buckets(new std::atomic<qint64>[m_bounds.size() + 1])
{
    std::sort(m_bounds.begin(), m_bounds.end());
    for (size_t i = 0; i <= m_bounds.size(); ++i)
        m_buckets[i].store(0, std::memory_order_relaxed);
}

void MetricHistogram::observe(double value)
{
    const auto it = std::lower_bound(m_bounds.begin(), m_bounds.end(), value);
    m_buckets[size_t(it - m_bounds.begin())].fetch_add(1, std::memory_order_relaxed);
    m_count.fetch_add(1, std::memory_order_relaxed);
    atomicAdd(m_sum, value);
}

qint64 MetricHistogram::cumulativeCount(size_t index) const
{
    qint64 total = 0;
    for (size_t i = 0; i <= std::min(index, m_bounds.size()); ++i)
        total += m_buckets[i].load(std::memory_order_relaxed);
    return total;
}

struct Metrics::Series
{
    QByteArray labels; ///< rendered, see renderLabels()
    MetricCounter counter;
    MetricGauge gauge;
    std::unique_ptr<MetricHistogram> histogram;
    std::function<double()> read;
};

struct Metrics::Family
{
    QByteArray name;
    QByteArray help;
    Kind kind = Kind::Counter;
    std::vector<double> upperBounds;
    std::vector<std::unique_ptr<Series>> series;
};

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::Series &Metrics::series(const QByteArray &name, const QByteArray &help, Kind kind,
                                 const MetricLabels &labels, const std::vector<double> &upperBounds)
{
    const QByteArray key = renderLabels(labels);
    QMutexLocker lock(&m_mutex);
    auto family = std::find_if(m_families.begin(), m_families.end(),
                               [&](const auto &f) { return f->name == name; });
    if (family == m_families.end()) {
        auto created = std::make_unique<Family>();
        created->name = name;
        created->help = help;
        created->kind = kind;
        created->upperBounds = upperBounds;
        m_families.push_back(std::move(created));
        family = m_families.end() - 1;
    } else if ((*family)->kind != kind) {
        qFatal("metric %s registered twice with different kinds", name.constData());
    }
    Family &f = **family;
    for (const auto &s : f.series) {
        if (s->labels == key)
            return *s;
    }
    auto s = std::make_unique<Series>();
    s->labels = key;
    if (kind == Kind::Histogram)
        s->histogram = std::make_unique<MetricHistogram>(f.upperBounds);
    f.series.push_back(std::move(s));
    return *f.series.back();
}

MetricCounter &Metrics::counter(const QByteArray &name, const QByteArray &help,
                                const MetricLabels &labels)
{
    return series(name, help, Kind::Counter, labels).counter;
}

MetricGauge &Metrics::gauge(const QByteArray &name, const QByteArray &help,
                            const MetricLabels &labels)
{
    return series(name, help, Kind::Gauge, labels).gauge;
}

MetricHistogram &Metrics::histogram(const QByteArray &name, const QByteArray &help,
                                    const std::vector<double> &upperBounds,
                                    const MetricLabels &labels)
{
    return *series(name, help, Kind::Histogram, labels, upperBounds).histogram;
}

void Metrics::addGaugeCallback(const QByteArray &name, const QByteArray &help,
                               std::function<double()> read, const MetricLabels &labels)
{
    Series &s = series(name, help, Kind::Gauge, labels);
    QMutexLocker lock(&m_mutex);
    s.read = std::move(read);
}

QByteArray Metrics::render() const
{
    QByteArray out;
    out.reserve(4096);
    QMutexLocker lock(&m_mutex);
    for (const auto &family : m_families) {
        const QByteArray &name = family->name;
        out += "# HELP " + name + ' ' + escapeHelp(family->help) + '\n';
        switch (family->kind) {
        case Kind::Counter:
            out += "# TYPE " + name + " counter\n";
            for (const auto &s : family->series)
                out += seriesName(name, s->labels) + ' ' + QByteArray::number(s->counter.value())
                    + '\n';
            break;
        case Kind::Gauge:
            out += "# TYPE " + name + " gauge\n";
            for (const auto &s : family->series)
                out += seriesName(name, s->labels) + ' '
                    + number(s->read ? s->read() : s->gauge.value()) + '\n';
            break;
        case Kind::Histogram:
            out += "# TYPE " + name + " histogram\n";
            for (const auto &s : family->series) {
                const MetricHistogram &h = *s->histogram;
                const QByteArray bucket = name + "_bucket";
                for (size_t i = 0; i < h.upperBounds().size(); ++i)
                    out += seriesName(bucket, s->labels, "le=\"" + number(h.upperBounds()[i]) + '"')
                        + ' ' + QByteArray::number(h.cumulativeCount(i)) + '\n';
                // Read count once so +Inf and _count agree even while others observe.
                const qint64 count = h.cumulativeCount(h.upperBounds().size());
                out += seriesName(bucket, s->labels, "le=\"+Inf\"") + ' '
                    + QByteArray::number(count) + '\n';
                out += seriesName(name + "_sum", s->labels) + ' ' + number(h.sum()) + '\n';
                out += seriesName(name + "_count", s->labels) + ' ' + QByteArray::number(count)
                    + '\n';
            }
            break;
        }
    }
    return out;
}

std::vector<double> Metrics::latencyBuckets()
{
    return { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
}

} // namespace sluice
