#pragma once

#include "runs/run.h"

namespace sluice::test {

/// When the sample runs were made: 2025-11-29 09:36:12 UTC.
constexpr qint64 kCreated = 1'764'408'972'000;

/// A finished 200-lead run with every part of a record filled in, so a report, an export or
/// a round trip that drops a field shows it. It failed one check ("all delivered").
inline RunRecord sampleRun(const QString &id, qint64 createdMs)
{
    RunRecord r;
    RunDefinition &d = r.definition;
    d.id = id;
    d.stage = QStringLiteral("200");
    d.leads = 200;
    d.campaign = QStringLiteral("TimeoutTest1764408972");
    d.timestamp = QStringLiteral("1764408972");
    d.concurrency = 50;
    d.signedWebhooks = true;
    d.mode = QStringLiteral("bulk");
    r.state = RunRecord::State::Finished;
    r.campaignCreatedByRun = true;
    r.createdMs = createdMs;
    r.firstSentMs = createdMs + 120;
    r.lastAckMs = createdMs + 4300;
    r.deliveredMs = createdMs + 25'100;
    r.finishedMs = createdMs + 31'000;
    r.predictedMs = 24'000;
    r.sent = 200;
    r.acknowledged = 200;
    r.ack = { 200, 12'345, 40'100, 88'000, 120'500 };
    r.acceptedPerSecond = 46.5;
    r.taskIds = { QStringLiteral("task-1") };
    r.delivered = 198;
    r.skipped = 2;
    r.retries = 1;
    r.rateLimitDelays = 3;
    r.upstreamRequests = 5;
    r.upstream429 = 0;
    r.breakerTrips = 0;
    r.worst1s = 4;
    r.worst60s = 5;
    r.cap1s = 10;
    r.cap60s = 600;
    VerifyReport v;
    v.atMs = createdMs + 40'000;
    v.listed = 198;
    v.present = 198;
    v.missing = { QStringLiteral("lance+1764408972+17@whiteboardgeeks.com"),
                  QStringLiteral("lance+1764408972+99@whiteboardgeeks.com") };
    r.verify = v;
    CleanupReport c;
    c.atMs = createdMs + 60'000;
    c.found = 198;
    c.deleted = 198;
    c.remaining = 0;
    c.campaignDeleted = true;
    r.cleanup = c;
    r.checks = { { QStringLiteral("acks under 30 s"), true, QStringLiteral("max 120.5 ms") },
                 { QStringLiteral("p99 ack under 1000 ms"), true, QStringLiteral("88.0 ms") },
                 { QStringLiteral("all delivered"), false, QStringLiteral("2 of 200 missing") },
                 { QStringLiteral("no duplicates"), true, QString() } };
    r.passed = false;
    return r;
}

/// sampleRun() that passed: every lead delivered, every check passed.
inline RunRecord passingRun(const QString &id, qint64 createdMs)
{
    RunRecord r = sampleRun(id, createdMs);
    r.delivered = 200;
    r.skipped = 0;
    r.verify->present = 200;
    r.verify->listed = 200;
    r.verify->missing.clear();
    r.checks[2] = { QStringLiteral("all delivered"), true, QStringLiteral("200 of 200") };
    r.passed = true;
    return r;
}

} // namespace sluice::test
