#pragma once

#include "redis/redisclient.h"

#include <QEventLoop>
#include <QTest>
#include <QTimer>

#include <memory>
#include <optional>

namespace sluice {

/// Lets QCOMPARE print replies (found by argument-dependent lookup).
inline char *toString(const RedisReply &reply)
{
    return qstrdup(reply.describe().toUtf8().constData());
}

} // namespace sluice

namespace sluice::test {

/// Captures the result of one Redis command for QTRY_VERIFY(c.done()), and counts how often
/// the callback ran (it must be exactly once). The callback shares its state, so it stays
/// safe to call after this object is gone.
class CapturedReply
{
public:
    RedisCallback callback()
    {
        return [state = m_state](RedisResult r) {
            ++state->calls;
            state->result.emplace(std::move(r));
        };
    }
    bool done() const { return m_state->result.has_value(); }
    int calls() const { return m_state->calls; }
    bool ok() const { return done() && m_state->result->ok(); }
    const RedisReply &reply() const { return m_state->result->value(); }
    const RedisError &error() const { return m_state->result->error(); }
    std::optional<RedisError::Kind> errorKind() const
    {
        if (!done() || ok())
            return std::nullopt;
        return error().kind;
    }
    /// For QVERIFY2 messages, which are evaluated even when the check passes.
    QString describe() const
    {
        if (!done())
            return QStringLiteral("no result yet");
        return ok() ? reply().describe() : error().describe();
    }

private:
    struct State
    {
        int calls = 0;
        std::optional<RedisResult> result;
    };
    std::shared_ptr<State> m_state = std::make_shared<State>();
};

/// Runs one command and waits for its result in a local event loop (a Timeout error if none
/// came in `waitMs`). Unlike QTRY_VERIFY, it returns as soon as the reply is there.
inline RedisResult execute(RedisClient &client, const QList<QByteArray> &argv, int waitMs = 10'000)
{
    struct Wait
    {
        std::optional<RedisResult> result;
        QEventLoop *loop = nullptr;
    };
    auto wait = std::make_shared<Wait>();
    QEventLoop loop;
    wait->loop = &loop;
    client.command(argv, [wait](RedisResult r) {
        wait->result.emplace(std::move(r));
        if (wait->loop)
            wait->loop->quit();
    });
    if (!wait->result) {
        QTimer::singleShot(waitMs, &loop, &QEventLoop::quit);
        loop.exec();
    }
    wait->loop = nullptr;
    if (!wait->result) {
        RedisError error;
        error.kind = RedisError::Kind::Timeout;
        error.message = QStringLiteral("the test gave up waiting");
        return error;
    }
    return std::move(*wait->result);
}

/// execute(), for a test that checks the reply itself: the reply, or after a warning saying
/// why, an empty one (which then fails the test's comparison).
inline RedisReply executeOrWarn(RedisClient &client, const QList<QByteArray> &argv)
{
    const RedisResult r = execute(client, argv);
    if (!r.ok()) {
        qWarning("%s failed: %s", argv.front().constData(), qPrintable(r.error().describe()));
        return {};
    }
    return r.value();
}

} // namespace sluice::test
