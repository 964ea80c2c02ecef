#pragma once

#include <nlohmann/json.hpp>

namespace sluice::test {

/// A `campaign_schedule` that Instantly (and so the sandbox) accepts: a named schedule with
/// HH:MM timings, weekday flags "0".."6" and a timezone from Instantly's fixed list.
inline nlohmann::json validCampaignSchedule()
{
    return {
        { "schedules",
          nlohmann::json::array(
              { { { "name", "Weekdays" },
                  { "timing", { { "from", "09:00" }, { "to", "17:00" } } },
                  { "days",
                    { { "1", true }, { "2", true }, { "3", true }, { "4", true }, { "5", true } } },
                  { "timezone", "America/Chicago" } } }) }
    };
}

} // namespace sluice::test
