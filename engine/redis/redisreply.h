#pragma once

#include <QByteArray>
#include <QMetaType>
#include <QString>

#include <vector>

namespace sluice {

/// One reply from Redis as a plain value (RESP2): nil, status, error, integer, bulk string or
/// array. Strings are bytes (binary-safe, may hold NULs). A top-level error reply never
/// becomes a RedisReply: RedisClient hands it over as a RedisError. Error elements only
/// appear inside arrays (EXEC, scripts that return error tables).
class RedisReply
{
public:
    enum class Type { Nil, Status, Error, Integer, String, Array };

    RedisReply() = default; ///< nil
    static RedisReply nil() { return {}; }
    static RedisReply status(QByteArray text);
    static RedisReply error(QByteArray text);
    static RedisReply integer(qint64 value);
    static RedisReply string(QByteArray bytes);
    static RedisReply array(std::vector<RedisReply> elements);

    Type type() const { return m_type; }
    bool isNil() const { return m_type == Type::Nil; }
    bool isStatus() const { return m_type == Type::Status; }
    bool isError() const { return m_type == Type::Error; }
    bool isInteger() const { return m_type == Type::Integer; }
    bool isString() const { return m_type == Type::String; }
    bool isArray() const { return m_type == Type::Array; }

    /// The bytes of a string, status or error; empty for the other types.
    const QByteArray &bytes() const { return m_bytes; }
    /// The value of an integer reply; 0 for the other types.
    qint64 integer() const { return m_integer; }
    /// The elements of an array; empty for the other types.
    const std::vector<RedisReply> &elements() const { return m_elements; }
    /// Element `index` of an array, or nil when there is none.
    const RedisReply &at(size_t index) const;

    /// redis-cli style, for logs and test messages: (nil), OK, (error) ERR x, (integer) 5,
    /// "bytes" (escaped, long strings shortened), [a, b].
    QString describe() const;

    friend bool operator==(const RedisReply &a, const RedisReply &b);
    friend bool operator!=(const RedisReply &a, const RedisReply &b) { return !(a == b); }

private:
    Type m_type = Type::Nil;
    qint64 m_integer = 0;
    QByteArray m_bytes;
    std::vector<RedisReply> m_elements;
};

QString redisReplyTypeName(RedisReply::Type type);

} // namespace sluice

Q_DECLARE_METATYPE(sluice::RedisReply)
