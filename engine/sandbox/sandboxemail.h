#pragma once

#include <QString>

namespace sluice {

/// The sandbox's own email rule, written from the RFC-5322 addr-spec (dot-atom only) because
/// Instantly does not document its own; see docs/sandbox-rules.md. Deliberately independent of
/// Sluice's classifiers, so a sandbox test does not check Sluice against itself.
bool sandboxEmailValid(const QString &email);

/// The key under which the sandbox compares emails: trimmed and lower-cased.
QString sandboxEmailKey(const QString &email);

/// The domain part (after the last '@') of an email key, or empty.
QString sandboxEmailDomain(const QString &emailKey);

} // namespace sluice
