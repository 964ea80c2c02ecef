target_sources(sluice_engine PRIVATE
  control/fleetstatus.cpp control/fleetstatus.h
  control/operatorcontrol.cpp control/operatorcontrol.h)
