target_sources(sluice_engine_control PRIVATE
  control/fleetstatus.cpp control/fleetstatus.h
  control/operatorcontrol.cpp control/operatorcontrol.h)
