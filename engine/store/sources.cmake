target_sources(sluice_engine PRIVATE
  store/queuedlead.cpp store/queuedlead.h
  store/rediskeys.h)
