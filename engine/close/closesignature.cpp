#include "closesignature.h"

#include <QCryptographicHash>
#include <QMessageAuthenticationCode>

#include <algorithm>
#include <optional>

namespace sluice {

namespace {

constexpr qsizetype kHashHexDigits = 64; // SHA-256: 32 bytes
constexpr qsizetype kMaxTimestampDigits = 18; // fits qint64 with room to spare

int hexValue(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// Why `hex` cannot be decoded; nullopt when it can. Never quotes the input (it may be a key).
std::optional<QString> hexProblem(const QByteArray &hex)
{
    if (hex.isEmpty())
        return QStringLiteral("is empty");
    for (qsizetype i = 0; i < hex.size(); ++i) {
        if (hexValue(hex.at(i)) < 0)
            return QStringLiteral("has a character that is not a hex digit at position %1")
                .arg(i + 1);
    }
    if (hex.size() % 2 != 0)
        return QStringLiteral("has an odd number of hex digits (%1)").arg(hex.size());
    return std::nullopt;
}

/// Strict decoding (QByteArray::fromHex silently skips bad characters); call hexProblem() first.
QByteArray decodeHex(const QByteArray &hex)
{
    QByteArray out(hex.size() / 2, Qt::Uninitialized);
    for (qsizetype i = 0; i < out.size(); ++i)
        out[i] = char((hexValue(hex.at(2 * i)) << 4) | hexValue(hex.at(2 * i + 1)));
    return out;
}

QByteArray hmacSha256(const QByteArray &key, const QByteArray &timestamp, const QByteArray &body)
{
    QMessageAuthenticationCode mac(QCryptographicHash::Sha256, key);
    mac.addData(timestamp);
    mac.addData(body);
    return mac.result();
}

/// Compares every byte whatever the earlier ones were, so timing says nothing about how much
/// of a forged hash was right.
bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false; // sizes are public (always 32 here)
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a.at(i) ^ b.at(i));
    return diff == 0;
}

std::optional<qint64> parseUnixSeconds(const QByteArray &text)
{
    if (text.isEmpty() || text.size() > kMaxTimestampDigits)
        return std::nullopt;
    qint64 value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}

SignatureCheck signatureFailure(SignatureStatus status, const QString &detail)
{
    return SignatureCheck { status, detail };
}

} // namespace

QString signatureStatusName(SignatureStatus status)
{
    switch (status) {
    case SignatureStatus::Valid:
        return QStringLiteral("valid");
    case SignatureStatus::MissingHeaders:
        return QStringLiteral("missing-headers");
    case SignatureStatus::BadTimestamp:
        return QStringLiteral("bad-timestamp");
    case SignatureStatus::Expired:
        return QStringLiteral("expired");
    case SignatureStatus::BadKey:
        return QStringLiteral("bad-key");
    case SignatureStatus::Mismatch:
        return QStringLiteral("mismatch");
    case SignatureStatus::BadHash:
        return QStringLiteral("bad-hash");
    }
    return QStringLiteral("unknown");
}

SignatureCheck verifyCloseSignature(const QByteArray &hexKey, const QByteArray &timestampHeader,
                                    const QByteArray &hashHeader, const QByteArray &body,
                                    qint64 nowUnixSeconds, std::chrono::seconds tolerance)
{
    // Our own configuration first: with a bad key no request can be judged.
    const QByteArray keyHex = hexKey.trimmed();
    if (keyHex.isEmpty())
        return signatureFailure(SignatureStatus::BadKey,
                                QStringLiteral("no webhook signature key is configured"));
    if (const auto problem = hexProblem(keyHex))
        return signatureFailure(
            SignatureStatus::BadKey,
            QStringLiteral("the configured webhook signature key is not hex: it ") + *problem);

    const QByteArray timestamp = timestampHeader.trimmed();
    const QByteArray hash = hashHeader.trimmed();
    if (timestamp.isEmpty() && hash.isEmpty())
        return signatureFailure(
            SignatureStatus::MissingHeaders,
            QStringLiteral("headers close-sig-hash and close-sig-timestamp are missing"));
    if (hash.isEmpty())
        return signatureFailure(SignatureStatus::MissingHeaders,
                                QStringLiteral("header close-sig-hash is missing or empty"));
    if (timestamp.isEmpty())
        return signatureFailure(SignatureStatus::MissingHeaders,
                                QStringLiteral("header close-sig-timestamp is missing or empty"));

    const std::optional<qint64> signedAt = parseUnixSeconds(timestamp);
    if (!signedAt)
        return signatureFailure(
            SignatureStatus::BadTimestamp,
            QStringLiteral("header close-sig-timestamp must be Unix seconds (1 to %1 "
                           "decimal digits), got %2 bytes that are not")
                .arg(kMaxTimestampDigits)
                .arg(timestamp.size()));

    if (hash.size() != kHashHexDigits)
        return signatureFailure(
            SignatureStatus::BadHash,
            QStringLiteral("header close-sig-hash must be %1 hex digits, got %2 characters")
                .arg(kHashHexDigits)
                .arg(hash.size()));
    if (const auto problem = hexProblem(hash))
        return signatureFailure(SignatureStatus::BadHash,
                                QStringLiteral("header close-sig-hash ") + *problem);

    const QByteArray expected = hmacSha256(decodeHex(keyHex), timestamp, body);
    if (!constantTimeEquals(expected, decodeHex(hash)))
        return signatureFailure(
            SignatureStatus::Mismatch,
            QStringLiteral("close-sig-hash does not match the body and timestamp (wrong "
                           "signature key, or the body or timestamp was altered)"));

    // Clamped so an absurd clock value cannot overflow the subtraction.
    constexpr qint64 kClockLimit = 1'000'000'000'000'000'000;
    const qint64 now = std::clamp(nowUnixSeconds, -kClockLimit, kClockLimit);
    const qint64 skew = now - *signedAt;
    const qint64 allowed = tolerance.count();
    if (skew > allowed)
        return signatureFailure(
            SignatureStatus::Expired,
            QStringLiteral("signed %1 s ago; at most %2 s is accepted (a replay, a "
                           "delayed delivery, or a wrong clock)")
                .arg(skew)
                .arg(allowed));
    if (-skew > allowed)
        return signatureFailure(
            SignatureStatus::Expired,
            QStringLiteral("signed %1 s in the future; at most %2 s of clock skew is "
                           "accepted")
                .arg(-skew)
                .arg(allowed));
    return SignatureCheck { SignatureStatus::Valid, QStringLiteral("signature valid") };
}

QByteArray closeSignatureHash(const QByteArray &hexKey, const QByteArray &timestamp,
                              const QByteArray &body)
{
    const QByteArray keyHex = hexKey.trimmed();
    if (hexProblem(keyHex))
        return {};
    return hmacSha256(decodeHex(keyHex), timestamp, body).toHex();
}

} // namespace sluice
