#pragma once

#include <QString>

namespace sluice {

/// A secret shown to a person: enough to tell two keys apart, never enough to use one.
/// "sk_live_abcdef123456" -> "••••3456"; keys of 8 characters or fewer are fully hidden.
QString maskSecret(const QString &secret);

} // namespace sluice
