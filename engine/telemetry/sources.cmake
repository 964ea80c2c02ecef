target_sources(sluice_engine_telemetry PRIVATE
  telemetry/forecaster.cpp telemetry/forecaster.h
  telemetry/metrics.cpp telemetry/metrics.h
  telemetry/telemetry.cpp telemetry/telemetry.h)
