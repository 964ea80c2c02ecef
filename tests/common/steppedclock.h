#pragma once

#include "core/clock.h"

namespace sluice::test {

/// A Unix-epoch-based clock that only moves when told to: what shared (Redis) state needs,
/// since its times are compared across processes.
class SteppedClock final : public Clock
{
public:
    Duration now() const override { return m_now; }
    void advance(Duration d) { m_now += d; }

private:
    Duration m_now { 1'700'000'000'000 };
};

} // namespace sluice::test
