target_sources(sluice_engine PRIVATE
  config/serveoptions.cpp config/serveoptions.h)
