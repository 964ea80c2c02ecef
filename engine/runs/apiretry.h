#pragma once

#include "net/apitransport.h"

#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>

#include <chrono>
#include <functional>
#include <optional>

namespace sluice {

/// How the run tools (verify, clean up) ride out a 429 or a transient failure of one request.
/// The gate on the client already spaces requests out; this covers what still goes wrong, so
/// a 20-page listing does not fail on one 503 in the middle.
struct ApiRetryOptions
{
    int maxAttempts = 4; ///< per request, the first one included; 1..20
    /// Before the second attempt; doubled for each further one. A Retry-After wins.
    std::chrono::milliseconds baseDelay { 1000 };
    std::chrono::milliseconds maxDelay { 30'000 };

    std::optional<QString> problem() const;
    /// A 429, a 5xx, a timeout or a dropped connection: worth asking again.
    static bool retryable(const ApiResult &result);
    /// The wait after `failedAttempts` (1, 2, ...) failures, the last one `result`.
    std::chrono::milliseconds delay(int failedAttempts, const ApiResult &result) const;
};

/// Calls `request` with a callback, and again after ApiRetryOptions::delay() while the answer is
/// retryable and attempts are left; `done` gets the last answer. Nothing more happens once
/// `context` is destroyed (not even `done`).
template<typename T>
void callWithRetries(QObject *context, const ApiRetryOptions &options,
                     std::function<void(ApiCallback<T>)> request, ApiCallback<T> done,
                     int attempt = 1)
{
    QPointer<QObject> guard(context);
    auto again = request;
    request([guard, options, again = std::move(again), done = std::move(done),
             attempt](ApiReply<T> reply) {
        if (!guard)
            return;
        if (reply.ok() || attempt >= options.maxAttempts
            || !ApiRetryOptions::retryable(reply.error())) {
            done(std::move(reply));
            return;
        }
        QTimer::singleShot(options.delay(attempt, reply.error()), guard.data(),
                           [guard, options, again, done, attempt]() {
                               callWithRetries<T>(guard.data(), options, again, done, attempt + 1);
                           });
    });
}

} // namespace sluice
