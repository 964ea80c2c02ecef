// The settings dialog and what it stores: validation names the field (by the same parser
// `sluice serve` uses), keys are masked until asked, live mode needs a key, the command line
// wins over saved settings, and QSettings keeps it all.
#include "common/suite.h"
#include "config/serveoptions.h"
#include "consolesettings.h"
#include "settingsdialog.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>

using namespace sluice;

class TestSettings : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void problemsNameTheField_data()
    {
        QTest::addColumn<QString>("flag");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("message");
        QTest::newRow("rate") << QStringLiteral("rate") << QStringLiteral("fast")
                              << QStringLiteral("--rate: 'fast' is not a rate");
        QTest::newRow("safety") << QStringLiteral("safety-factor") << QStringLiteral("2")
                                << QStringLiteral("--safety-factor");
        QTest::newRow("listen") << QStringLiteral("listen") << QStringLiteral("nowhere")
                                << QStringLiteral("--listen");
        QTest::newRow("retry") << QStringLiteral("retry-base") << QStringLiteral("soon")
                               << QStringLiteral("--retry-base");
        QTest::newRow("batch") << QStringLiteral("batch-max") << QStringLiteral("5000")
                               << QStringLiteral("--batch-max");
    }
    void problemsNameTheField()
    {
        QFETCH(QString, flag);
        QFETCH(QString, value);
        QFETCH(QString, message);
        ConsoleSettings s;
        s.flags.insert(flag, value);
        const auto problem = s.problem();
        QVERIFY(problem.has_value());
        QVERIFY2(problem->contains(message), qPrintable(*problem));
    }

    void liveNeedsAKeyAndTheSecretMustBeHex()
    {
        ConsoleSettings s;
        QVERIFY(!s.problem());
        s.live = true;
        QCOMPARE(s.problem().value_or(QString()),
                 QStringLiteral("Instantly API key: live mode needs one"));
        s.instantlyApiKey = QStringLiteral("key");
        QVERIFY(!s.problem());
        s.webhookSecret = QStringLiteral("not-hex");
        QVERIFY(s.problem().value_or(QString()).startsWith(QStringLiteral("Close webhook")));
        s.webhookSecret = QStringLiteral("a1b2c3");
        QVERIFY(!s.problem());
    }

    void theCommandLineWins()
    {
        ConsoleSettings s;
        s.flags.insert(QStringLiteral("rate"), QStringLiteral("300/min"));
        s.flags.insert(QStringLiteral("workers"), QStringLiteral("2"));
        const QStringList args = s.arguments({ QStringLiteral("--rate=100/min") });
        QVERIFY(args.contains(QStringLiteral("--rate=100/min")));
        QVERIFY(!args.contains(QStringLiteral("300/min")));
        QVERIFY(args.contains(QStringLiteral("--workers")));
        QProcessEnvironment env;
        env.insert(QStringLiteral("INSTANTLY_API_KEY"), QStringLiteral("from-env"));
        s.instantlyApiKey = QStringLiteral("saved");
        s.closeApiKey = QStringLiteral("close-saved");
        const QProcessEnvironment merged = s.environment(env);
        QCOMPARE(merged.value(QStringLiteral("INSTANTLY_API_KEY")), QStringLiteral("from-env"));
        QCOMPARE(merged.value(QStringLiteral("CLOSE_API_KEY")), QStringLiteral("close-saved"));
    }

    void settingsRoundTripThroughQSettings()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("sluice.ini"));
        ConsoleSettings s;
        s.flags.insert(QStringLiteral("redis"), QStringLiteral("redis://10.0.0.5:6379/0"));
        s.flags.insert(QStringLiteral("coalesce"), QStringLiteral("500ms"));
        s.instantlyApiKey = QStringLiteral("secret-key");
        s.webhookSecret = QStringLiteral("abcd");
        s.live = true;
        {
            QSettings store(file, QSettings::IniFormat);
            s.save(store);
        }
        QSettings store(file, QSettings::IniFormat);
        const ConsoleSettings back = ConsoleSettings::load(store);
        QCOMPARE(back.flags, s.flags);
        QCOMPARE(back.instantlyApiKey, s.instantlyApiKey);
        QCOMPARE(back.webhookSecret, s.webhookSecret);
        QVERIFY(back.live);
        // Clearing a field removes it, so the default applies again.
        ConsoleSettings cleared = back;
        cleared.flags.remove(QStringLiteral("coalesce"));
        cleared.save(store);
        QVERIFY(!ConsoleSettings::load(store).flags.contains(QStringLiteral("coalesce")));
    }

    void theSettingsFileIsTheOwnersAlone()
    {
        // It holds API keys: 0600, also after a later write by someone else's code path (the
        // window state goes to the same file) and for a file an older build left at 0644.
        QTemporaryDir dir;
        const QString file = dir.filePath(QStringLiteral("sluice.ini"));
        const auto ownerOnly = QFileDevice::ReadOwner | QFileDevice::WriteOwner;
        const auto mode = [&] {
            return QFileInfo(file).permissions()
                & (QFileDevice::ReadGroup | QFileDevice::WriteGroup | QFileDevice::ReadOther
                   | QFileDevice::WriteOther | QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        };
        ConsoleSettings s;
        s.instantlyApiKey = QStringLiteral("secret-key");
        {
            QSettings store(file, QSettings::IniFormat);
            s.save(store);
        }
        QCOMPARE(mode(), ownerOnly);
        {
            QSettings store(file, QSettings::IniFormat);
            store.setValue(QStringLiteral("window/geometry"), QByteArray("xyz"));
        }
        QCOMPARE(mode(), ownerOnly);
        QVERIFY(QFile::setPermissions(file,
                                      ownerOnly | QFileDevice::ReadGroup | QFileDevice::ReadOther));
        QSettings store(file, QSettings::IniFormat);
        QCOMPARE(ConsoleSettings::load(store).instantlyApiKey, QStringLiteral("secret-key"));
        QCOMPARE(mode(), ownerOnly);
    }

    void everyFieldShowsServesOwnDefault()
    {
        SettingsDialog dialog(ConsoleSettings {});
        for (const QString &flag : ConsoleSettings::editableFlags()) {
            QLineEdit *edit = dialog.field(flag);
            QVERIFY2(edit, qPrintable(flag));
            QVERIFY2(!edit->placeholderText().isEmpty(), qPrintable(flag));
            QVERIFY(serveHelpText(false).contains(edit->placeholderText()));
        }
        QCOMPARE(dialog.field(QStringLiteral("rate"))->placeholderText(),
                 QStringLiteral("600/min"));
        QCOMPARE(dialog.field(QStringLiteral("journal"))->placeholderText(), QStringLiteral("on"));
        QCOMPARE(dialog.field(QStringLiteral("redis"))->placeholderText(),
                 QStringLiteral("a private redis-server"));
    }

    void theDialogMasksKeysAndRefusesBadInput()
    {
        ConsoleSettings s;
        s.instantlyApiKey = QStringLiteral("sk_live_123456");
        SettingsDialog dialog(s);
        QLineEdit *key = dialog.instantlyKeyField();
        QCOMPARE(key->echoMode(), QLineEdit::Password);
        QPushButton *show = nullptr;
        for (QPushButton *b : dialog.findChildren<QPushButton *>())
            if (b->text() == QStringLiteral("Show") && !show)
                show = b;
        QVERIFY(show);
        show->click();
        QCOMPARE(key->echoMode(), QLineEdit::Normal);
        show->click();
        QCOMPARE(key->echoMode(), QLineEdit::Password);

        QVERIFY(dialog.acceptable());
        dialog.field(QStringLiteral("burst-rate"))->setText(QStringLiteral("ten per second"));
        QVERIFY(!dialog.acceptable());
        // For a person to look at: the dialog with a message.
        QDir().mkpath(QStringLiteral(SCREENSHOT_DIR));
        QVERIFY(dialog.grab().save(QStringLiteral(SCREENSHOT_DIR "/settings.png")));
        QVERIFY2(dialog.problemText().startsWith(
                     QStringLiteral("Per-second cap: 'ten per second' is not a rate")),
                 qPrintable(dialog.problemText()));
        dialog.field(QStringLiteral("burst-rate"))->setText(QStringLiteral("20/s"));
        QVERIFY(dialog.acceptable());
        QCOMPARE(dialog.settings().flags.value(QStringLiteral("burst-rate")),
                 QStringLiteral("20/s"));

        key->clear();
        dialog.setLive(true);
        QVERIFY(!dialog.acceptable());
        QCOMPARE(dialog.problemText(), QStringLiteral("Instantly API key: live mode needs one"));
        key->setText(QStringLiteral("k"));
        QVERIFY(dialog.acceptable());
        dialog.setConfirmLive(false);
        dialog.accept();
        QCOMPARE(dialog.result(), int(QDialog::Accepted));
        QVERIFY(dialog.settings().live);
    }
};

SLUICE_TEST_MAIN(TestSettings)
#include "tst_settings.moc"
