target_sources(sluice_engine_limiter PRIVATE
  limiter/gcra.cpp limiter/gcra.h
  limiter/limiteroptions.cpp limiter/limiteroptions.h
  limiter/raterule.cpp limiter/raterule.h
  limiter/sendaudit.cpp limiter/sendaudit.h
  limiter/sharedratelimiter.cpp limiter/sharedratelimiter.h)
