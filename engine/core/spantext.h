#pragma once

#include <QString>

namespace sluice {

/// "42 s", "7 min", "3 h", "3 h 5 min", "2 d 4 h": a span of `ms` (negative counts as 0),
/// short enough for a table cell or a log line. The one format of every age and duration the
/// console, the CLI and the alerts show.
QString spanText(qint64 ms);

} // namespace sluice
