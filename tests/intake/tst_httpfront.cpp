// The intake's lean HTTP/1.1 front on its own, over raw TCP: pipelined answers in request
// order, limits applied while reading (413 before the body, 431), timeouts for idle and
// half-sent connections, the connection bound, keep-alive and 100-continue.

#include "common/suite.h"
#include "net/httpfront.h"

#include <QTcpSocket>
#include <QTest>

#include <nlohmann/json.hpp>

using namespace sluice;
using namespace std::chrono_literals;

namespace {

struct Answer
{
    int status = 0;
    QByteArray headers;
    QByteArray body;
};

/// Whole answers at the start of `buffer`, removed from it; a partial one is left.
QList<Answer> takeAnswers(QByteArray &buffer)
{
    QList<Answer> answers;
    while (true) {
        const qsizetype end = buffer.indexOf("\r\n\r\n");
        if (end < 0)
            break;
        Answer a;
        a.headers = buffer.left(end);
        a.status = buffer.mid(9, 3).toInt();
        qsizetype length = 0;
        for (const QByteArray &line : a.headers.split('\n')) {
            if (line.toLower().startsWith("content-length:"))
                length = line.mid(15).trimmed().toLongLong();
        }
        if (buffer.size() < end + 4 + length)
            break;
        a.body = buffer.mid(end + 4, length);
        buffer.remove(0, end + 4 + length);
        answers.append(a);
    }
    return answers;
}

class Client
{
public:
    explicit Client(quint16 port) { m_socket.connectToHost(QHostAddress::LocalHost, port); }
    bool connected() { return m_socket.waitForConnected(5000); }
    void send(const QByteArray &bytes)
    {
        m_socket.write(bytes);
        m_socket.flush();
    }
    /// Waits until `count` whole answers came (or 10 s passed) and returns them.
    QList<Answer> answers(int count)
    {
        // Timing out is not an error here: the caller compares the count it got.
        (void)QTest::qWaitFor(
            [&] {
                m_buffer += m_socket.readAll();
                QByteArray copy = m_buffer;
                return takeAnswers(copy).size() >= count
                    || m_socket.state() == QAbstractSocket::UnconnectedState;
            },
            10'000);
        m_buffer += m_socket.readAll();
        return takeAnswers(m_buffer);
    }
    bool closedByServer()
    {
        return QTest::qWaitFor(
            [&] {
                m_buffer += m_socket.readAll();
                return m_socket.state() == QAbstractSocket::UnconnectedState;
            },
            10'000);
    }
    QTcpSocket &socket() { return m_socket; }

private:
    QTcpSocket m_socket;
    QByteArray m_buffer;
};

QByteArray get(const QByteArray &path, const QByteArray &extra = {})
{
    return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
}

QByteArray post(const QByteArray &path, const QByteArray &body, const QByteArray &extra = {})
{
    return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + QByteArray::number(body.size()) + "\r\n" + extra + "\r\n" + body;
}

std::string detailOf(const Answer &a)
{
    const auto j = nlohmann::json::parse(a.body.toStdString(), nullptr, false);
    if (!j.is_object() || !j.contains("error") || !j.contains("detail") || !j["detail"].is_string())
        return {};
    return j["detail"].get<std::string>();
}

class TestFront : public HttpFront
{
public:
    TestFront()
    {
        addRoute("GET", QStringLiteral("/fast"), [this](const HttpRequest &r, HttpResponder out) {
            ++fastCalls;
            out.sendJson(200, "{\"query\":\"" + r.query.toString().toUtf8() + "\"}");
        });
        addRoute("POST", QStringLiteral("/held"), [this](const HttpRequest &r, HttpResponder out) {
            heldBodies.append(r.body);
            held.append(std::move(out));
        });
        addRoute("POST", QStringLiteral("/dropped"),
                 [](const HttpRequest &, HttpResponder) { /* never answers */ });
    }
    QList<HttpResponder> held;
    QList<QByteArray> heldBodies;
    int fastCalls = 0;
    QList<int> refused;

protected:
    void refusedEarly(int status) override { refused.append(status); }
};

} // namespace

class TestHttpFront : public QObject
{
    Q_OBJECT

private:
    std::unique_ptr<TestFront> m_front;
    quint16 m_port = 0;

    void start(const HttpFrontLimits &limits = {}, qint64 maxBody = 1 << 20)
    {
        m_front = std::make_unique<TestFront>();
        m_front->setLimits(limits);
        m_front->setMaxBodyBytes(maxBody);
        m_port = m_front->listen(QHostAddress::LocalHost, 0);
        QVERIFY(m_port != 0);
    }

private Q_SLOTS:
    void cleanup() { m_front.reset(); }

