// `sluice` / `sluice gui` in a build without the console (-DSLUICE_BUILD_UI=OFF): says so and
// points at the headless commands, which this build has in full.
#include "commands.h"

#include <QTextStream>

int runGuiCommand(int &, char **, const QStringList &args)
{
    const bool help
        = args.contains(QStringLiteral("--help")) || args.contains(QStringLiteral("-h"));
    QTextStream(help ? stdout : stderr)
        << "sluice: this build has no console (built with -DSLUICE_BUILD_UI=OFF).\n"
           "Run it headless: `sluice serve` (the listener and the dispatchers), `sluice worker`,\n"
           "`sluice loadtest`; `sluice --help` lists every command.\n";
    return help ? 0 : 2;
}
