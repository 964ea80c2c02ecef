target_sources(sluice_engine_net PRIVATE
  net/apitransport.cpp net/apitransport.h
  net/httpfront.cpp net/httpfront.h
  net/httpserver.cpp net/httpserver.h
  net/upstreamgate.cpp net/upstreamgate.h)
