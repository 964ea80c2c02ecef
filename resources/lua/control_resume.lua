-- Sluice control: ends a pause only if it is still the one a probe found over (its cause), so
-- an operator's pause made meanwhile is never lifted by a probe.
--
-- KEYS[1] control hash
-- ARGV[1] the cause the probe was for (instantly_key_rejected, close_key_rejected, ...)
-- Returns 1 when the pause ended, 0 when another pause (or none) is in force.
if redis.call('HGET', KEYS[1], 'paused_cause') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'paused', 'paused_cause', 'paused_ms')
  return 1
end
return 0
