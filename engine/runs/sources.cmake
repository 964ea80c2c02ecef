target_sources(sluice_engine PRIVATE
  runs/run.cpp runs/run.h
  runs/runledger.cpp runs/runledger.h
  runs/runreport.cpp runs/runreport.h
  runs/webhookfirer.cpp runs/webhookfirer.h)
