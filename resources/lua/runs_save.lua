-- Sluice run ledger: stores one run record, indexes it by creation time and trims the ledger
-- to its retention, all at once, so the index never names a record that is not there.
--
-- KEYS[1] the run's key, KEYS[2] sorted set of run ids by created Unix ms
-- ARGV[1] the record as JSON, ARGV[2] created ms, ARGV[3] run id, ARGV[4] keep at most this
-- many runs, ARGV[5] the prefix of run keys ("sluice:<ns>:run:"): trimmed runs' keys derive
-- from it
-- Returns the ids of the runs trimmed, oldest first.
local key, index = KEYS[1], KEYS[2]
redis.call('SET', key, ARGV[1])
redis.call('ZADD', index, ARGV[2], ARGV[3])
local excess = redis.call('ZCARD', index) - tonumber(ARGV[4])
if excess <= 0 then
  return {}
end
local oldest = redis.call('ZRANGE', index, 0, excess - 1)
for _, id in ipairs(oldest) do
  redis.call('DEL', ARGV[5] .. id)
end
redis.call('ZREMRANGEBYRANK', index, 0, excess - 1)
return oldest
