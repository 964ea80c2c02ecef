#pragma once

#include <QByteArray>
#include <QByteArrayView>

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace sluice {

// JSON text in and out, written once. nlohmann's parser and serialiser are templates: every
// translation unit that calls json::parse or dump() instantiates and optimises its own copy
// (about 1.7 s and 0.6 s of compile time each at -O2). Through these functions the release
// build compiles them once (issue 16 item 6); the behaviour is nlohmann's own.

/// The JSON value of `text`, or a discarded value (`is_discarded()`) when it is not JSON.
nlohmann::json parseJson(QByteArrayView text);
/// The JSON value of `text`; throws nlohmann::json::parse_error, whose what() says where and
/// why, when it is not JSON.
nlohmann::json parseJsonOrThrow(QByteArrayView text);

/// What dumping does with a string that is not valid UTF-8: throw nlohmann::json::type_error
/// (316), as dump() does by default, or write U+FFFD in its place.
enum class BadUtf8 { Throw, Replace };

/// The JSON text of `value`: compact when `indent` is negative, else pretty with that indent.
std::string jsonText(const nlohmann::json &value, int indent = -1, BadUtf8 bad = BadUtf8::Throw);
/// The same as bytes.
QByteArray jsonBytes(const nlohmann::json &value, int indent = -1, BadUtf8 bad = BadUtf8::Throw);

} // namespace sluice
