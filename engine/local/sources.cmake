# The composition root: every part wired into one engine (listener, delivery, sandbox, runs).
target_sources(sluice_engine_local PRIVATE
  local/localengine.cpp local/localengine.h)
