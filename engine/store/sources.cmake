target_sources(sluice_engine_store PRIVATE
  store/queuedlead.cpp store/queuedlead.h
  store/rediskeys.h)
