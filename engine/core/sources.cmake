target_sources(sluice_engine_core PRIVATE
  core/apicall.cpp core/apicall.h
  core/clock.cpp core/clock.h
  core/jsontext.cpp core/jsontext.h
  core/jsonvariant.cpp core/jsonvariant.h
  core/lead.cpp core/lead.h
  core/requestgate.cpp core/requestgate.h
  core/ringbuffer.h
  core/result.h
  core/secret.cpp core/secret.h
  core/spantext.cpp core/spantext.h
  core/windowstats.cpp core/windowstats.h)
