target_sources(sluice_engine_config PRIVATE
  config/serveoptions.cpp config/serveoptions.h)
