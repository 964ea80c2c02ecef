#include "redisreply.h"

#include <QStringList>

namespace sluice {

namespace {

constexpr qsizetype kDescribeMaxBytes = 200;

QString escaped(const QByteArray &bytes)
{
    QString out;
    const QByteArray shown = bytes.left(kDescribeMaxBytes);
    for (const char c : shown) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\')
            out += QLatin1Char('\\') + QLatin1Char(c);
        else if (c == '\n')
            out += QLatin1String("\\n");
        else if (c == '\r')
            out += QLatin1String("\\r");
        else if (u < 0x20 || u >= 0x7f)
            out += QStringLiteral("\\x%1").arg(u, 2, 16, QLatin1Char('0'));
        else
            out += QLatin1Char(c);
    }
    if (bytes.size() > shown.size())
        out += QStringLiteral("... (%1 bytes)").arg(bytes.size());
    return out;
}

} // namespace

RedisReply RedisReply::status(QByteArray text)
{
    RedisReply r;
    r.m_type = Type::Status;
    r.m_bytes = std::move(text);
    return r;
}

RedisReply RedisReply::error(QByteArray text)
{
    RedisReply r;
    r.m_type = Type::Error;
    r.m_bytes = std::move(text);
    return r;
}

RedisReply RedisReply::integer(qint64 value)
{
    RedisReply r;
    r.m_type = Type::Integer;
    r.m_integer = value;
    return r;
}

RedisReply RedisReply::string(QByteArray bytes)
{
    RedisReply r;
    r.m_type = Type::String;
    r.m_bytes = std::move(bytes);
    return r;
}

RedisReply RedisReply::array(std::vector<RedisReply> elements)
{
    RedisReply r;
    r.m_type = Type::Array;
    r.m_elements = std::move(elements);
    return r;
}

const RedisReply &RedisReply::at(size_t index) const
{
    static const RedisReply none;
    return index < m_elements.size() ? m_elements[index] : none;
}

QString RedisReply::describe() const
{
    switch (m_type) {
    case Type::Nil:
        return QStringLiteral("(nil)");
    case Type::Status:
        return QString::fromUtf8(m_bytes);
    case Type::Error:
        return QStringLiteral("(error) ") + QString::fromUtf8(m_bytes);
    case Type::Integer:
        return QStringLiteral("(integer) ") + QString::number(m_integer);
    case Type::String:
        return QLatin1Char('"') + escaped(m_bytes) + QLatin1Char('"');
    case Type::Array: {
        QStringList parts;
        for (const RedisReply &e : m_elements)
            parts.append(e.describe());
        return QLatin1Char('[') + parts.join(QStringLiteral(", ")) + QLatin1Char(']');
    }
    }
    return {};
}

bool operator==(const RedisReply &a, const RedisReply &b)
{
    return a.m_type == b.m_type && a.m_integer == b.m_integer && a.m_bytes == b.m_bytes
        && a.m_elements == b.m_elements;
}

QString redisReplyTypeName(RedisReply::Type type)
{
    switch (type) {
    case RedisReply::Type::Nil:
        return QStringLiteral("nil");
    case RedisReply::Type::Status:
        return QStringLiteral("status");
    case RedisReply::Type::Error:
        return QStringLiteral("error");
    case RedisReply::Type::Integer:
        return QStringLiteral("integer");
    case RedisReply::Type::String:
        return QStringLiteral("string");
    case RedisReply::Type::Array:
        return QStringLiteral("array");
    }
    return {};
}

} // namespace sluice
