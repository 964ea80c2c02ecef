#include "jsonvariant.h"

#include "jsontext.h"

#include <nlohmann/json.hpp>

namespace sluice {

nlohmann::json variantToJson(const QVariant &v)
{
    switch (v.typeId()) {
    case QMetaType::UnknownType:
    case QMetaType::Nullptr:
        return nullptr;
    case QMetaType::Bool:
        return v.toBool();
    case QMetaType::Int:
    case QMetaType::LongLong:
    case QMetaType::UInt:
    case QMetaType::ULongLong:
        return v.toLongLong();
    case QMetaType::Double:
    case QMetaType::Float:
        return v.toDouble();
    case QMetaType::QVariantMap: {
        nlohmann::json object = nlohmann::json::object();
        const QVariantMap map = v.toMap();
        for (auto it = map.cbegin(); it != map.cend(); ++it)
            object[it.key().toStdString()] = variantToJson(it.value());
        return object;
    }
    case QMetaType::QVariantList:
    case QMetaType::QStringList: {
        nlohmann::json array = nlohmann::json::array();
        for (const QVariant &item : v.toList())
            array.push_back(variantToJson(item));
        return array;
    }
    default:
        return v.toString().toStdString();
    }
}

QVariant jsonToVariant(const nlohmann::json &j)
{
    if (j.is_boolean())
        return j.get<bool>();
    if (j.is_number_integer())
        return qlonglong(j.get<qint64>());
    if (j.is_number())
        return j.get<double>();
    if (j.is_string())
        return QString::fromStdString(j.get<std::string>());
    if (j.is_null())
        return QVariant::fromValue(nullptr);
    return QString::fromStdString(jsonText(j));
}

QVariant jsonToVariantTree(const nlohmann::json &j)
{
    if (j.is_object()) {
        QVariantMap map;
        for (auto it = j.cbegin(); it != j.cend(); ++it)
            map.insert(QString::fromStdString(it.key()), jsonToVariantTree(*it));
        return map;
    }
    if (j.is_array()) {
        QVariantList list;
        list.reserve(qsizetype(j.size()));
        for (const nlohmann::json &item : j)
            list.append(jsonToVariantTree(item));
        return list;
    }
    return jsonToVariant(j);
}

} // namespace sluice
