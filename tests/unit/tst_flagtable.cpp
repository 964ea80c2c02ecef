// The flag reader every command uses: flag over variable over default, both spellings of a
// value, switches, and a message naming the flag for everything it refuses.
#include "common/suite.h"
#include "config/flagtable.h"

#include <QTest>

using namespace sluice;
using std::chrono::milliseconds;

namespace {

FlagTable sampleTable()
{
    FlagTable table(QStringLiteral("sample"), QStringLiteral("sluice sample [options]"),
                    QStringLiteral("A table for the tests."));
    table.add(FlagSpec::option(QStringLiteral("limit"), FlagType::Int, QStringLiteral("N"),
                               QStringLiteral("at most N"))
                  .withEnv(QStringLiteral("SAMPLE_LIMIT"))
                  .withDefault(QStringLiteral("20"))
                  .withRange(1, 100));
    table.add(FlagSpec::option(QStringLiteral("wait"), FlagType::Duration, QStringLiteral("D"),
                               QStringLiteral("how long"))
                  .withEnv(QStringLiteral("SAMPLE_WAIT"))
                  .withDefault(QStringLiteral("30s"))
                  .withDurationRange(milliseconds { 100 }, milliseconds { 60'000 }));
    table.add(FlagSpec::option(QStringLiteral("share"), FlagType::Double, QStringLiteral("X"),
                               QStringLiteral("a share"))
                  .withDefault(QStringLiteral("0.5")));
    table.add(FlagSpec::option(QStringLiteral("format"), FlagType::Choice, QStringLiteral("F"),
                               QStringLiteral("the output"))
                  .withChoices({ QStringLiteral("json"), QStringLiteral("csv") }));
    table.add(FlagSpec::option(QStringLiteral("id"), FlagType::List, QStringLiteral("ID"),
                               QStringLiteral("entries")));
    table.add(FlagSpec::option(QStringLiteral("redis"), FlagType::Text, QStringLiteral("URL"),
                               QStringLiteral("where Redis is"))
                  .withEnv(QStringLiteral("SAMPLE_REDIS"))
                  .withDefaultNote(QStringLiteral("a private one"))
                  .asSecret());
    table.add(FlagSpec::toggle(QStringLiteral("json"), QStringLiteral("print JSON"))
                  .withEnv(QStringLiteral("SAMPLE_JSON")));
    table.add(FlagSpec::secretVariable(QStringLiteral("SAMPLE_KEY"), QStringLiteral("the key")));
    return table;
}

QProcessEnvironment envOf(std::initializer_list<std::pair<const char *, const char *>> vars)
{
    QProcessEnvironment env;
    for (const auto &[name, value] : vars)
        env.insert(QLatin1String(name), QLatin1String(value));
    return env;
}

} // namespace

class TestFlagTable : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void defaultsWhenNothingIsGiven()
    {
        const auto v = sampleTable().parse({}, QProcessEnvironment());
        QVERIFY2(v.ok(), qPrintable(v.ok() ? QString() : v.error()));
        QCOMPARE(v->integer(QStringLiteral("limit")), 20);
        QCOMPARE(v->duration(QStringLiteral("wait")), milliseconds { 30'000 });
        QCOMPARE(v->number(QStringLiteral("share")), 0.5);
        QVERIFY(!v->given(QStringLiteral("limit")));
        QCOMPARE(v->source(QStringLiteral("limit")), FlagValues::Source::Default);
        QVERIFY(!v->isOn(QStringLiteral("json")));
        QVERIFY(v->text(QStringLiteral("redis")).isEmpty());
        QVERIFY(!v->helpRequested());
    }

    void flagOverEnvironmentOverDefault_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("envValue"); // empty: SAMPLE_LIMIT not set
        QTest::addColumn<int>("expected");
        QTest::addColumn<QString>("origin");
        QTest::newRow("default") << QStringList {} << QString() << 20 << QStringLiteral("--limit");
        QTest::newRow("environment")
            << QStringList {} << QStringLiteral("7") << 7 << QStringLiteral("SAMPLE_LIMIT");
        QTest::newRow("flag over environment")
            << QStringList { QStringLiteral("--limit"), QStringLiteral("9") } << QStringLiteral("7")
            << 9 << QStringLiteral("--limit");
        QTest::newRow("--x=v over environment")
            << QStringList { QStringLiteral("--limit=11") } << QStringLiteral("7") << 11
            << QStringLiteral("--limit");
        QTest::newRow("the last flag wins")
            << QStringList { QStringLiteral("--limit=3"), QStringLiteral("--limit"),
                             QStringLiteral("4") }
            << QString() << 4 << QStringLiteral("--limit");
    }
    void flagOverEnvironmentOverDefault()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, envValue);
        QFETCH(int, expected);
        QFETCH(QString, origin);
        QProcessEnvironment env;
        if (!envValue.isEmpty())
            env.insert(QStringLiteral("SAMPLE_LIMIT"), envValue);
        const auto v = sampleTable().parse(args, env);
        QVERIFY2(v.ok(), qPrintable(v.ok() ? QString() : v.error()));
        QCOMPARE(v->integer(QStringLiteral("limit")), expected);
        QCOMPARE(v->origin(QStringLiteral("limit")), origin);
    }

    void bothSpellingsOfAValue()
    {
        const FlagTable table = sampleTable();
        const auto spaced = table.parse({ QStringLiteral("--wait"), QStringLiteral("500ms"),
                                          QStringLiteral("--format"), QStringLiteral("CSV") },
                                        {});
        const auto joined
            = table.parse({ QStringLiteral("--wait=500ms"), QStringLiteral("--format=CSV") }, {});
        for (const auto *v : { &spaced, &joined }) {
            QVERIFY(v->ok());
            QCOMPARE((*v)->duration(QStringLiteral("wait")), milliseconds { 500 });
            QCOMPARE((*v)->text(QStringLiteral("format")), QStringLiteral("CSV"));
            QCOMPARE((*v)->source(QStringLiteral("wait")), FlagValues::Source::Argument);
        }
        // A value may hold '=' itself.
        const auto eq = table.parse({ QStringLiteral("--redis=redis://h/0?x=1") }, {});
        QCOMPARE(eq->text(QStringLiteral("redis")), QStringLiteral("redis://h/0?x=1"));
    }

    void switches()
    {
        const FlagTable table = sampleTable();
        QVERIFY(table.parse({ QStringLiteral("--json") }, {})->isOn(QStringLiteral("json")));
        QVERIFY(table.parse({}, envOf({ { "SAMPLE_JSON", "yes" } }))->isOn(QStringLiteral("json")));
        QVERIFY(
            !table.parse({}, envOf({ { "SAMPLE_JSON", "off" } }))->isOn(QStringLiteral("json")));
        // The flag turns it on whatever the variable says.
        QVERIFY(table.parse({ QStringLiteral("--json") }, envOf({ { "SAMPLE_JSON", "0" } }))
                    ->isOn(QStringLiteral("json")));
    }

    void listsRepeatAndSplit()
    {
        const auto v = sampleTable().parse(
            { QStringLiteral("--id"), QStringLiteral("1-0,2-0"), QStringLiteral("--id=3-0") }, {});
        QVERIFY(v.ok());
        QCOMPARE(
            v->list(QStringLiteral("id")),
            QStringList({ QStringLiteral("1-0"), QStringLiteral("2-0"), QStringLiteral("3-0") }));
    }

    void positionalAndHelp()
    {
        FlagTable table = sampleTable();
        const auto refused = table.parse({ QStringLiteral("extra") }, {});
        QVERIFY(!refused.ok());
        QCOMPARE(refused.error(), QStringLiteral("unexpected argument 'extra'"));
        table.acceptPositional();
        const auto accepted
            = table.parse({ QStringLiteral("a@b.c"), QStringLiteral("--limit=2") }, {});
        QVERIFY(accepted.ok());
        QCOMPARE(accepted->positional(), QStringList { QStringLiteral("a@b.c") });
        // --help ends the reading: what follows is not judged.
        const auto help = table.parse({ QStringLiteral("-h"), QStringLiteral("--nonsense") }, {});
        QVERIFY(help.ok());
        QVERIFY(help->helpRequested());
    }

    void fallbackOnlyWhenNotGiven()
    {
        const FlagTable table = sampleTable();
        auto v = table.parse({}, {}).value();
        v.setFallback(QStringLiteral("limit"), QStringLiteral("5"));
        QCOMPARE(v.integer(QStringLiteral("limit")), 5);
        auto env = table.parse({}, envOf({ { "SAMPLE_LIMIT", "8" } })).value();
        env.setFallback(QStringLiteral("limit"), QStringLiteral("5"));
        QCOMPARE(env.integer(QStringLiteral("limit")), 8);
    }

    void secretsFromTheEnvironmentOnly()
    {
        const FlagTable table = sampleTable();
        const auto v = table.parse({}, envOf({ { "SAMPLE_KEY", "k-123" } }));
        QCOMPARE(v->text(QStringLiteral("SAMPLE_KEY")), QStringLiteral("k-123"));
        const auto flag = table.parse({ QStringLiteral("--SAMPLE_KEY=x") }, {});
        QVERIFY(!flag.ok());
        // A bad secret is named, never printed.
        FlagTable strict(QStringLiteral("strict"));
        strict.add(FlagSpec::option(QStringLiteral("url"), FlagType::Int, QStringLiteral("U"),
                                    QStringLiteral("x"))
                       .asSecret());
        const auto bad = strict.parse({ QStringLiteral("--url=redis://:hunter2@h") }, {});
        QVERIFY(!bad.ok());
        QVERIFY2(bad.error().startsWith(QStringLiteral("--url:")), qPrintable(bad.error()));
        QVERIFY2(!bad.error().contains(QStringLiteral("hunter2")), qPrintable(bad.error()));
    }

    void refusals_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("envName");
        QTest::addColumn<QString>("envValue");
        QTest::addColumn<QString>("message");
        const QString none;
        QTest::newRow("unknown flag")
            << QStringList { QStringLiteral("--colour") } << none << none
            << QStringLiteral("unknown option '--colour' for `sluice sample`; see `sluice sample "
                              "--help`");
        QTest::newRow("single-dash option")
            << QStringList { QStringLiteral("-j") } << none << none
            << QStringLiteral("unknown option '-j' for `sluice sample`");
        QTest::newRow("unknown flag with value")
            << QStringList { QStringLiteral("--colour=red") } << none << none
            << QStringLiteral("unknown option '--colour'");
        QTest::newRow("missing value at the end")
            << QStringList { QStringLiteral("--limit") } << none << none
            << QStringLiteral("--limit needs a value");
        QTest::newRow("missing value before a flag")
            << QStringList { QStringLiteral("--limit"), QStringLiteral("--json") } << none << none
            << QStringLiteral("--limit needs a value");
        QTest::newRow("bad int") << QStringList { QStringLiteral("--limit=many") } << none << none
                                 << QStringLiteral(
                                        "--limit: 'many' is not a whole number from 1 to 100");
        QTest::newRow("int out of range")
            << QStringList { QStringLiteral("--limit"), QStringLiteral("101") } << none << none
            << QStringLiteral("--limit: '101' is not a whole number");
        QTest::newRow("bad int from env")
            << QStringList {} << QStringLiteral("SAMPLE_LIMIT") << QStringLiteral("2.5")
            << QStringLiteral("SAMPLE_LIMIT: '2.5' is not a whole number");
        QTest::newRow("bad duration")
            << QStringList { QStringLiteral("--wait=5 minutes") } << none << none
            << QStringLiteral("--wait: '5 minutes' is not a duration from 100ms to 1m");
        QTest::newRow("duration too short")
            << QStringList { QStringLiteral("--wait=10ms") } << none << none
            << QStringLiteral("--wait: '10ms' is not a duration");
        QTest::newRow("bad duration from env")
            << QStringList {} << QStringLiteral("SAMPLE_WAIT") << QStringLiteral("soon")
            << QStringLiteral("SAMPLE_WAIT: 'soon'");
        QTest::newRow("bad double") << QStringList { QStringLiteral("--share=half") } << none
                                    << none << QStringLiteral("--share: 'half' is not a number");
        QTest::newRow("bad choice") << QStringList { QStringLiteral("--format=xml") } << none
                                    << none << QStringLiteral("--format: must be json or csv");
        QTest::newRow("switch with a value") << QStringList { QStringLiteral("--json=yes") } << none
                                             << none << QStringLiteral("--json takes no value");
        QTest::newRow("bad switch variable")
            << QStringList {} << QStringLiteral("SAMPLE_JSON") << QStringLiteral("maybe")
            << QStringLiteral("SAMPLE_JSON: 'maybe' is not on");
    }
    void refusals()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, envName);
        QFETCH(QString, envValue);
        QFETCH(QString, message);
        QProcessEnvironment env;
        if (!envName.isEmpty())
            env.insert(envName, envValue);
        const auto v = sampleTable().parse(args, env);
        QVERIFY(!v.ok());
        QVERIFY2(v.error().contains(message), qPrintable(v.error()));
    }

    void helpNamesEveryFlag()
    {
        const FlagTable table = sampleTable();
        const QString help = table.helpText();
        QVERIFY(help.startsWith(QStringLiteral("Usage: sluice sample [options]\n")));
        for (const FlagSpec &spec : table.specs()) {
            if (spec.envOnly) {
                QVERIFY2(help.contains(QStringLiteral("environment only: ") + spec.env),
                         qPrintable(spec.env));
                continue;
            }
            const QString synopsis = QStringLiteral("  ") + spec.synopsis();
            QVERIFY2(help.contains(synopsis), qPrintable(synopsis));
            if (!spec.env.isEmpty())
                QVERIFY2(help.contains(QStringLiteral("[") + spec.env + QStringLiteral("]\n")),
                         qPrintable(spec.env));
        }
        QVERIFY(help.contains(QStringLiteral("at most N (default 20) [SAMPLE_LIMIT]")));
        QVERIFY(help.contains(QStringLiteral("where Redis is (default: a private one)")));
        // The man page entries: every flag, its variable, dashes as roff wants them.
        const QString man = table.manEntries();
        QVERIFY(
            man.contains(QStringLiteral(".TP\n\\fB\\-\\-limit\\fR \\fIN\\fR (\\fBSAMPLE_LIMIT")));
        QCOMPARE(man.count(QStringLiteral(".TP\n")), qsizetype(table.specs().size() - 1));
    }

    void secretDefaultsAreNotShown()
    {
        FlagSpec spec = FlagSpec::option(QStringLiteral("redis"), FlagType::Text,
                                         QStringLiteral("URL"), QStringLiteral("Redis"))
                            .withDefault(QStringLiteral("redis://:pw@host"))
                            .asSecret();
        QVERIFY(!spec.fullHelp().contains(QStringLiteral("pw")));
    }

    void durations()
    {
        QCOMPARE(parseDuration(QStringLiteral("250ms")), milliseconds { 250 });
        QCOMPARE(parseDuration(QStringLiteral("2h")), milliseconds { 7'200'000 });
        QVERIFY(!parseDuration(QStringLiteral("-1s")));
        QVERIFY(!parseDuration(QStringLiteral("1.5s")));
        QCOMPARE(durationText(milliseconds { 1500 }), QStringLiteral("1500ms"));
        QCOMPARE(durationText(milliseconds { 86'400'000 }), QStringLiteral("1d"));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestFlagTable)
#include "tst_flagtable.moc"
