-- Sluice dispatcher: the fence around ownership. For each stream entry, whether this consumer
-- still owns it (pending for it in the group). The ones it owns are claimed again with their
-- idle time reset (the heartbeat); XCLAIM is only ever applied to entries this consumer owns,
-- so it never takes an entry back from a consumer that reclaimed it meanwhile. The dispatcher
-- calls this before it sends a batch, and drops what it no longer owns.
--
-- KEYS[1] leads stream
-- ARGV[1] group, ARGV[2] this consumer's name, ARGV[3..] entry ids
-- Returns the ids this consumer does not own (any more).
local stream, group, me = KEYS[1], ARGV[1], ARGV[2]
local lost = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  local pending = redis.call('XPENDING', stream, group, id, id, 1)
  if pending[1] and pending[1][2] == me then
    redis.call('XCLAIM', stream, group, me, 0, id, 'JUSTID')
  else
    lost[#lost + 1] = id
  end
end
return lost
