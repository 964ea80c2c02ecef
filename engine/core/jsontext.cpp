#include "jsontext.h"

#include <nlohmann/json.hpp>

namespace sluice {

nlohmann::json parseJson(QByteArrayView text)
{
    return nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
}

nlohmann::json parseJsonOrThrow(QByteArrayView text)
{
    return nlohmann::json::parse(text.begin(), text.end());
}

std::string jsonText(const nlohmann::json &value, int indent, BadUtf8 bad)
{
    return value.dump(indent, ' ', false,
                      bad == BadUtf8::Replace ? nlohmann::json::error_handler_t::replace
                                              : nlohmann::json::error_handler_t::strict);
}

QByteArray jsonBytes(const nlohmann::json &value, int indent, BadUtf8 bad)
{
    return QByteArray::fromStdString(jsonText(value, indent, bad));
}

} // namespace sluice
