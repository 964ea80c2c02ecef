#include "breakerwindow.h"

#include <QList>

#include <algorithm>

namespace sluice {

namespace {

constexpr quint8 failureBit = 1;
constexpr quint8 slowBit = 2;

qint64 secondOf(std::chrono::milliseconds now)
{
    const qint64 ms = now.count();
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000); // floor, also before the origin
}

char callChar(quint8 call)
{
    static constexpr char chars[] = { '.', 'x', 's', 'X' };
    return chars[call & 3];
}

std::optional<quint8> callFromChar(char c)
{
    switch (c) {
    case '.':
        return quint8(0);
    case 'x':
        return failureBit;
    case 's':
        return slowBit;
    case 'X':
        return quint8(failureBit | slowBit);
    default:
        return std::nullopt;
    }
}

} // namespace

BreakerWindow::BreakerWindow(BreakerWindowType type, int size)
    : m_type(type)
    , m_size(std::max(size, 1))
{
    if (m_type == BreakerWindowType::CountBased)
        m_ring.assign(std::size_t(m_size), 0);
    else
        m_buckets.assign(std::size_t(m_size), Bucket {});
}

BreakerWindow BreakerWindow::fromOptions(const BreakerOptions &options)
{
    return options.windowType == BreakerWindowType::CountBased
        ? BreakerWindow(options.windowType, options.windowCalls)
        : BreakerWindow(options.windowType, int(options.windowDuration.count()));
}

void BreakerWindow::record(std::chrono::milliseconds now, bool failure, bool slow)
{
    if (m_type == BreakerWindowType::CountBased) {
        recordCount(failure, slow);
        return;
    }
    const qint64 second = secondOf(now);
    Bucket &bucket = m_buckets[slotOf(second)];
    if (bucket.calls > 0 && bucket.second > second)
        return; // the slot already holds a newer second: this call is out of the window
    if (bucket.calls == 0 || bucket.second < second)
        bucket = Bucket { second, 0, 0, 0 };
    ++bucket.calls;
    bucket.failures += failure ? 1 : 0;
    bucket.slowCalls += slow ? 1 : 0;
}

void BreakerWindow::recordCount(bool failure, bool slow)
{
    quint8 &slot = m_ring[std::size_t(m_next)];
    if (m_filled == m_size) {
        --m_totals.calls;
        m_totals.failures -= (slot & failureBit) ? 1 : 0;
        m_totals.slowCalls -= (slot & slowBit) ? 1 : 0;
    } else {
        ++m_filled;
    }
    slot = quint8((failure ? failureBit : 0) | (slow ? slowBit : 0));
    ++m_totals.calls;
    m_totals.failures += failure ? 1 : 0;
    m_totals.slowCalls += slow ? 1 : 0;
    m_next = (m_next + 1) % m_size;
}

BreakerMetrics BreakerWindow::metrics(std::chrono::milliseconds now) const
{
    if (m_type == BreakerWindowType::CountBased)
        return m_totals;
    // Newer seconds than now's count too: another instance's clock may run a little ahead.
    const qint64 oldest = secondOf(now) - m_size + 1;
    BreakerMetrics sum;
    for (const Bucket &bucket : m_buckets) {
        if (bucket.calls == 0 || bucket.second < oldest)
            continue;
        sum.calls += bucket.calls;
        sum.failures += bucket.failures;
        sum.slowCalls += bucket.slowCalls;
    }
    return sum;
}

void BreakerWindow::clear()
{
    std::fill(m_ring.begin(), m_ring.end(), quint8(0));
    m_next = 0;
    m_filled = 0;
    m_totals = {};
    std::fill(m_buckets.begin(), m_buckets.end(), Bucket {});
}

std::size_t BreakerWindow::slotOf(qint64 second) const
{
    return std::size_t(((second % m_size) + m_size) % m_size);
}

QByteArray BreakerWindow::save() const
{
    QByteArray text;
    if (m_type == BreakerWindowType::CountBased) {
        text.reserve(m_filled);
        const int oldest = (m_next - m_filled + m_size) % m_size;
        for (int i = 0; i < m_filled; ++i)
            text.append(callChar(m_ring[std::size_t((oldest + i) % m_size)]));
        return text;
    }
    std::vector<const Bucket *> used;
    for (const Bucket &bucket : m_buckets) {
        if (bucket.calls > 0)
            used.push_back(&bucket);
    }
    std::sort(used.begin(), used.end(),
              [](const Bucket *a, const Bucket *b) { return a->second < b->second; });
    for (const Bucket *bucket : used) {
        if (!text.isEmpty())
            text.append(',');
        text.append(QByteArray::number(bucket->second) + ':' + QByteArray::number(bucket->calls)
                    + ':' + QByteArray::number(bucket->failures) + ':'
                    + QByteArray::number(bucket->slowCalls));
    }
    return text;
}

std::optional<QString> BreakerWindow::restore(const QByteArray &text)
{
    BreakerWindow loaded(m_type, m_size);
    if (m_type == BreakerWindowType::CountBased) {
        // Only the newest m_size calls fit.
        const qsizetype skip = std::max<qsizetype>(0, text.size() - m_size);
        for (qsizetype i = 0; i < text.size(); ++i) {
            const std::optional<quint8> call = callFromChar(text.at(i));
            if (!call)
                return QStringLiteral("the count window holds an unknown call '%1' at %2")
                    .arg(QLatin1Char(text.at(i)))
                    .arg(i);
            if (i >= skip)
                loaded.recordCount((*call & failureBit) != 0, (*call & slowBit) != 0);
        }
        *this = std::move(loaded);
        return std::nullopt;
    }
    if (!text.isEmpty()) {
        for (const QByteArray &item : text.split(',')) {
            const QList<QByteArray> parts = item.split(':');
            bool ok[4] = {};
            if (parts.size() == 4) {
                const Bucket bucket { parts[0].toLongLong(&ok[0]), parts[1].toInt(&ok[1]),
                                      parts[2].toInt(&ok[2]), parts[3].toInt(&ok[3]) };
                if (ok[0] && ok[1] && ok[2] && ok[3] && bucket.calls > 0 && bucket.failures >= 0
                    && bucket.slowCalls >= 0 && bucket.failures <= bucket.calls
                    && bucket.slowCalls <= bucket.calls) {
                    Bucket &slot = loaded.m_buckets[loaded.slotOf(bucket.second)];
                    if (slot.calls == 0 || slot.second < bucket.second)
                        slot = bucket;
                    continue;
                }
            }
            return QStringLiteral("the time window holds an unreadable second \"%1\" (expected "
                                  "second:calls:failures:slow)")
                .arg(QString::fromLatin1(item));
        }
    }
    *this = std::move(loaded);
    return std::nullopt;
}

} // namespace sluice
