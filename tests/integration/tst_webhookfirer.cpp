// WebhookFirer against real servers on loopback: sluice::HttpServer for the normal path, and
// a raw QTcpServer for the HTTP shapes our own server never sends (chunked, Connection:
// close, garbage) and for a server that never answers.
#include "common/suite.h"
#include "net/httpserver.h"
#include "runs/webhookfirer.h"

#include <QSet>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>
#include <QTimer>

using namespace sluice;

namespace {

std::vector<FireRequest> numberedBodies(int n)
{
    std::vector<FireRequest> requests;
    for (int i = 0; i < n; ++i)
        requests.push_back({ QByteArray::number(i), { { "X-Index", QByteArray::number(i) } } });
    return requests;
}

FireOptions optionsFor(quint16 port, int concurrency)
{
    FireOptions o;
    o.target = QUrl(QStringLiteral("http://127.0.0.1:%1/hook").arg(port));
    o.concurrency = concurrency;
    return o;
}

/// A raw server that answers every request with `answer` (or never, when empty).
class RawServer : public QTcpServer
{
public:
    explicit RawServer(QByteArray answer)
        : m_answer(std::move(answer))
    {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *s = nextPendingConnection()) {
                ++connections;
                connect(s, &QTcpSocket::readyRead, s, [this, s] {
                    s->readAll();
                    if (!m_answer.isEmpty())
                        s->write(m_answer);
                });
            }
        });
        listen(QHostAddress::LocalHost, 0);
    }
    int connections = 0;

private:
    QByteArray m_answer;
};

bool runToEnd(WebhookFirer &firer)
{
    QSignalSpy finished(&firer, &WebhookFirer::finished);
    firer.start();
    return finished.wait(30'000) && firer.isFinished();
}

} // namespace

