#pragma once

#include <QByteArray>

#include <nlohmann/json_fwd.hpp>

#include <memory>

namespace sluice {

/// What a fake endpoint answers: a status and a JSON body.
struct StoreReply
{
    int status = 200;
    std::shared_ptr<const nlohmann::json> body;
};

/// A reply with this status and body.
StoreReply jsonReply(int status, nlohmann::json body);
/// The reply's body as bytes to send ("{}" when it has none).
QByteArray bodyBytes(const StoreReply &reply);

} // namespace sluice
