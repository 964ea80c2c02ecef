#pragma once

/// How log lines look: one line per event, with time and level, greppable; or one JSON object
/// per line for log shippers.
enum class LogStyle { Text, Json };

/// Installs the Qt message handler that writes every qDebug/qInfo/qWarning/qCritical line to
/// stderr in `style`.
void installLogHandler(LogStyle style);
