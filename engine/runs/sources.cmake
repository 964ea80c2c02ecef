target_sources(sluice_engine PRIVATE
  runs/loadtest.cpp runs/loadtest.h
  runs/run.cpp runs/run.h
  runs/webhookfirer.cpp runs/webhookfirer.h)
