#include "close/closesignature.h"
#include "common/metatypes.h"
#include "common/suite.h"

#include <QSet>
#include <QTest>

#include <iterator>
#include <limits>

using namespace sluice;

namespace {

// clang-format off
// Test vectors computed independently with OpenSSL 3 (not with the code under test), in bash:
//
//   KEY=a447c2b2f6c4b75bdb99b94935e6d93d594ff0f4c45706419a54a0baef553b9d
//   KEY2=2d80904a062c89c549a74cc176d05a912d132e88931f404a758443ed6f5980b3
//   TS=1700000000
//   BODY='{"subscription_id":"whsub_1","event":{"id":"ev_1","object_type":"task.lead","action":"created","data":{"text":"Instantly: Q3","lead_id":"lead_abc"}}}'
//   UBODY='{"name":"Zoë Ångström 北京 🚀"}'
//
//   printf '%s' "${TS}${BODY}"        | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY       # kBodyHash
//   printf '%s' "${TS}"               | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY       # kEmptyBodyHash
//   printf '%s' "${TS}${UBODY}"       | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY       # kUnicodeBodyHash
//   printf '%s' "1700000300${BODY}"   | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY       # kLaterBodyHash
//   printf '%s' "${TS}${BODY}"        | openssl dgst -sha256 -mac HMAC -macopt hexkey:$KEY2      # kOtherKeyBodyHash
//   printf '%s' "${TS}${BODY}"        | openssl dgst -sha256 -mac HMAC -macopt hexkey:0BADC0DE   # kShortKeyBodyHash
// clang-format on
const QByteArray kKey = "a447c2b2f6c4b75bdb99b94935e6d93d594ff0f4c45706419a54a0baef553b9d";
const QByteArray kOtherKey = "2d80904a062c89c549a74cc176d05a912d132e88931f404a758443ed6f5980b3";
const QByteArray kShortKey = "0BADC0DE";
const QByteArray kTs = "1700000000";
constexpr qint64 kTsSeconds = 1700000000;
const QByteArray kBody = R"({"subscription_id":"whsub_1","event":{"id":"ev_1","object_type":)"
                         R"("task.lead","action":"created","data":{"text":"Instantly: Q3",)"
                         R"("lead_id":"lead_abc"}}})";
// The same text as in the openssl command, spelled as UTF-8 bytes.
const QByteArray kUnicodeBody = "{\"name\":\"Zo\xc3\xab \xc3\x85ngstr\xc3\xb6m "
                                "\xe5\x8c\x97\xe4\xba\xac \xf0\x9f\x9a\x80\"}";
const QByteArray kBodyHash = "3433efeb9241a6c495a3eea676c9ed848115d52886d21279217199fcae7747ec";
const QByteArray kEmptyBodyHash
    = "a1b5d2af007694c21d2364fa43c23f7d324751128fc20cb7173ed8f9c10379ad";
const QByteArray kUnicodeBodyHash
    = "909b6e5376ff94dc6d9d0e9295d47cf37e98b946901c8332a89ab47c05618a4e";
const QByteArray kLaterBodyHash
    = "c3354afeb4c3b2afd0a06f5f9e8a3cddb1a69672316ca6d8a85a5a3c79aefa72";
const QByteArray kOtherKeyBodyHash
    = "fac8a65c0d9fc8f55b64bd1bce964db60bccfcaaec584d88152774d9e5522ee8";
const QByteArray kShortKeyBodyHash
    = "a9d3de131c5ed29b1b2722a9f33a01a703a0fbe0ec4ce1370eaca1da132027ec";

/// True when `text` repeats any 8 consecutive characters of `secret` (case-insensitive).
bool leaksPartOf(const QString &text, const QByteArray &secret)
{
    const QString s = QString::fromLatin1(secret);
    for (qsizetype i = 0; i + 8 <= s.size(); ++i) {
        if (text.contains(s.mid(i, 8), Qt::CaseInsensitive))
            return true;
    }
    return false;
}

} // namespace

class TestCloseSignature : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void verify_data();
    void verify();
    void hashMatchesOpenssl_data();
    void hashMatchesOpenssl();
    void hashOfBadKeyIsEmpty();
    void customTolerance();
    void statusNames();
};

