#pragma once

#include <QString>

#include <nlohmann/json_fwd.hpp>

namespace sluice {

/// "a string", "an array", "null", ... for "must be X, not Y" messages about JSON input.
QString jsonTypeName(const nlohmann::json &value);

} // namespace sluice
