target_sources(sluice_engine_breaker PRIVATE
  breaker/breakeroptions.cpp breaker/breakeroptions.h
  breaker/breakeroutcome.cpp breaker/breakeroutcome.h
  breaker/breakerwindow.cpp breaker/breakerwindow.h
  breaker/circuitbreaker.cpp breaker/circuitbreaker.h
  breaker/sharedbreaker.cpp breaker/sharedbreaker.h)
