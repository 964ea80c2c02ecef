#include "luascripts.h"

#include <QFile>
#include <QRegularExpression>

namespace sluice {

namespace {

QByteArray readResource(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        qFatal("the Lua script %s is missing from the resources", qPrintable(path));
    return file.readAll();
}

} // namespace

QByteArray bundledLuaScript(const QString &name)
{
    const QByteArray source = readResource(QStringLiteral(":/lua/%1.lua").arg(name));
    // Redis has no modules for EVAL scripts: a library is prepended to each script that asks
    // for it, so code shared by several scripts is written once.
    static const QRegularExpression include(QStringLiteral("^-- include: (\\w+)$"),
                                            QRegularExpression::MultilineOption);
    QByteArray prelude;
    auto it = include.globalMatch(QString::fromUtf8(source));
    while (it.hasNext())
        prelude
            += readResource(QStringLiteral(":/lua/lib/%1.lua").arg(it.next().captured(1))) + '\n';
    return prelude + source;
}

} // namespace sluice
