// RequestGate is an interface; this file exists so that its moc output compiles in core's unity
// batch with the precompiled header, like every other Q_OBJECT's (cmake/SluiceBuildSpeed.cmake).
#include "requestgate.h"

#include "moc_requestgate.cpp" // NOLINT(bugprone-suspicious-include)
