target_sources(sluice_engine PRIVATE
  redis/luascripts.cpp redis/luascripts.h
  redis/privateredis.cpp redis/privateredis.h
  redis/redisclient.cpp redis/redisclient.h
  redis/rediserror.cpp redis/rediserror.h
  redis/redisoptions.cpp redis/redisoptions.h
  redis/redisreply.cpp redis/redisreply.h
  redis/redisurl.cpp redis/redisurl.h)
