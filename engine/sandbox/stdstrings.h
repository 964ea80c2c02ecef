#pragma once

#include <QDateTime>
#include <QString>
#include <QUuid>

#include <string>

/// The sandbox keeps its state as nlohmann::json, whose strings are std::string: these
/// conversions are shared by its stores (one copy each before; a unity build joins them).
namespace sluice::sandboxtext {

inline QString qs(const std::string &s)
{
    return QString::fromStdString(s);
}

inline std::string nowIso()
{
    return QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs).toStdString();
}

inline std::string newId()
{
    return QUuid::createUuid().toString(QUuid::WithoutBraces).toStdString();
}

} // namespace sluice::sandboxtext