void TestCloseSignature::verify_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("timestamp");
    QTest::addColumn<QByteArray>("hash");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<qint64>("now");
    QTest::addColumn<SignatureStatus>("expected");
    QTest::addColumn<QString>("detailMentions"); // a word the explanation must contain

    const qint64 now = kTsSeconds + 10;
    QByteArray tampered = kBody;
    tampered[tampered.indexOf("Q3") + 1] = '4'; // "Q3" -> "Q4": one byte

    QTest::newRow("valid") << kKey << kTs << kBodyHash << kBody << now << SignatureStatus::Valid
                           << QStringLiteral("valid");
    QTest::newRow("valid, uppercase hash") << kKey << kTs << kBodyHash.toUpper() << kBody << now
                                           << SignatureStatus::Valid << QStringLiteral("valid");
    QTest::newRow("valid, uppercase key") << kKey.toUpper() << kTs << kBodyHash << kBody << now
                                          << SignatureStatus::Valid << QStringLiteral("valid");
    QTest::newRow("valid, whitespace around key and headers")
        << (" " + kKey + "\n") << (kTs + " ") << (" " + kBodyHash) << kBody << now
        << SignatureStatus::Valid << QStringLiteral("valid");
    QTest::newRow("valid, short key") << kShortKey << kTs << kShortKeyBodyHash << kBody << now
                                      << SignatureStatus::Valid << QStringLiteral("valid");
    QTest::newRow("wrong key") << kOtherKey << kTs << kBodyHash << kBody << now
                               << SignatureStatus::Mismatch << QStringLiteral("does not match");
    QTest::newRow("signed with another key")
        << kKey << kTs << kOtherKeyBodyHash << kBody << now << SignatureStatus::Mismatch
        << QStringLiteral("does not match");
    QTest::newRow("body tampered by one byte")
        << kKey << kTs << kBodyHash << tampered << now << SignatureStatus::Mismatch
        << QStringLiteral("altered");
    QTest::newRow("body with a trailing newline")
        << kKey << kTs << kBodyHash << (kBody + '\n') << now << SignatureStatus::Mismatch
        << QStringLiteral("altered");
    QTest::newRow("timestamp tampered")
        << kKey << QByteArray("1700000001") << kBodyHash << kBody << now
        << SignatureStatus::Mismatch << QStringLiteral("timestamp");
    QTest::newRow("hash with one digit flipped")
        << kKey << kTs << (kBodyHash.left(63) + 'd') << kBody << now << SignatureStatus::Mismatch
        << QStringLiteral("does not match");
    QTest::newRow("expired: 6 min old") << kKey << kTs << kBodyHash << kBody << kTsSeconds + 360
                                        << SignatureStatus::Expired << QStringLiteral("360 s ago");
    QTest::newRow("6 min in the future")
        << kKey << kTs << kBodyHash << kBody << kTsSeconds - 360 << SignatureStatus::Expired
        << QStringLiteral("360 s in the future");
    QTest::newRow("exactly 5 min old: valid")
        << kKey << kTs << kBodyHash << kBody << kTsSeconds + 300 << SignatureStatus::Valid
        << QStringLiteral("valid");
    QTest::newRow("exactly 5 min early: valid")
        << kKey << kTs << kBodyHash << kBody << kTsSeconds - 300 << SignatureStatus::Valid
        << QStringLiteral("valid");
    QTest::newRow("5 min 1 s old") << kKey << kTs << kBodyHash << kBody << kTsSeconds + 301
                                   << SignatureStatus::Expired << QStringLiteral("301 s ago");
    QTest::newRow("later timestamp, valid")
        << kKey << QByteArray("1700000300") << kLaterBodyHash << kBody << kTsSeconds + 300
        << SignatureStatus::Valid << QStringLiteral("valid");
    QTest::newRow("expired and forged: forged wins")
        << kKey << kTs << kOtherKeyBodyHash << kBody << kTsSeconds + 3600
        << SignatureStatus::Mismatch << QStringLiteral("does not match");
    QTest::newRow("missing hash header")
        << kKey << kTs << QByteArray() << kBody << now << SignatureStatus::MissingHeaders
        << QStringLiteral("close-sig-hash");
    QTest::newRow("blank hash header")
        << kKey << kTs << QByteArray("  ") << kBody << now << SignatureStatus::MissingHeaders
        << QStringLiteral("close-sig-hash");
    QTest::newRow("missing timestamp header")
        << kKey << QByteArray() << kBodyHash << kBody << now << SignatureStatus::MissingHeaders
        << QStringLiteral("close-sig-timestamp");
    QTest::newRow("both headers missing")
        << kKey << QByteArray() << QByteArray() << kBody << now << SignatureStatus::MissingHeaders
        << QStringLiteral("close-sig-hash and");
    QTest::newRow("non-numeric timestamp")
        << kKey << QByteArray("yesterday") << kBodyHash << kBody << now
        << SignatureStatus::BadTimestamp << QStringLiteral("Unix seconds");
    QTest::newRow("negative timestamp")
        << kKey << QByteArray("-1700000000") << kBodyHash << kBody << now
        << SignatureStatus::BadTimestamp << QStringLiteral("Unix seconds");
    QTest::newRow("fractional timestamp")
        << kKey << QByteArray("1700000000.5") << kBodyHash << kBody << now
        << SignatureStatus::BadTimestamp << QStringLiteral("Unix seconds");
    QTest::newRow("timestamp in milliseconds, too long")
        << kKey << QByteArray("1700000000000000000000") << kBodyHash << kBody << now
        << SignatureStatus::BadTimestamp << QStringLiteral("Unix seconds");
    QTest::newRow("hash of wrong length: 63")
        << kKey << kTs << kBodyHash.left(63) << kBody << now << SignatureStatus::BadHash
        << QStringLiteral("64 hex digits, got 63");
    QTest::newRow("hash of wrong length: 66")
        << kKey << kTs << (kBodyHash + "00") << kBody << now << SignatureStatus::BadHash
        << QStringLiteral("64 hex digits, got 66");
    QTest::newRow("hash with sha256= prefix")
        << kKey << kTs << ("sha256=" + kBodyHash) << kBody << now << SignatureStatus::BadHash
        << QStringLiteral("64 hex digits");
    QTest::newRow("non-hex hash") << kKey << kTs << (kBodyHash.left(63) + 'g') << kBody << now
                                  << SignatureStatus::BadHash << QStringLiteral("position 64");
    QTest::newRow("non-hex key") << QByteArray(
        "zz47c2b2f6c4b75bdb99b94935e6d93d594ff0f4c45706419a54a0baef553b9d")
                                 << kTs << kBodyHash << kBody << now << SignatureStatus::BadKey
                                 << QStringLiteral("not hex");
    QTest::newRow("odd-length key") << kKey.left(63) << kTs << kBodyHash << kBody << now
                                    << SignatureStatus::BadKey << QStringLiteral("odd number");
    QTest::newRow("empty key") << QByteArray() << kTs << kBodyHash << kBody << now
                               << SignatureStatus::BadKey << QStringLiteral("no webhook");
    QTest::newRow("bad key beats missing headers")
        << QByteArray("not a key") << QByteArray() << QByteArray() << kBody << now
        << SignatureStatus::BadKey << QStringLiteral("not hex");
    QTest::newRow("empty body, valid signature")
        << kKey << kTs << kEmptyBodyHash << QByteArray() << now << SignatureStatus::Valid
        << QStringLiteral("valid");
    QTest::newRow("empty body, body hash")
        << kKey << kTs << kBodyHash << QByteArray() << now << SignatureStatus::Mismatch
        << QStringLiteral("does not match");
    QTest::newRow("unicode body") << kKey << kTs << kUnicodeBodyHash << kUnicodeBody << now
                                  << SignatureStatus::Valid << QStringLiteral("valid");
    QTest::newRow("unicode body, one character changed")
        << kKey << kTs << kUnicodeBodyHash << QByteArray(kUnicodeBody).replace("\xc3\xab", "e\xcc")
        << now << SignatureStatus::Mismatch << QStringLiteral("does not match");
}

