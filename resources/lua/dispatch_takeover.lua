-- Sluice dispatcher: liveness from heartbeats, not only from idle time. Every consumer renews
-- a key <prefix>alive:<consumer> with a short TTL on each maintenance tick; a consumer whose key
-- is gone is dead (killed, its machine lost), and its pending entries idle at least ARGV[4] ms
-- are claimed for this consumer at once instead of after --claim-idle. Fencing keeps that safe
-- even for a consumer that was only slow: it may send or settle only what it still owns
-- (dispatch_own.lua, dispatch_settle.lua), and what is claimed here is checked in its
-- campaign before it is sent again.
--
-- KEYS[1] leads stream
-- ARGV[1] group, ARGV[2] this consumer, ARGV[3] key prefix "sluice:<ns>:",
-- ARGV[4] min idle (ms), ARGV[5] at most this many entries
-- Returns the claimed entries, as XCLAIM gives them: {{id, {field, value, ...}}, ...}.
local stream, group, me, prefix = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local min_idle, room = tonumber(ARGV[4]), tonumber(ARGV[5])
local claimed = {}
if redis.call('EXISTS', stream) == 0 then return claimed end
local ok, summary = pcall(redis.call, 'XPENDING', stream, group)
if not ok or type(summary[4]) ~= 'table' then return claimed end
for _, consumer in ipairs(summary[4]) do
  if room <= 0 then break end
  local name = consumer[1]
  if name ~= me and redis.call('EXISTS', prefix .. 'alive:' .. name) == 0 then
    local pending = redis.call('XPENDING', stream, group, 'IDLE', min_idle, '-', '+', room, name)
    if #pending > 0 then
      local ids = {}
      for _, p in ipairs(pending) do ids[#ids + 1] = p[1] end
      for _, e in ipairs(redis.call('XCLAIM', stream, group, me, min_idle, unpack(ids))) do
        if type(e) == 'table' then
          claimed[#claimed + 1] = e
          room = room - 1
        end
      end
    end
  end
end
return claimed
