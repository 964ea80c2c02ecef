-- Sluice dispatcher: moves retries that are due back into the leads stream, atomically (an
-- entry is never in both, nor in neither).
--
-- KEYS[1] retries zset (members: JSON arrays of stream fields, scored by not-before Unix ms)
-- KEYS[2] leads stream
-- ARGV[1] now (Unix ms), ARGV[2] at most this many
-- Returns the number moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', unpack(cjson.decode(member)))
  redis.call('ZREM', KEYS[1], member)
end
return #due