class TestWebhookFirer : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void postsEveryBodyOverKeptAliveConnections()
    {
        HttpServer server;
        QSet<QByteArray> seen;
        int outstanding = 0, mostAtOnce = 0;
        server.addRoute("POST", QStringLiteral("/hook"),
                        [&](const HttpRequest &request, HttpResponder responder) {
                            seen.insert(request.body);
                            QVERIFY(request.header("X-Index") == request.body);
                            mostAtOnce = std::max(mostAtOnce, ++outstanding);
                            // Answer on the next turn so requests overlap.
                            QTimer::singleShot(0, [&outstanding, responder, request]() mutable {
                                --outstanding;
                                responder.sendJson(202, "{\"task_id\":\"" + request.body + "\"}");
                            });
                        });
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        const quint16 port = server.servers().constFirst()->serverPort();

        const int n = 500;
        WebhookFirer firer(optionsFor(port, 20), numberedBodies(n));
        QSignalSpy progress(&firer, &WebhookFirer::progress);
        QVERIFY(runToEnd(firer));
        QCOMPARE(firer.completed(), n);
        QCOMPARE(progress.size(), n);
        QCOMPARE(seen.size(), n);
        QVERIFY(mostAtOnce <= 20);
        QVERIFY(mostAtOnce > 1);
        QVERIFY(!firer.stopReason());
        for (int i = 0; i < n; ++i) {
            const FireResult &r = firer.results()[size_t(i)];
            QVERIFY(r.sent);
            QCOMPARE(r.status, 202);
            QCOMPARE(r.body, "{\"task_id\":\"" + QByteArray::number(i) + "\"}");
            QVERIFY(r.latencyUs > 0);
        }
        const LatencySummary s = summarizeLatency(firer.results());
        QCOMPARE(s.count, n);
        QVERIFY(s.p50 <= s.p95 && s.p95 <= s.p99 && s.p99 <= s.max);
    }

    void reusesConnectionsInsteadOfOpeningOnePerRequest()
    {
        RawServer server("HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}");
        WebhookFirer firer(optionsFor(server.serverPort(), 4), numberedBodies(100));
        QVERIFY(runToEnd(firer));
        QCOMPARE(firer.completed(), 100);
        QCOMPARE(server.connections, 4);
    }

    void readsChunkedAndConnectionCloseAnswers_data()
    {
        QTest::addColumn<QByteArray>("answer");
        QTest::addColumn<QByteArray>("body");
        QTest::newRow("chunked") << QByteArray(
            "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: "
            "chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n")
                                 << QByteArray("{\"a\":1}");
        QTest::newRow("close") << QByteArray("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-"
                                             "Length: 2\r\n\r\nok")
                               << QByteArray("ok");
    }
    void readsChunkedAndConnectionCloseAnswers()
    {
        QFETCH(QByteArray, answer);
        QFETCH(QByteArray, body);
        RawServer server(answer);
        WebhookFirer firer(optionsFor(server.serverPort(), 2), numberedBodies(6));
        QVERIFY(runToEnd(firer));
        for (const FireResult &r : firer.results()) {
            QVERIFY2(r.status >= 200 && r.status < 300, qPrintable(r.error));
            QCOMPARE(r.body, body);
        }
    }

    void failFastStopsAtTheFirstBadAnswerAndSaysWhy()
    {
        HttpServer server;
        int served = 0;
        server.addRoute("POST", QStringLiteral("/hook"),
                        [&](const HttpRequest &, HttpResponder responder) {
                            ++served;
                            if (served == 10)
                                server.sendError(responder, 500, QStringLiteral("boom"));
                            else
                                responder.sendJson(202, "{}");
                        });
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        FireOptions o = optionsFor(server.servers().constFirst()->serverPort(), 1);
        o.failFast = true;
        WebhookFirer firer(o, numberedBodies(50));
        QVERIFY(runToEnd(firer));
        QVERIFY(firer.stopReason().has_value());
        QCOMPARE(*firer.stopReason(), QStringLiteral("request 10 of 50: HTTP 500"));
        QCOMPARE(firer.completed(), 10);
        QVERIFY(!firer.results()[10].sent);
        QCOMPARE(served, 10);
    }

    void timesOutASilentServer()
    {
        RawServer silent { QByteArray() };
        FireOptions o = optionsFor(silent.serverPort(), 2);
        o.timeout = std::chrono::milliseconds { 200 };
        WebhookFirer firer(o, numberedBodies(3));
        QVERIFY(runToEnd(firer));
        QCOMPARE(firer.completed(), 3);
        for (const FireResult &r : firer.results()) {
            QCOMPARE(r.status, 0);
            QCOMPARE(r.error, QStringLiteral("no answer within 200 ms"));
        }
        QCOMPARE(summarizeLatency(firer.results()).count, 0);
    }

    void reportsARefusedConnectionPerRequest()
    {
        quint16 port = 0;
        {
            QTcpServer probe;
            QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
            port = probe.serverPort();
        }
        WebhookFirer firer(optionsFor(port, 3), numberedBodies(5));
        QVERIFY(runToEnd(firer));
        QCOMPARE(firer.completed(), 5);
        for (const FireResult &r : firer.results()) {
            QCOMPARE(r.status, 0);
            QVERIFY(!r.error.isEmpty());
        }
    }

    void rejectsABadTargetWithoutSending()
    {
        FireOptions o;
        o.target = QUrl(QStringLiteral("ftp://example.com/x"));
        QVERIFY(o.problem().has_value());
        WebhookFirer firer(o, numberedBodies(2));
        QVERIFY(runToEnd(firer));
        QVERIFY(firer.stopReason()->contains(QStringLiteral("not an http")));
        QVERIFY(!firer.results()[0].sent);
    }

    void summarizesWithNearestRank()
    {
        std::vector<FireResult> results(100);
        for (int i = 0; i < 100; ++i) {
            results[size_t(i)].status = 202;
            results[size_t(i)].latencyUs = 100 - i; // 1..100 in reverse
        }
        results.push_back(FireResult {}); // unanswered: not a latency sample
        const LatencySummary s = summarizeLatency(results);
        QCOMPARE(s.count, 100);
        QCOMPARE(s.p50, 50);
        QCOMPARE(s.p95, 95);
        QCOMPARE(s.p99, 99);
        QCOMPARE(s.max, 100);
    }
};

SLUICE_TEST_GUILESS_MAIN(TestWebhookFirer)
#include "tst_webhookfirer.moc"
