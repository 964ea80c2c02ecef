// JSON text in and out (core/jsontext, the one place nlohmann's parser and serialiser are
// compiled) and the JSON tree as Qt variants (core/jsonvariant): each keeps nlohmann's own
// behaviour, including what it refuses.
#include "common/suite.h"
#include "core/jsontext.h"
#include "core/jsonvariant.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;

class TestJsonText : public QObject
{
    Q_OBJECT

private slots:
    void parseJsonReadsJsonAndDiscardsTheRest_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<bool>("valid");
        QTest::newRow("object") << QByteArray(R"({"a": [1, 2.5, "x", null, true]})") << true;
        QTest::newRow("bare number") << QByteArray("42") << true;
        QTest::newRow("surrounding space") << QByteArray(" \n\t\"s\" ") << true;
        QTest::newRow("empty") << QByteArray() << false;
        QTest::newRow("cut short") << QByteArray(R"({"a": )") << false;
        QTest::newRow("trailing text") << QByteArray("{} {}") << false;
        QTest::newRow("single quotes") << QByteArray("{'a': 1}") << false;
        QTest::newRow("a NUL inside") << QByteArray("[1,\0 2]", 7) << false;
    }

    void parseJsonReadsJsonAndDiscardsTheRest()
    {
        QFETCH(QByteArray, text);
        QFETCH(bool, valid);
        const nlohmann::json j = parseJson(text);
        QCOMPARE(!j.is_discarded(), valid);
        if (valid) {
            QVERIFY(j == nlohmann::json::parse(text.toStdString()));
            QVERIFY(parseJsonOrThrow(text) == j);
        } else {
            QVERIFY_THROWS_EXCEPTION(nlohmann::json::parse_error, parseJsonOrThrow(text));
        }
    }

    void parseJsonOrThrowSaysWhereTheTextWentWrong()
    {
        try {
            parseJsonOrThrow(QByteArrayView("{\"a\": tru}"));
            QFAIL("no exception");
        } catch (const nlohmann::json::parse_error &e) {
            QCOMPARE(e.byte, size_t(10));
            QVERIFY2(QByteArray(e.what()).contains("line 1, column 10"), e.what());
        }
    }

    void jsonTextIsCompactOrIndented()
    {
        const nlohmann::json j = { { "b", 1 }, { "a", { true, nullptr } } };
        QCOMPARE(jsonText(j), std::string(R"({"a":[true,null],"b":1})"));
        QCOMPARE(jsonText(j, 2),
                 std::string("{\n  \"a\": [\n    true,\n    null\n  ],\n  \"b\": 1\n}"));
        QCOMPARE(jsonBytes(j, 2), QByteArray::fromStdString(jsonText(j, 2)));
        // What is written reads back as the same value.
        QVERIFY(parseJson(jsonBytes(j)) == j);
    }

    void badUtf8ThrowsOrIsReplaced()
    {
        const nlohmann::json j = { { "name", std::string("caf\xe9") } }; // Latin-1, not UTF-8
        try {
            (void)jsonText(j);
            QFAIL("no exception");
        } catch (const nlohmann::json::type_error &e) {
            QCOMPARE(e.id, 316);
        }
        QVERIFY_THROWS_EXCEPTION(nlohmann::json::type_error, (void)jsonBytes(j, 2));
        QCOMPARE(jsonBytes(j, -1, BadUtf8::Replace), QByteArray("{\"name\":\"caf\xef\xbf\xbd\"}"));
    }

    void theTreeAsVariantsReadsAsQtReadsTheText()
    {
        // /healthz hands its forecast and alerts to Qt as variants, built straight from the
        // JSON tree: they must be what Qt's own reader makes of the same JSON text.
        const nlohmann::json j = {
            { "backlog", 40 },
            { "time_to_drain_ms", nullptr },
            { "per_second", 2.5 },
            { "drain_measured", false },
            { "name", "naïve" },
            { "big", 9'007'199'254'740'993LL },
            { "nested", { { "ids", { 1, "a", nullptr, { { "deep", true } } } } } },
        };
        const QVariant tree = jsonToVariantTree(j);
        QCOMPARE(tree.toMap(), QJsonDocument::fromJson(jsonBytes(j)).object().toVariantMap());
        const QVariantMap map = tree.toMap();
        QCOMPARE(map.value(QStringLiteral("backlog")).typeId(), int(QMetaType::LongLong));
        QCOMPARE(map.value(QStringLiteral("big")).toLongLong(), 9'007'199'254'740'993LL);
        QCOMPARE(map.value(QStringLiteral("time_to_drain_ms")).typeId(), int(QMetaType::Nullptr));
        const QVariantList ids
            = map.value(QStringLiteral("nested")).toMap().value(QStringLiteral("ids")).toList();
        QCOMPARE(ids.size(), 4);
        QCOMPARE(ids.at(3).toMap().value(QStringLiteral("deep")), QVariant(true));
        // A scalar stays a scalar.
        QCOMPARE(jsonToVariantTree(nlohmann::json("x")), QVariant(QStringLiteral("x")));
    }
};

SLUICE_TEST_APPLESS_MAIN(TestJsonText)
#include "tst_jsontext.moc"
