#pragma once

#include <QByteArray>
#include <QString>

#include <chrono>

namespace sluice {

/// Outcome of checking a Close webhook signature. Suggested answers: BadKey is our own
/// configuration fault (500); every other failure is the sender's (401).
enum class SignatureStatus {
    Valid,
    MissingHeaders, ///< close-sig-hash or close-sig-timestamp absent or empty
    BadTimestamp, ///< close-sig-timestamp is not a whole number of Unix seconds
    Expired, ///< authentic, but signed further from now than the tolerance (past or future)
    BadKey, ///< the configured signature key is empty or not hex
    Mismatch, ///< well-formed hash that does not match: wrong key, or body/timestamp altered
    BadHash, ///< close-sig-hash is not 64 hex digits
};

/// Short stable name of a status ("valid", "mismatch", ...) for logs and the console.
QString signatureStatusName(SignatureStatus status);

/// What verifyCloseSignature() concluded; `detail` says why in words, never the key or the
/// expected hash (it may be shown to the sender).
struct SignatureCheck
{
    SignatureStatus status = SignatureStatus::Mismatch;
    QString detail;

    bool ok() const { return status == SignatureStatus::Valid; }
};

/// Close signs webhooks with HMAC-SHA256: key = hex-decoded signature key, message = timestamp
/// string + raw body; header close-sig-hash = lowercase hex.
///
/// The hash header is accepted in either case. The MAC is checked (in constant time) before the
/// time window, so Expired always means "genuine but stale or early" (a clock problem, or a
/// replay), never a forgery. Surrounding whitespace of the key and headers is ignored.
SignatureCheck verifyCloseSignature(const QByteArray &hexKey, const QByteArray &timestampHeader,
                                    const QByteArray &hashHeader, const QByteArray &body,
                                    qint64 nowUnixSeconds,
                                    std::chrono::seconds tolerance = std::chrono::seconds { 300 });

/// The close-sig-hash value for a body (used by load tests to sign webhooks, and by tests).
/// Lowercase hex; empty when `hexKey` is not valid hex.
QByteArray closeSignatureHash(const QByteArray &hexKey, const QByteArray &timestamp,
                              const QByteArray &body);

} // namespace sluice
