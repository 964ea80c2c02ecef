target_sources(sluice_engine PRIVATE
  queue/dispatcher.cpp queue/dispatcher.h
  queue/dispatcheroptions.cpp queue/dispatcheroptions.h
  queue/queuedlead.cpp queue/queuedlead.h
  queue/rediskeys.h
  queue/retrypolicy.cpp queue/retrypolicy.h)
