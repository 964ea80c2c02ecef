target_sources(sluice_engine PRIVATE
  telemetry/telemetry.cpp telemetry/telemetry.h)
