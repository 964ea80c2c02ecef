#pragma once

#include "instantly/instantlyclient.h"

#include <optional>

namespace sluice::test {

/// Captures the result of an asynchronous API call, for QTRY_VERIFY(c.done()).
template<typename T> class Captured
{
public:
    ApiCallback<T> callback()
    {
        return [this](Result<T, ApiResult> r) { m_result.emplace(std::move(r)); };
    }
    bool done() const { return m_result.has_value(); }
    bool ok() const { return m_result && m_result->ok(); }
    const T &value() const { return m_result->value(); }
    const ApiResult &error() const { return m_result->error(); }
    /// For QVERIFY2 messages, which are evaluated even when the check passes.
    QString describe() const
    {
        if (!m_result)
            return QStringLiteral("no result yet");
        return m_result->ok() ? QStringLiteral("ok") : m_result->error().describe();
    }
    void reset() { m_result.reset(); }

private:
    std::optional<Result<T, ApiResult>> m_result;
};

} // namespace sluice::test