    void pipelinedAnswersLeaveInRequestOrder()
    {
        start();
        Client c(m_port);
        QVERIFY(c.connected());
        // One write: a request answered late, then two answered at once.
        c.send(post("/held", "{\"n\":1}") + get("/fast?n=2") + get("/fast?n=3"));
        QTRY_COMPARE(m_front->held.size(), 1);
        QTRY_COMPARE(m_front->fastCalls, 2);
        QCOMPARE(m_front->heldBodies.at(0), QByteArray("{\"n\":1}"));
        m_front->held[0].sendJson(202, "{\"first\":true}");
        const QList<Answer> answers = c.answers(3);
        QCOMPARE(answers.size(), 3);
        QCOMPARE(answers[0].status, 202);
        QCOMPARE(answers[0].body, QByteArray("{\"first\":true}"));
        QCOMPARE(answers[1].status, 200);
        QVERIFY2(answers[1].body.contains("n=2"), answers[1].body.constData());
        QCOMPARE(answers[2].status, 200);
        QVERIFY2(answers[2].body.contains("n=3"), answers[2].body.constData());
        // Keep-alive: the same connection serves another request.
        c.send(get("/fast?n=4"));
        const QList<Answer> more = c.answers(1);
        QCOMPARE(more.size(), 1);
        QVERIFY(more[0].body.contains("n=4"));
    }

    void declaredLengthOverTheLimitIsRefusedBeforeTheBody()
    {
        start({}, 1000);
        Client c(m_port);
        QVERIFY(c.connected());
        // Headers only: the 10 MB body is never sent, so only an answer given at once arrives.
        c.send("POST /held HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: 10000000\r\n\r\n");
        const QList<Answer> answers = c.answers(1);
        QCOMPARE(answers.size(), 1);
        QCOMPARE(answers[0].status, 413);
        QVERIFY2(detailOf(answers[0]).find("10000000") != std::string::npos,
                 answers[0].body.constData());
        QVERIFY(m_front->held.isEmpty());
        QCOMPARE(m_front->refused, QList<int>({ 413 }));
    }

