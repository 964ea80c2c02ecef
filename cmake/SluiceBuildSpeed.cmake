# What makes a clean build fit CI's budget on two cores (issue 16 item 6). The levers here
# change how the build runs, never what it builds: the same sources, warnings, sanitizers and
# tests. Measured figures are in the commits that introduced each lever. Three more live
# elsewhere and do change the output a little: the asan and release presets keep line tables
# only (-g1, CMakePresets.json); the ASan build's suites leave out four UBSan checks
# (tests/CMakeLists.txt); and each test directory is one executable (tests/common/suite.h).

# lld links the test executables (each a copy of the static engine with ASan) several times
# faster than GNU ld. Used only where the compiler driver accepts it, so a machine without the
# `lld` package still builds with the default linker.
option(SLUICE_USE_LLD "Link with lld when the compiler accepts -fuse-ld=lld" ON)
if(SLUICE_USE_LLD)
  include(CheckLinkerFlag)
  check_linker_flag(CXX "-fuse-ld=lld" SLUICE_HAVE_LLD)
  if(SLUICE_HAVE_LLD)
    target_link_options(sluice_config INTERFACE "-fuse-ld=lld")
  endif()
endif()

# Unity builds for the libraries and the app: one translation unit per batch of sources parses
# Qt and nlohmann/json once and instantiates their templates once. Off in the dev preset, where
# a one-file edit should recompile one file.
option(SLUICE_UNITY_BUILD "Unity-build the engine, UI and app (batches of sources)" ON)
function(sluice_unity_build target)
  if(SLUICE_UNITY_BUILD)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  endif()
endfunction()

# Precompiled headers: the library headers nearly every file includes. Parsing them was about
# half of a typical engine file's compile time. Only headers whose meaning does not depend on
# which Qt modules a target links (QtTest and QtWidgets look at QT_GUI_LIB / QT_WIDGETS_LIB), so
# one precompiled header can serve every test. CMAKE_DISABLE_PRECOMPILE_HEADERS=ON turns them off.
set(SLUICE_PCH_HEADERS
  <algorithm> <chrono> <functional> <memory> <optional> <string> <utility> <vector>
  <QByteArray> <QDateTime> <QHash> <QList> <QObject> <QPointer> <QString> <QStringList>
  <QTimer> <QUrl> <QNetworkAccessManager> <QNetworkReply>
  <nlohmann/json.hpp>)

# moc output compiled where it belongs: every source whose header declares a Q_OBJECT ends with
# `#include "moc_<name>.cpp"`. AUTOMOC then leaves that output out of the target's
# mocs_compilation.cpp, and it compiles inside the source's unity batch, where Qt is already
# parsed. The 40-odd mocs_compilation.cpp files had cost 43 s of a 334 s release build, each
# loading the precompiled header or parsing Qt again; what is left of one is a comment, so it
# skips the precompiled header. A header-only Q_OBJECT gets a .cpp for the include alone
# (core/requestgate.cpp); the `conventions` test checks every header. scripts/tidy.sh gives
# these includes empty stand-ins, since it does not run moc.
function(sluice_moc_in_sources target)
  set_source_files_properties("${CMAKE_CURRENT_BINARY_DIR}/${target}_autogen/mocs_compilation.cpp"
    TARGET_DIRECTORY ${target} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
endfunction()
