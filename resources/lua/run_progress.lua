-- Sluice load test: the progress of a run's tasks, summed in one round trip.
-- KEYS  the run's task hashes (one per webhook)
-- Returns {found, total, processed, succeeded, skipped, failed, dead, retries,
--          rate_limit_delays}; a task hash not (yet, or any more) there is not found.
local sums = {0, 0, 0, 0, 0, 0, 0, 0, 0}
local fields = {'total', 'processed', 'succeeded', 'skipped', 'failed', 'dead', 'retries',
                'rate_limit_delays'}
for _, key in ipairs(KEYS) do
  local h = redis.call('HMGET', key, unpack(fields))
  if h[1] then
    sums[1] = sums[1] + 1
    for i = 1, #fields do sums[i + 1] = sums[i + 1] + (tonumber(h[i]) or 0) end
  end
end
return sums
