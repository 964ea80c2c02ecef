target_sources(sluice_engine PRIVATE
  runs/webhookfirer.cpp runs/webhookfirer.h)
