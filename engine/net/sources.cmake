target_sources(sluice_engine PRIVATE
  net/apitransport.cpp net/apitransport.h
  net/httpfront.cpp net/httpfront.h
  net/httpserver.cpp net/httpserver.h
  net/requestgate.h)
