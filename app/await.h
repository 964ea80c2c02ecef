#pragma once

#include <QEventLoop>

#include <functional>
#include <optional>

/// For one-shot commands: starts an asynchronous call and runs the event loop until its
/// callback (handed to `start`) delivers the value, which is returned.
template<typename T> T await(const std::function<void(std::function<void(T)>)> &start)
{
    std::optional<T> value;
    QEventLoop loop;
    start([&](T v) {
        value.emplace(std::move(v));
        loop.quit();
    });
    if (!value)
        loop.exec();
    return std::move(*value);
}
