#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

/// What is wrong with a campaign's `campaign_schedule`: the field path under the body (Fastify
/// style, "campaign_schedule/schedules/0/timezone") and the problem.
struct ScheduleProblem
{
    std::string path;
    std::string problem;
};

/// Instantly's rules for `POST /api/v2/campaigns`'s `campaign_schedule` (docs/sandbox-rules.md):
/// a non-empty `schedules` array whose entries have `name`, `timing` {from, to} as "HH:MM",
/// `days` {"0".."6": bool} and a `timezone` from Instantly's fixed list.
std::optional<ScheduleProblem> campaignScheduleProblem(const nlohmann::json &schedule);

/// True when `timezone` is in Instantly's documented list of schedule timezones.
bool isInstantlyTimezone(std::string_view timezone);

} // namespace sluice
