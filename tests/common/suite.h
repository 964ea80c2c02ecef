#pragma once

// One executable per test directory holds all of that directory's suites, and CTest runs each
// suite on its own: `queue_suites tst_dispatcher [Qt Test options]`. A suite file ends with one
// of the macros below instead of Qt's QTEST_*_MAIN; each does what Qt's does (the same
// application object, initMain(), the source path for QFINDTESTDATA), in a function the
// directory's main() calls by the suite's file name (common/suitemain.cpp).
//
// Why: 58 executables meant 58 links, 58 moc runs and 58 mocs_compilation files in every clean
// build, now 11 (issue 16 item 6: a clean ASan build's CPU went from 784 s to 740 s), and a
// directory's suites can share a unity translation unit (tests/CMakeLists.txt).

#include <QTest>

namespace sluice::test {

using SuiteMain = int (*)(int argc, char *argv[]);

/// Records `main` under the base name of `file` ("…/tst_dispatcher.cpp" → "tst_dispatcher").
bool registerSuite(const char *file, SuiteMain main);

} // namespace sluice::test

#define SLUICE_SUITE_WRAPPER(TestObject, ...)                                                      \
    namespace {                                                                                    \
    int sluiceSuiteMain_##TestObject(int argc, char *argv[])                                       \
    {                                                                                              \
        QT_PREPEND_NAMESPACE(QTest::Internal::callInitMain)<TestObject>();                         \
        __VA_ARGS__                                                                                \
        TestObject tc;                                                                             \
        QTEST_SET_MAIN_SOURCE_PATH                                                                 \
        return QTest::qExec(&tc, argc, argv);                                                      \
    }                                                                                              \
    [[maybe_unused]] const bool sluiceSuiteRegistered_##TestObject                                 \
        = ::sluice::test::registerSuite(__FILE__, &sluiceSuiteMain_##TestObject);                  \
    }

/// Qt's QTEST_APPLESS_MAIN: no application object.
#define SLUICE_TEST_APPLESS_MAIN(TestObject) SLUICE_SUITE_WRAPPER(TestObject)
/// Qt's QTEST_GUILESS_MAIN: a QCoreApplication.
#define SLUICE_TEST_GUILESS_MAIN(TestObject)                                                       \
    SLUICE_SUITE_WRAPPER(TestObject, QTEST_QAPP_SETUP(QCoreApplication))
/// Qt's QTEST_MAIN: a QApplication where the suite links Qt Widgets.
#define SLUICE_TEST_MAIN(TestObject) SLUICE_SUITE_WRAPPER(TestObject, QTEST_MAIN_SETUP())
