target_sources(sluice_engine PRIVATE
  control/operatorcontrol.cpp control/operatorcontrol.h)
