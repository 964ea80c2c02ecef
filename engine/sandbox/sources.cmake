target_sources(sluice_engine PRIVATE
  sandbox/sandboxoptions.cpp sandbox/sandboxoptions.h
  sandbox/sandboxserver.cpp sandbox/sandboxserver.h
  sandbox/sandboxstore.cpp sandbox/sandboxstore.h
  sandbox/slidingwindowlimiter.cpp sandbox/slidingwindowlimiter.h)