void TestCloseSignature::verify()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, timestamp);
    QFETCH(QByteArray, hash);
    QFETCH(QByteArray, body);
    QFETCH(qint64, now);
    QFETCH(SignatureStatus, expected);
    QFETCH(QString, detailMentions);

    const SignatureCheck check = verifyCloseSignature(key, timestamp, hash, body, now);
    QCOMPARE(signatureStatusName(check.status), signatureStatusName(expected));
    QCOMPARE(check.ok(), expected == SignatureStatus::Valid);
    QVERIFY2(check.detail.contains(detailMentions, Qt::CaseInsensitive), qPrintable(check.detail));

    // The explanation may reach the sender: it must not carry the key (or any 8-character run
    // of it), nor the hash we expected (which would let anyone sign this body).
    QVERIFY2(!leaksPartOf(check.detail, key.trimmed()), qPrintable(check.detail));
    for (const QByteArray &secret : { kKey, kOtherKey, kBodyHash, kEmptyBodyHash, kUnicodeBodyHash,
                                      kOtherKeyBodyHash, kLaterBodyHash })
        QVERIFY2(!leaksPartOf(check.detail, secret), qPrintable(check.detail));
}

void TestCloseSignature::hashMatchesOpenssl_data()
{
    QTest::addColumn<QByteArray>("key");
    QTest::addColumn<QByteArray>("timestamp");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<QByteArray>("expected");

    QTest::newRow("body") << kKey << kTs << kBody << kBodyHash;
    QTest::newRow("uppercase key") << kKey.toUpper() << kTs << kBody << kBodyHash;
    QTest::newRow("empty body") << kKey << kTs << QByteArray() << kEmptyBodyHash;
    QTest::newRow("unicode body") << kKey << kTs << kUnicodeBody << kUnicodeBodyHash;
    QTest::newRow("later timestamp") << kKey << QByteArray("1700000300") << kBody << kLaterBodyHash;
    QTest::newRow("other key") << kOtherKey << kTs << kBody << kOtherKeyBodyHash;
    QTest::newRow("short key") << kShortKey << kTs << kBody << kShortKeyBodyHash;
}

