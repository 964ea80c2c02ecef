#pragma once

#include <QVariant>

#include <nlohmann/json_fwd.hpp>

namespace sluice {

/// A flat custom-variable value (string, number, bool, null) as JSON; anything else becomes
/// its string form. Instantly accepts flat values only.
nlohmann::json variantToJson(const QVariant &value);
/// The reverse; objects and arrays become their JSON text.
QVariant jsonToVariant(const nlohmann::json &value);
/// The whole tree: objects become QVariantMap and arrays QVariantList, all the way down;
/// integers are qlonglong, null is a nullptr variant. For Qt's JSON writers (/healthz),
/// without a trip through JSON text and QJsonDocument.
QVariant jsonToVariantTree(const nlohmann::json &value);

} // namespace sluice
