target_sources(sluice_engine PRIVATE
  runs/run.cpp runs/run.h
  runs/webhookfirer.cpp runs/webhookfirer.h)
