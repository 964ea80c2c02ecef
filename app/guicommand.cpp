// `sluice` / `sluice gui`: the operator console with the engine embedded.
#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "consolesettings.h"
#include "local/localengine.h"
#include "mainwindow.h"

#include <QApplication>
#include <QDir>
#include <QIcon>
#include <QMessageBox>
#include <QSettings>
#include <QTextStream>

using namespace sluice;

namespace {

/// --live, --sandbox and every serve flag (the console embeds serve's engine).
FlagTable guiFlags()
{
    FlagTable table(
        QStringLiteral("gui"), QStringLiteral("sluice [gui] [--live] [serve options]"),
        QStringLiteral(
            "Opens the operator console with the engine embedded: the webhook listener, the\n"
            "dispatchers, the shared limiter and breaker, load tests.\n\n"
            "Without --live it runs in SANDBOX mode: an embedded fake Instantly and Close with "
            "the\nreal limits, and a private Redis, so nothing leaves this machine. --live "
            "needs\nINSTANTLY_API_KEY and sends real leads (the console asks before every load "
            "test)."));
    table.add(FlagSpec::toggle(QStringLiteral("live"),
                               QStringLiteral("the real Instantly and Close, not the sandbox")));
    table.add(FlagSpec::toggle(QStringLiteral("sandbox"),
                               QStringLiteral("SANDBOX mode even when the saved settings say "
                                              "live")));
    table.add(serveFlagSpecs(false));
    table.setOptionsHeading(QStringLiteral("Options (each serve option also an environment "
                                           "variable; saved settings apply under them)"));
    return table;
}

bool haveDisplay()
{
    const QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    return env.contains(QStringLiteral("DISPLAY"))
        || env.contains(QStringLiteral("WAYLAND_DISPLAY"))
        || env.contains(QStringLiteral("QT_QPA_PLATFORM"));
}

/// One console: the engine from the saved settings (under the command line and the
/// environment) and its window, until the window closes or asks for a restart.
int runConsoleOnce(const QStringList &rest, bool &restart)
{
    QTextStream err(stderr);
    // Saved settings under the command line: flags and the environment win.
    QSettings store;
    const ConsoleSettings saved = ConsoleSettings::load(store);
    auto read = guiFlags().parse(saved.arguments(rest),
                                 saved.environment(QProcessEnvironment::systemEnvironment()));
    const bool live = read.ok()
        && (read->isOn(QStringLiteral("live"))
            || (saved.live && !read->isOn(QStringLiteral("sandbox"))));
    // The sandbox keeps its keys apart from a live namespace unless told otherwise.
    if (read.ok() && !live)
        read.value().setFallback(QStringLiteral("namespace"), QStringLiteral("sandbox"));
    auto serve = read.ok() ? serveOptionsFrom(read.value(), false)
                           : Result<ServeOptions, QString>(read.error());
    if (serve.ok() && !live)
        serve.value().instantlyApiKey = QStringLiteral("sandbox");
    if (!serve.ok()) {
        err << "sluice: " << serve.error() << "\n";
        QMessageBox::critical(nullptr, QStringLiteral("Sluice"),
                              QObject::tr("The settings cannot run: %1").arg(serve.error()));
        return 2;
    }

    LocalEngineOptions options;
    options.serve = serve.value();
    options.sandbox = !live;
    options.anyPortIfTaken = !rest.contains(QStringLiteral("--listen"))
        && !saved.flags.contains(QStringLiteral("listen"));
    options.recordWebhooks = 1000; // the inspector's history
    options.dataDir = options.serve.dataDir.isEmpty() ? defaultDataDir() : options.serve.dataDir;
    LocalEngine engine(options);
    if (auto problem = engine.start()) {
        QMessageBox::critical(nullptr, QStringLiteral("Sluice"),
                              QObject::tr("The engine cannot start: %1").arg(*problem));
        err << "sluice: " << *problem << "\n";
        return 1;
    }
    int code = 0;
    {
        MainWindow window(&engine, live);
        QObject::connect(&window, &MainWindow::restartRequested, &window, [&restart] {
            restart = true;
            QApplication::exit(0);
        });
        window.show();
        code = QApplication::exec();
    }
    engine.stop(std::chrono::seconds { 10 });
    return code;
}

} // namespace

int runGuiCommand(int &argc, char **argv, const QStringList &args)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (args.contains(QStringLiteral("--help")) || args.contains(QStringLiteral("-h"))) {
        out << guiFlags().helpText();
        return 0;
    }
    const QStringList rest = args.mid(1);
    if (!haveDisplay()) {
        err << "sluice: no display for the console (DISPLAY and WAYLAND_DISPLAY are unset).\n"
               "Headless, run a load test: sluice loadtest --leads 200\n"
               "or the service: sluice serve (see sluice --help).\n";
        return 2;
    }
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("sluice"));
    QApplication::setOrganizationName(QStringLiteral("sluice"));
    QApplication::setApplicationDisplayName(QStringLiteral("Sluice"));
    QApplication::setApplicationVersion(QStringLiteral(SLUICE_VERSION));
    // The installed .desktop file and icon (packaging/): Wayland compositors match the window
    // to its menu entry by this name; the icon comes from the theme once the package is in.
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.sluice_app.Sluice"));
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("io.github.sluice_app.Sluice")));

    installLogHandler(LogStyle::Text);
    // SIGTERM and SIGINT close the window as the operator would: the engine stops and the
    // private redis-server with it, never left running behind a killed console.
    quitOnTerminationSignals();
    // The console runs one engine at a time; applying settings from the dialog stops it and
    // starts a new one (with a new window) from the saved settings, in this process.
    for (;;) {
        bool restart = false;
        const int code = runConsoleOnce(rest, restart);
        if (!restart)
            return code;
        qInfo("restarting the engine with the saved settings");
    }
}
