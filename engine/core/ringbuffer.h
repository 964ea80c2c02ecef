#pragma once

#include <cstddef>
#include <vector>

namespace sluice {

/// The newest `capacity` values, oldest first: what the console keeps of a day of samples
/// without its memory growing.
template<typename T> class RingBuffer
{
public:
    explicit RingBuffer(size_t capacity)
        : m_items(capacity ? capacity : 1)
    { }

    void push(T value)
    {
        m_items[(m_start + m_size) % m_items.size()] = std::move(value);
        if (m_size < m_items.size())
            ++m_size;
        else
            m_start = (m_start + 1) % m_items.size();
    }
    size_t size() const { return m_size; }
    size_t capacity() const { return m_items.size(); }
    bool empty() const { return m_size == 0; }
    /// 0 is the oldest kept value.
    const T &at(size_t i) const { return m_items[(m_start + i) % m_items.size()]; }
    const T &back() const { return at(m_size - 1); }
    void clear()
    {
        m_start = 0;
        m_size = 0;
    }

private:
    std::vector<T> m_items;
    size_t m_start = 0;
    size_t m_size = 0;
};

} // namespace sluice