void TestCloseSignature::hashMatchesOpenssl()
{
    QFETCH(QByteArray, key);
    QFETCH(QByteArray, timestamp);
    QFETCH(QByteArray, body);
    QFETCH(QByteArray, expected);

    const QByteArray hash = closeSignatureHash(key, timestamp, body);
    QCOMPARE(hash, expected);
    // Round trip: what we sign, we accept.
    QVERIFY(verifyCloseSignature(key, timestamp, hash, body, timestamp.toLongLong()).ok());
}

void TestCloseSignature::hashOfBadKeyIsEmpty()
{
    QVERIFY(closeSignatureHash(QByteArray(), kTs, kBody).isEmpty());
    QVERIFY(closeSignatureHash("xyz1", kTs, kBody).isEmpty());
    QVERIFY(closeSignatureHash("abc", kTs, kBody).isEmpty());
}

void TestCloseSignature::customTolerance()
{
    using std::chrono::seconds;
    QVERIFY(
        verifyCloseSignature(kKey, kTs, kBodyHash, kBody, kTsSeconds + 30, seconds { 30 }).ok());
    const SignatureCheck late
        = verifyCloseSignature(kKey, kTs, kBodyHash, kBody, kTsSeconds + 31, seconds { 30 });
    QCOMPARE(signatureStatusName(late.status), signatureStatusName(SignatureStatus::Expired));
    QVERIFY2(late.detail.contains(QStringLiteral("at most 30 s")), qPrintable(late.detail));
    // An absurd clock is reported, not overflowed.
    const SignatureCheck absurd = verifyCloseSignature(
        kKey, kTs, kBodyHash, kBody, std::numeric_limits<qint64>::min(), seconds { 300 });
    QCOMPARE(signatureStatusName(absurd.status), signatureStatusName(SignatureStatus::Expired));
}

void TestCloseSignature::statusNames()
{
    const SignatureStatus all[] = { SignatureStatus::Valid,        SignatureStatus::MissingHeaders,
                                    SignatureStatus::BadTimestamp, SignatureStatus::Expired,
                                    SignatureStatus::BadKey,       SignatureStatus::Mismatch,
                                    SignatureStatus::BadHash };
    QSet<QString> names;
    for (SignatureStatus s : all)
        names.insert(signatureStatusName(s));
    QCOMPARE(names.size(), qsizetype(std::size(all)));
    QVERIFY(!names.contains(QStringLiteral("unknown")));
}

SLUICE_TEST_APPLESS_MAIN(TestCloseSignature)
#include "tst_closesignature.moc"
