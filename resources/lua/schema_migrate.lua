-- Sluice schema 1 -> 2: moves one chunk of the delivered set (no expiry) into the delivered
-- sorted set, scored by now, so a member is in one of the two at every moment. Run by one
-- instance under the schema lock, chunk after chunk until it returns 0.
--
-- KEYS[1] schema 1's delivered set, KEYS[2] delivered sorted set
-- ARGV[1] members per chunk, ARGV[2] now (Unix ms)
-- Returns the number of members moved.
local moved = redis.call('SPOP', KEYS[1], tonumber(ARGV[1]))
for i = 1, #moved do
  redis.call('ZADD', KEYS[2], 'NX', ARGV[2], moved[i])
end
return #moved
