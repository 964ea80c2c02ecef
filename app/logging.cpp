#include "logging.h"

#include <QDateTime>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace {

LogStyle g_style = LogStyle::Text;

const char *levelName(QtMsgType type)
{
    switch (type) {
    case QtDebugMsg:
        return "DEBUG";
    case QtInfoMsg:
        return "INFO";
    case QtWarningMsg:
        return "WARN";
    case QtCriticalMsg:
        return "ERROR";
    case QtFatalMsg:
        return "FATAL";
    }
    return "INFO";
}

void handler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QString time = QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs);
    QByteArray line;
    if (g_style == LogStyle::Json) {
        QJsonObject o { { QStringLiteral("ts"), time },
                        { QStringLiteral("level"), QLatin1String(levelName(type)) },
                        { QStringLiteral("msg"), message } };
        if (context.category && qstrcmp(context.category, "default") != 0)
            o.insert(QStringLiteral("category"), QLatin1String(context.category));
        line = QJsonDocument(o).toJson(QJsonDocument::Compact);
    } else {
        line = time.toUtf8() + ' ' + levelName(type) + ' ';
        if (context.category && qstrcmp(context.category, "default") != 0)
            line += QByteArray(context.category) + ": ";
        line += message.toUtf8();
    }
    line += '\n';
    std::fwrite(line.constData(), 1, size_t(line.size()), stderr);
    std::fflush(stderr);
}

} // namespace

void installLogHandler(LogStyle style)
{
    g_style = style;
    qInstallMessageHandler(handler);
}