    void bodyOverTheLimitIsRefusedAndTheAnswerSurvives()
    {
        start({}, 1000);
        Client c(m_port);
        QVERIFY(c.connected());
        // The whole oversized body sent at once: the client must still read its 413.
        c.send(post("/held", QByteArray(200'000, 'x')));
        const QList<Answer> answers = c.answers(1);
        QCOMPARE(answers.size(), 1);
        QCOMPARE(answers[0].status, 413);
        QVERIFY(c.closedByServer());
    }

    void headersOverTheLimitAre431()
    {
        HttpFrontLimits limits;
        limits.maxHeaderBytes = 1024;
        start(limits);
        Client c(m_port);
        QVERIFY(c.connected());
        c.send(get("/fast", "X-Pad: " + QByteArray(2000, 'p') + "\r\n"));
        const QList<Answer> answers = c.answers(1);
        QCOMPARE(answers.size(), 1);
        QCOMPARE(answers[0].status, 431);
        QVERIFY(answers[0].headers.startsWith("HTTP/1.1 431 Request Header Fields Too Large"));
        QVERIFY(answers[0].body.contains("\"error\":\"Request Header Fields Too Large\""));
        QVERIFY(!detailOf(answers[0]).empty());
        QCOMPARE(m_front->fastCalls, 0);
        QVERIFY(c.closedByServer());
    }

    void halfSentRequestTimesOutWith408()
    {
        HttpFrontLimits limits;
        limits.requestTimeout = 300ms;
        start(limits);
        Client c(m_port);
        QVERIFY(c.connected());
        c.send("POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        const QList<Answer> answers = c.answers(1);
        QCOMPARE(answers.size(), 1);
        QCOMPARE(answers[0].status, 408);
        QVERIFY(c.closedByServer());
        QVERIFY(m_front->held.isEmpty());
    }

    void requestsHeldBackByThePipelineBoundDoNotTimeOut()
    {
        // The client sent everything at once; only the bound keeps the second request unread
        // while the first waits for its answer (for Redis, in the intake). That wait is ours,
        // so it must not be answered 408.
        HttpFrontLimits limits;
        limits.requestTimeout = 200ms;
        limits.maxPipelined = 1;
        start(limits);
        Client c(m_port);
        QVERIFY(c.connected());
        c.send(post("/held", "{}") + get("/fast?n=2"));
        QTRY_COMPARE(m_front->held.size(), 1);
        QCOMPARE(m_front->fastCalls, 0);
        // A half-sent request opened after it times out: by then the request timeout has
        // passed for the held-back request too.
        Client witness(m_port);
        QVERIFY(witness.connected());
        witness.send("POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        QCOMPARE(witness.answers(1).value(0).status, 408);
        QCOMPARE(c.socket().state(), QAbstractSocket::ConnectedState);
        QCOMPARE(m_front->refused.count(408), 1); // the witness only
        m_front->held[0].sendJson(202, "{}");
        const QList<Answer> answers = c.answers(2);
        QCOMPARE(answers.size(), 2);
        QCOMPARE(answers[0].status, 202);
        QCOMPARE(answers[1].status, 200);
        QVERIFY2(answers[1].body.contains("n=2"), answers[1].body.constData());
    }

    void idleConnectionsAreClosed()
    {
        HttpFrontLimits limits;
        limits.idleTimeout = 300ms;
        start(limits);
        Client silent(m_port);
        QVERIFY(silent.connected());
        Client served(m_port);
        QVERIFY(served.connected());
        served.send(get("/fast"));
        QCOMPARE(served.answers(1).size(), 1);
        QVERIFY(silent.closedByServer());
        QVERIFY(served.closedByServer());
        QTRY_COMPARE(m_front->connectionCount(), 0);
    }

    void aConnectionWaitingForItsAnswerIsNotIdle()
    {
        HttpFrontLimits limits;
        limits.idleTimeout = 200ms;
        start(limits);
        Client c(m_port);
        QVERIFY(c.connected());
        c.send(post("/held", "{}"));
        QTRY_COMPARE(m_front->held.size(), 1);
        // A silent connection opened after it is closed for idling: by then the idle timeout
        // has passed for the first one too, which owes an answer and so stays.
        Client witness(m_port);
        QVERIFY(witness.connected());
        QVERIFY(witness.closedByServer());
        QCOMPARE(c.socket().state(), QAbstractSocket::ConnectedState);
        m_front->held[0].sendJson(202, "{}");
        QCOMPARE(c.answers(1).value(0).status, 202);
    }

    void connectionsAreBounded()
    {
        HttpFrontLimits limits;
        limits.maxConnections = 2;
        start(limits);
        Client a(m_port), b(m_port);
        QVERIFY(a.connected() && b.connected());
        QTRY_COMPARE(m_front->connectionCount(), 2);
        Client c(m_port);
        QVERIFY(c.connected());
        const QList<Answer> answers = c.answers(1);
        QCOMPARE(answers.size(), 1);
        QCOMPARE(answers[0].status, 503);
        QVERIFY(detailOf(answers[0]).find("connections") != std::string::npos);
        QVERIFY(c.closedByServer());
        // The first two still work.
        a.send(get("/fast"));
        QCOMPARE(a.answers(1).value(0).status, 200);
    }

    void connectionCloseIsHonoured()
    {
        start();
        Client c(m_port);
        QVERIFY(c.connected());
        c.send(get("/fast", "Connection: close\r\n") + get("/fast"));
        const QList<Answer> answers = c.answers(2);
        QCOMPARE(answers.size(), 1); // nothing after "Connection: close" is read
        QVERIFY(answers[0].headers.contains("Connection: close"));
        QVERIFY(c.closedByServer());
        QCOMPARE(m_front->fastCalls, 1);
    }

    void malformedRequestsAre400AndRoutingErrorsStay()
    {
        start();
        Client bad(m_port);
        QVERIFY(bad.connected());
        bad.send("NOT HTTP AT ALL\r\n\r\n");
        const QList<Answer> a = bad.answers(1);
        QCOMPARE(a.size(), 1);
        QCOMPARE(a[0].status, 400);
        QVERIFY(!detailOf(a[0]).empty());

        Client c(m_port);
        QVERIFY(c.connected());
        c.send(get("/held") + get("/nowhere") + post("/dropped", "{}"));
        const QList<Answer> answers = c.answers(3);
        QCOMPARE(answers.size(), 3);
        QCOMPARE(answers[0].status, 405);
        QVERIFY(answers[0].headers.contains("Allow: POST"));
        QCOMPARE(answers[1].status, 404);
        QCOMPARE(answers[2].status, 500); // a handler that never answers
        QVERIFY(!detailOf(answers[2]).empty());
    }

    void expectContinueIsAnswered()
    {
        start();
        Client c(m_port);
        QVERIFY(c.connected());
        c.send("POST /held HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
               "Expect: 100-continue\r\n\r\n");
        const QList<Answer> interim = c.answers(1);
        QCOMPARE(interim.size(), 1);
        QCOMPARE(interim[0].status, 100);
        c.send("{}");
        QTRY_COMPARE(m_front->held.size(), 1);
        m_front->held[0].sendJson(202, "{}");
        QCOMPARE(c.answers(1).value(0).status, 202);
    }
};

SLUICE_TEST_GUILESS_MAIN(TestHttpFront)
#include "tst_httpfront.moc"
