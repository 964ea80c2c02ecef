#pragma once

#include <QByteArray>
#include <QString>

namespace sluice {

/// The source of a Lua script shipped in resources/lua/ (compiled into the engine), by name
/// without the extension: "limiter_acquire". A missing one is a build mistake and aborts.
/// Each line "-- include: <lib>" in it prepends resources/lua/lib/<lib>.lua.
QByteArray bundledLuaScript(const QString &name);

} // namespace sluice
