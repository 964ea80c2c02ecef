// Bad webhooks against a running `sluice serve` with CLOSE_WEBHOOK_SECRET set: each gets the
// right 4xx with a JSON {error, detail}, nothing reaches Redis, and the server keeps serving.
#include "close/closesignature.h"
#include "common/suite.h"
#include "redis/redisserver.h"
#include "servefixture.h"

#include <QDateTime>
#include <QTest>

#include <memory>

using namespace sluice;
using namespace sluice::test;

namespace {

const QByteArray kSecret = "5e1f0a9c3b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d1f";
const QByteArray kOtherSecret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
const QString kCampaign = QStringLiteral("Bad Input");

/// How a request is signed.
enum class Signing {
    Valid,
    None, ///< no close-sig-* headers
    OtherKey, ///< well-formed, made with another key
    OtherBody, ///< a valid signature of a different body (tampered in transit)
    Stale, ///< correct, but 10 minutes old (replay window is 5)
    BadHash, ///< close-sig-hash not 64 hex digits
};

QList<QPair<QByteArray, QByteArray>> signatureHeaders(Signing signing, const QByteArray &body)
{
    if (signing == Signing::None)
        return {};
    qint64 now = QDateTime::currentSecsSinceEpoch();
    if (signing == Signing::Stale)
        now -= 600;
    const QByteArray timestamp = QByteArray::number(now);
    QByteArray hash;
    switch (signing) {
    case Signing::OtherKey:
        hash = closeSignatureHash(kOtherSecret, timestamp, body);
        break;
    case Signing::OtherBody:
        hash = closeSignatureHash(kSecret, timestamp, body + ' ');
        break;
    case Signing::BadHash:
        hash = "not-a-hash";
        break;
    default:
        hash = closeSignatureHash(kSecret, timestamp, body);
    }
    return { { "close-sig-timestamp", timestamp }, { "close-sig-hash", hash } };
}

QByteArray webhookWithText(const nlohmann::json &text)
{
    nlohmann::json body = nlohmann::json::parse(closeWebhook(800, kCampaign).toStdString());
    body["event"]["data"]["text"] = text;
    return QByteArray::fromStdString(body.dump());
}

/// A valid webhook grown past the 1 MiB body limit by an extra field.
QByteArray oversizedWebhook()
{
    nlohmann::json body = nlohmann::json::parse(closeWebhook(801, kCampaign).toStdString());
    body["padding"] = std::string((1 << 20) + 1, 'x');
    return QByteArray::fromStdString(body.dump());
}

} // namespace

Q_DECLARE_METATYPE(Signing)

class TestBadInput : public QObject
{
    Q_OBJECT

    std::unique_ptr<SandboxServer> m_sandbox;
    std::unique_ptr<RedisServer> m_redis;
    std::unique_ptr<ServeProcess> m_serve;
    std::unique_ptr<RedisProbe> m_probe;
    QHash<int, int> m_answered; ///< status -> rows answered with it

private Q_SLOTS:
    void initTestCase()
    {
        m_sandbox = std::make_unique<SandboxServer>();
        QVERIFY(m_sandbox->start() != 0);
        QVERIFY(createCampaign(*m_sandbox, kCampaign));
        QVERIFY(seedCloseLeads(*m_sandbox, 800, 4));
        m_redis = std::make_unique<RedisServer>();
        QVERIFY2(m_redis->start(), qPrintable(m_redis->errorString()));
        ServeSetup setup(m_sandbox->baseUrl(), m_redis->url());
        setup.env.append({ QStringLiteral("CLOSE_WEBHOOK_SECRET"), QString::fromLatin1(kSecret) });
        m_serve = std::make_unique<ServeProcess>(setup);
        QVERIFY2(m_serve->start(), qPrintable(m_serve->error()));
        m_probe = std::make_unique<RedisProbe>(m_redis->url());
    }

    void refusedWithoutStoring_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QByteArray>("contentType");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<Signing>("signing");
        QTest::addColumn<int>("status");

