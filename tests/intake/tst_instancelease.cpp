// The instance name a process keeps in its data directory: the same after a restart, a
// different one for each process sharing the directory, and an explicit name never held twice.
#include "common/suite.h"
#include "delivery/instancelease.h"

#include <QTemporaryDir>
#include <QTest>

using namespace sluice;

namespace {

// QVERIFY2 evaluates its message even when the check passes.
QString whyNot(const Result<std::unique_ptr<InstanceLease>, QString> &lease)
{
    return lease.ok() ? QString() : lease.error();
}

} // namespace

class TestInstanceLease : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void aRestartKeepsTheNameAndSharersGetTheirOwn()
    {
        QTemporaryDir dir;
        QString firstName;
        {
            auto first = InstanceLease::take(dir.path());
            QVERIFY2(first.ok(), qPrintable(whyNot(first)));
            firstName = first.value()->name();
            QCOMPARE(first.value()->slot(), 0);
            QVERIFY(!firstName.isEmpty());
            // A second process in the same directory (here: a second lease while the first
            // is held) takes the next slot and its own name.
            auto second = InstanceLease::take(dir.path());
            QVERIFY2(second.ok(), qPrintable(whyNot(second)));
            QCOMPARE(second.value()->slot(), 1);
            QVERIFY(second.value()->name() != firstName);
        }
        // Both gone: the first slot and its name are there for the restart.
        auto again = InstanceLease::take(dir.path());
        QVERIFY2(again.ok(), qPrintable(whyNot(again)));
        QCOMPARE(again.value()->slot(), 0);
        QCOMPARE(again.value()->name(), firstName);
    }

    void anExplicitNameIsHeldOnce()
    {
        QTemporaryDir dir;
        auto one = InstanceLease::take(dir.path(), QStringLiteral("worker-a"));
        QVERIFY2(one.ok(), qPrintable(whyNot(one)));
        QCOMPARE(one.value()->name(), QStringLiteral("worker-a"));
        QCOMPARE(one.value()->slot(), -1);
        auto two = InstanceLease::take(dir.path(), QStringLiteral("worker-a"));
        QVERIFY(!two.ok());
        QVERIFY2(two.error().contains(QStringLiteral("worker-a")), qPrintable(two.error()));
        // Another name is fine beside it.
        QVERIFY(InstanceLease::take(dir.path(), QStringLiteral("worker-b")).ok());
    }

    void anUnwritableDirectoryIsAClearError()
    {
        auto lease = InstanceLease::take(QStringLiteral("/proc/no-such-dir"));
        QVERIFY(!lease.ok());
        QVERIFY(!lease.error().isEmpty());
    }
};

SLUICE_TEST_GUILESS_MAIN(TestInstanceLease)
#include "tst_instancelease.moc"
