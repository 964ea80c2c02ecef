target_sources(sluice_engine PRIVATE
  config/flagtable.cpp config/flagtable.h
  config/serveoptions.cpp config/serveoptions.h)
