-- Sluice shared circuit breaker: store one instance's new state for all of them, and log the
-- transitions that led to it. Written only if the stored version is still the one the writer
-- last saw; otherwise a newer state from another instance wins, nothing is logged (the
-- writer's transitions never took effect), and the writer adopts the stored state.
--
-- KEYS[1]  the breaker hash
-- KEYS[2]  the transitions stream
-- ARGV[1]  the version the writer's state is based on
-- ARGV[2]  T, the number of transitions; then T groups of from, to, at_ms, reason
-- ARGV[..] field, value, field, value, ... (CircuitBreaker::saveState())
-- Returns  the new version, or minus the stored version when the write was refused
local current = tonumber(redis.call('HGET', KEYS[1], 'version')) or 0
if current ~= tonumber(ARGV[1]) then
  return -current
end
local t = tonumber(ARGV[2])
for i = 0, t - 1 do
  local b = 3 + 4 * i
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'from', ARGV[b], 'to', ARGV[b + 1],
             'at', ARGV[b + 2], 'reason', ARGV[b + 3])
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'version', current + 1, unpack(ARGV, 3 + 4 * t))
return current + 1
