target_sources(sluice_engine PRIVATE
  queue/queuedlead.cpp queue/queuedlead.h
  queue/rediskeys.h)
