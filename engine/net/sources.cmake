target_sources(sluice_engine PRIVATE
  net/httpserver.cpp net/httpserver.h)
