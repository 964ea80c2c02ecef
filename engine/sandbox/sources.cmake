target_sources(sluice_engine_sandbox PRIVATE
  sandbox/campaignschedule.cpp sandbox/campaignschedule.h
  sandbox/closeratelimiter.cpp sandbox/closeratelimiter.h
  sandbox/closestore.cpp sandbox/closestore.h
  sandbox/closetaskstore.cpp sandbox/closetaskstore.h
  sandbox/instantlyworkspace.cpp sandbox/instantlyworkspace.h
  sandbox/sandboxcontrol.cpp
  sandbox/sandboxemail.cpp sandbox/sandboxemail.h
  sandbox/sandboxoptions.cpp sandbox/sandboxoptions.h
  sandbox/sandboxserver.cpp sandbox/sandboxserver.h
  sandbox/stdstrings.h
  sandbox/sandboxstore.cpp sandbox/sandboxstore.h
  sandbox/slidingwindowlimiter.cpp sandbox/slidingwindowlimiter.h
  sandbox/storereply.cpp sandbox/storereply.h)
