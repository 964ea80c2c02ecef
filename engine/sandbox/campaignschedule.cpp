#include "campaignschedule.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iterator>
#include <regex>

namespace sluice {

using json = nlohmann::json;

namespace {

// Instantly API v2, campaign_schedule.schedules[].timezone: the enum published in
// https://api.instantly.ai/openapi/api_v2.json, in Instantly's order. Not IANA's full list:
// there is no America/New_York, no Etc/UTC and no UTC.
constexpr std::string_view kTimezones[] = {
    "Etc/GMT+12",
    "Etc/GMT+11",
    "Etc/GMT+10",
    "America/Anchorage",
    "America/Dawson",
    "America/Creston",
    "America/Chihuahua",
    "America/Boise",
    "America/Belize",
    "America/Chicago",
    "America/Bahia_Banderas",
    "America/Regina",
    "America/Bogota",
    "America/Detroit",
    "America/Indiana/Marengo",
    "America/Caracas",
    "America/Asuncion",
    "America/Glace_Bay",
    "America/Campo_Grande",
    "America/Anguilla",
    "America/Santiago",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/La_Rioja",
    "America/Araguaina",
    "America/Godthab",
    "America/Montevideo",
    "America/Bahia",
    "America/Noronha",
    "America/Scoresbysund",
    "Atlantic/Cape_Verde",
    "Africa/Casablanca",
    "America/Danmarkshavn",
    "Europe/Isle_of_Man",
    "Atlantic/Canary",
    "Africa/Abidjan",
    "Arctic/Longyearbyen",
    "Europe/Belgrade",
    "Africa/Ceuta",
    "Europe/Sarajevo",
    "Africa/Algiers",
    "Africa/Windhoek",
    "Asia/Nicosia",
    "Asia/Beirut",
    "Africa/Cairo",
    "Asia/Damascus",
    "Europe/Bucharest",
    "Africa/Blantyre",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Asia/Jerusalem",
    "Africa/Tripoli",
    "Asia/Amman",
    "Asia/Baghdad",
    "Europe/Kaliningrad",
    "Asia/Aden",
    "Africa/Addis_Ababa",
    "Europe/Kirov",
    "Europe/Astrakhan",
    "Asia/Tehran",
    "Asia/Dubai",
    "Asia/Baku",
    "Indian/Mahe",
    "Asia/Tbilisi",
    "Asia/Yerevan",
    "Asia/Kabul",
    "Antarctica/Mawson",
    "Asia/Yekaterinburg",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Colombo",
    "Asia/Kathmandu",
    "Antarctica/Vostok",
    "Asia/Dhaka",
    "Asia/Rangoon",
    "Antarctica/Davis",
    "Asia/Novokuznetsk",
    "Asia/Hong_Kong",
    "Asia/Krasnoyarsk",
    "Asia/Brunei",
    "Australia/Perth",
    "Asia/Taipei",
    "Asia/Choibalsan",
    "Asia/Irkutsk",
    "Asia/Dili",
    "Asia/Pyongyang",
    "Australia/Adelaide",
    "Australia/Darwin",
    "Australia/Brisbane",
    "Australia/Melbourne",
    "Antarctica/DumontDUrville",
    "Australia/Currie",
    "Asia/Chita",
    "Antarctica/Macquarie",
    "Asia/Sakhalin",
    "Pacific/Auckland",
    "Etc/GMT-12",
    "Pacific/Fiji",
    "Asia/Anadyr",
    "Asia/Kamchatka",
    "Etc/GMT-13",
    "Pacific/Apia",
};

/// Instantly's documented pattern for timing.from and timing.to.
bool isHourMinute(const json &value)
{
    static const std::regex pattern("^([01][0-9]|2[0-3]):([0-5][0-9])$");
    return value.is_string() && std::regex_match(value.get<std::string>(), pattern);
}

std::optional<ScheduleProblem> scheduleEntryProblem(const json &entry, const std::string &path)
{
    if (!entry.is_object())
        return ScheduleProblem { path, "must be object" };
    for (const char *key : { "name", "timing", "days", "timezone" }) {
        if (!entry.contains(key))
            return ScheduleProblem { path,
                                     std::string("must have required property '") + key + "'" };
    }
    if (!entry["name"].is_string())
        return ScheduleProblem { path + "/name", "must be string" };
    const json &timing = entry["timing"];
    if (!timing.is_object())
        return ScheduleProblem { path + "/timing", "must be object" };
    for (const char *key : { "from", "to" }) {
        if (!timing.contains(key))
            return ScheduleProblem { path + "/timing",
                                     std::string("must have required property '") + key + "'" };
        if (!isHourMinute(timing[key]))
            return ScheduleProblem {
                path + "/timing/" + key,
                "must match pattern \"^([01][0-9]|2[0-3]):([0-5][0-9])$\"",
            };
    }
    const json &days = entry["days"];
    if (!days.is_object())
        return ScheduleProblem { path + "/days", "must be object" };
    for (auto it = days.begin(); it != days.end(); ++it) {
        const std::string &day = it.key();
        if (day.size() != 1 || day[0] < '0' || day[0] > '6')
            return ScheduleProblem { path + "/days", "must NOT have additional properties" };
        if (!it->is_boolean())
            return ScheduleProblem { path + "/days/" + day, "must be boolean" };
    }
    const json &timezone = entry["timezone"];
    if (!timezone.is_string())
        return ScheduleProblem { path + "/timezone", "must be string" };
    if (!isInstantlyTimezone(timezone.get<std::string>()))
        return ScheduleProblem { path + "/timezone", "must be equal to one of the allowed values" };
    return std::nullopt;
}

} // namespace

bool isInstantlyTimezone(std::string_view timezone)
{
    return std::find(std::begin(kTimezones), std::end(kTimezones), timezone)
        != std::end(kTimezones);
}

std::optional<ScheduleProblem> campaignScheduleProblem(const json &schedule)
{
    const std::string path = "campaign_schedule";
    if (!schedule.is_object())
        return ScheduleProblem { path, "must be object" };
    if (!schedule.contains("schedules"))
        return ScheduleProblem { path, "must have required property 'schedules'" };
    const json &schedules = schedule["schedules"];
    if (!schedules.is_array())
        return ScheduleProblem { path + "/schedules", "must be array" };
    if (schedules.empty())
        return ScheduleProblem { path + "/schedules", "must NOT have fewer than 1 items" };
    for (size_t i = 0; i < schedules.size(); ++i) {
        if (auto problem
            = scheduleEntryProblem(schedules[i], path + "/schedules/" + std::to_string(i)))
            return problem;
    }
    return std::nullopt;
}

} // namespace sluice
