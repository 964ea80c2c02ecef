target_sources(sluice_engine_alerts PRIVATE
  alerts/alert.cpp alerts/alert.h
  alerts/alertcenter.cpp alerts/alertcenter.h
  alerts/alertrules.cpp alerts/alertrules.h
  alerts/alertsender.cpp alerts/alertsender.h)
target_sources(sluice_engine_alerts PRIVATE alerts/statusreport.cpp alerts/statusreport.h)