        const QByteArray json = "application/json";
        const QByteArray good = closeWebhook(802, kCampaign);
        QTest::newRow("malformed JSON")
            << QByteArray("POST") << json << QByteArray("{\"event\": {\"id\": \"ev_x\"")
            << Signing::Valid << 400;
        QTest::newRow("not JSON at all")
            << QByteArray("POST") << json << QByteArray("event=task.lead") << Signing::Valid << 400;
        QTest::newRow("array instead of object")
            << QByteArray("POST") << json << QByteArray("[" + good + "]") << Signing::Valid << 400;
        QTest::newRow("string instead of object")
            << QByteArray("POST") << json << QByteArray("\"Instantly: Bad Input\"")
            << Signing::Valid << 400;
        QTest::newRow("event is a string")
            << QByteArray("POST") << json << QByteArray("{\"event\": \"task.lead created\"}")
            << Signing::Valid << 400;
        QTest::newRow("task text is a number")
            << QByteArray("POST") << json << webhookWithText(42) << Signing::Valid << 400;
        QTest::newRow("signature missing")
            << QByteArray("POST") << json << good << Signing::None << 401;
        QTest::newRow("signature with another key")
            << QByteArray("POST") << json << good << Signing::OtherKey << 401;
        QTest::newRow("signature of another body")
            << QByteArray("POST") << json << good << Signing::OtherBody << 401;
        QTest::newRow("signature ten minutes old")
            << QByteArray("POST") << json << good << Signing::Stale << 401;
        QTest::newRow("signature not hex")
            << QByteArray("POST") << json << good << Signing::BadHash << 401;
        QTest::newRow("body over 1 MiB")
            << QByteArray("POST") << json << oversizedWebhook() << Signing::Valid << 413;
        QTest::newRow("GET") << QByteArray("GET") << QByteArray() << QByteArray() << Signing::None
                             << 405;
        QTest::newRow("PUT") << QByteArray("PUT") << json << good << Signing::Valid << 405;
        QTest::newRow("DELETE") << QByteArray("DELETE") << QByteArray() << QByteArray()
                                << Signing::None << 405;
        QTest::newRow("text/plain")
            << QByteArray("POST") << QByteArray("text/plain") << good << Signing::Valid << 415;
        QTest::newRow("form-urlencoded")
            << QByteArray("POST") << QByteArray("application/x-www-form-urlencoded") << good
            << Signing::Valid << 415;
    }

    void refusedWithoutStoring()
    {
        QFETCH(QByteArray, method);
        QFETCH(QByteArray, contentType);
        QFETCH(QByteArray, body);
        QFETCH(Signing, signing);
        QFETCH(int, status);

        const qint64 streamBefore = m_probe->streamLength(m_probe->keys().leads());
        const qint64 tasksBefore = m_probe->taskCount();
        QVERIFY(streamBefore >= 0 && tasksBefore >= 0);

        QNetworkRequest request(m_serve->addLeadUrl());
        if (!contentType.isEmpty())
            request.setRawHeader("Content-Type", contentType);
        for (const auto &[name, value] : signatureHeaders(signing, body))
            request.setRawHeader(name, value);
        const HttpReply reply
            = awaitReply(m_serve->http().sendCustomRequest(request, method, body), 20'000);

        QVERIFY2(reply.status == status, qPrintable(reply.describe()));
        const nlohmann::json error = reply.parsed();
        QVERIFY2(error.is_object() && error.contains("error") && error["error"].is_string()
                     && error.contains("detail") && error["detail"].is_string()
                     && !error["detail"].get<std::string>().empty(),
                 qPrintable(reply.describe()));
        QVERIFY2(reply.header("content-type").startsWith("application/json"),
                 qPrintable(QString::fromLatin1(reply.header("content-type"))));
        if (status == 405)
            QCOMPARE(reply.header("allow"), QByteArray("POST"));
        ++m_answered[status];

        // Nothing stored: no stream entry, no task, no event-id marker.
        QCOMPARE(m_probe->streamLength(m_probe->keys().leads()), streamBefore);
        QCOMPARE(m_probe->taskCount(), tasksBefore);
        QCOMPARE(
            m_probe->integer({ "EXISTS", m_probe->keys().closeEvent(QStringLiteral("ev_802")) }),
            qint64(0));
        QVERIFY2(m_serve->isRunning(), qPrintable(m_serve->log()));
    }

    /// After all that, the server still answers, counted each refusal by reason, and takes a
    /// correctly signed webhook (which also proves the rows above were signed the right way).
    void stillServesAfterwards()
    {
        QVERIFY2(m_serve->isRunning(), qPrintable(m_serve->log()));
        const HttpReply health = m_serve->health();
        QVERIFY2(health.status == 200, qPrintable(health.describe()));

        const HttpReply metrics = m_serve->get(QStringLiteral("/metrics"));
        QCOMPARE(metrics.status, 200);
        const QList<QPair<QByteArray, int>> expected {
            { "bad_request", 400 },
            { "bad_signature", 401 },
            { "payload_too_large", 413 },
            { "unsupported_media_type", 415 },
        };
        for (const auto &[reason, status] : expected) {
            const QByteArray line = "sluice_intake_rejected_total{reason=\"" + reason + "\"} "
                + QByteArray::number(m_answered.value(status));
            QVERIFY2(metrics.body.contains(QByteArray(line + '\n')),
                     qPrintable(QString::fromUtf8(line + "\nnot in:\n" + metrics.body)));
        }

        const QByteArray body = closeWebhook(803, kCampaign);
        const HttpReply accepted = m_serve->post(QStringLiteral("/instantly/add_lead"), body,
                                                 signatureHeaders(Signing::Valid, body));
        QVERIFY2(accepted.status == 202, qPrintable(accepted.describe()));
        QTRY_COMPARE_WITH_TIMEOUT(m_sandbox->store().leadCount(), 1, 20'000);
        QCOMPARE(sandboxEmails(*m_sandbox), QStringList { webhookEmail(803) });
        QVERIFY2(m_serve->terminate(), qPrintable(m_serve->exitSummary()));
    }
};

SLUICE_TEST_GUILESS_MAIN(TestBadInput)
#include "tst_badinput.moc"
