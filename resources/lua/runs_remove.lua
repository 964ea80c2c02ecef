-- Sluice run ledger: removes one run's record and its index entry together.
--
-- KEYS[1] the run's key, KEYS[2] sorted set of run ids by created Unix ms
-- ARGV[1] run id
-- Returns 1 when there was such a run (record or index entry), 0 otherwise.
local removed = redis.call('DEL', KEYS[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
if removed > 0 then
  return 1
end
return 0
