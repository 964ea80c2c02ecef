target_sources(sluice_engine PRIVATE
  queue/bulkoutcome.cpp queue/bulkoutcome.h
  queue/campaigncheck.cpp queue/campaigncheck.h
  queue/campaignresolver.cpp queue/campaignresolver.h
  queue/dispatcher.cpp queue/dispatcher.h
  queue/dispatcheroptions.cpp queue/dispatcheroptions.h
  queue/leadreason.cpp queue/leadreason.h
  queue/parkedcampaigns.cpp queue/parkedcampaigns.h
  queue/pausecause.cpp queue/pausecause.h
  queue/queuedlead.cpp queue/queuedlead.h
  queue/rediskeys.h
  queue/retrypolicy.cpp queue/retrypolicy.h
  queue/schemagate.cpp queue/schemagate.h
  queue/settler.cpp queue/settler.h
  queue/streamconsumer.cpp queue/streamconsumer.h)
