# One INTERFACE target that carries the language standard, warnings and Qt strictness
# defines. Every Sluice target links it, so the house rules apply everywhere alike.
add_library(sluice_config INTERFACE)
target_compile_features(sluice_config INTERFACE cxx_std_20)
target_compile_definitions(sluice_config INTERFACE
  QT_NO_CAST_FROM_ASCII
  QT_NO_CAST_TO_ASCII
  QT_NO_FOREACH
  QT_NO_NARROWING_CONVERSIONS_IN_CONNECT
  QT_DISABLE_DEPRECATED_BEFORE=0x060400
  QT_USE_QSTRINGBUILDER
  SLUICE_VERSION="${PROJECT_VERSION}")
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(sluice_config INTERFACE -Wall -Wextra -Wpedantic)
endif()
