target_sources(sluice_engine PRIVATE
  runs/apiretry.cpp runs/apiretry.h
  runs/campaignreader.cpp runs/campaignreader.h
  runs/cleaner.cpp runs/cleaner.h
  runs/loadtest.cpp runs/loadtest.h
  runs/run.cpp runs/run.h
  runs/verifier.cpp runs/verifier.h
  runs/webhookfirer.cpp runs/webhookfirer.h)
