#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>

namespace sluice {

/// What a fake endpoint answers: a status and a JSON body.
struct StoreReply
{
    int status = 200;
    std::shared_ptr<const nlohmann::json> body;
};

} // namespace sluice
