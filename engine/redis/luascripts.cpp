#include "luascripts.h"

#include <QFile>

namespace sluice {

QByteArray bundledLuaScript(const QString &name)
{
    QFile file(QStringLiteral(":/lua/%1.lua").arg(name));
    if (!file.open(QIODevice::ReadOnly))
        qFatal("the Lua script %s.lua is missing from the resources", qPrintable(name));
    return file.readAll();
}

} // namespace sluice
