#include "commandredis.h"
#include "commands.h"
#include "logging.h"

#include "config/serveoptions.h"
#include "core/secret.h"
#include "local/localengine.h"

#include <QCoreApplication>
#include <QDir>
#include <QHostInfo>
#include <QStandardPaths>
#include <QTextStream>
#include <QTimer>

#include <memory>
#include <vector>

using namespace sluice;
using std::chrono::milliseconds;

int runServeCommand(const QStringList &args, ServeRole role)
{
    QTextStream out(stdout);
    QTextStream err(stderr);
    const bool workerOnly = role == ServeRole::Worker;
    const QString name = workerOnly ? QStringLiteral("worker") : QStringLiteral("serve");
    if (args.contains(QStringLiteral("--help")) || args.contains(QStringLiteral("-h"))) {
        out << serveHelpText(workerOnly);
        return 0;
    }
    const auto parsed
        = parseServeOptions(args.mid(1), QProcessEnvironment::systemEnvironment(), workerOnly);
    if (!parsed.ok()) {
        err << "sluice " << name << ": " << parsed.error() << "\n";
        return 2;
    }
    const ServeOptions &o = parsed.value();
    installLogHandler(o.logFormat == ServeOptions::LogFormat::Json ? LogStyle::Json
                                                                   : LogStyle::Text);
    if (o.instantlyApiKey.isEmpty()) {
        err << "sluice " << name << ": INSTANTLY_API_KEY is not set\n";
        return 2;
    }
    if (o.closeApiKey.isEmpty())
        qWarning("CLOSE_API_KEY is not set: webhooks that carry a Close lead id but no inline "
                 "lead will pause dispatching for the whole fleet (cause close_key_rejected) at "
                 "their first lookup; set it to let Sluice look leads up in Close");
    const QString dataDir = o.dataDir.isEmpty() ? defaultDataDir() : o.dataDir;
    if (!QDir().mkpath(dataDir)) {
        err << "sluice " << name << ": cannot create the data directory " << dataDir << "\n";
        return 2;
    }

    LocalEngineOptions options;
    options.serve = o;
    options.listen = !workerOnly;
    options.dataDir = dataDir;
    LocalEngine engine(options);
    if (auto problem = engine.start()) {
        err << "sluice " << name << ": " << *problem << "\n";
        return 1;
    }
    QObject::connect(engine.delivery(), &DeliveryEngine::warningRaised, &engine,
                     [](const QString &w) { qWarning("%s", qPrintable(w)); });
    QObject::connect(engine.delivery(), &DeliveryEngine::refused, &engine,
                     [name](const QString &why) {
                         QTextStream(stderr) << "sluice " << name << ": " << why << "\n";
                         QCoreApplication::exit(1);
                     });
    if (engine.intake()) {
        qInfo("listening for webhooks on %s%s", qPrintable(engine.listenerUrl().toString()),
              o.webhookSecret.isEmpty() ? ", WITHOUT signature checks (CLOSE_WEBHOOK_SECRET unset)"
                                        : "");
    }
    qInfo("sluice %s %s: %d dispatcher(s) on the delivery thread, %s mode, limits %s, Instantly "
          "%s (key %s), namespace '%s'",
          qPrintable(name), SLUICE_VERSION, o.workers,
          qPrintable(deliveryModeName(o.dispatcher.mode)),
          qPrintable(engine.delivery()->settings().limiter.describe()),
          qPrintable(o.instantlyUrl.toString()), qPrintable(maskSecret(o.instantlyApiKey)),
          qPrintable(o.dispatcher.keyNamespace));

    quitOnTerminationSignals();
    const int code = QCoreApplication::exec();

    // Graceful stop: no new webhooks; dispatchers hand back what they have not sent.
    qInfo("stopping: closing the listener, handing back unsent work");
    if (!engine.stop(std::chrono::seconds { 15 }))
        qWarning("the dispatchers did not stop within 15 s; their leads will be reclaimed");
    qInfo("stopped");
    return code;
}
