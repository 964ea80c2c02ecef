#include "storereply.h"

#include <nlohmann/json.hpp>

namespace sluice {

StoreReply jsonReply(int status, nlohmann::json body)
{
    return StoreReply { status, std::make_shared<const nlohmann::json>(std::move(body)) };
}

QByteArray bodyBytes(const StoreReply &reply)
{
    return reply.body ? QByteArray::fromStdString(reply.body->dump()) : QByteArray("{}");
}

} // namespace sluice
