target_sources(sluice_engine_config PRIVATE
  config/flagtable.cpp config/flagtable.h
  config/serveoptions.cpp config/serveoptions.h)
