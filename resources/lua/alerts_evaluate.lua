-- Sluice alerts: one evaluation of one instance, for every alert kind at once, so that across
-- the fleet each condition fires once and resolves once (issue 17). An alert fires when the
-- first instance says its condition holds, and resolves when the last one that said so stops
-- (or is gone: an assertion not renewed within the stale time is dropped, so a crashed
-- instance cannot hold an alert open).
--
-- KEYS: none (every key is built from the prefix; Sluice runs on one Redis, not a cluster).
-- ARGV[1] key prefix "sluice:<ns>:alerts:", ARGV[2] this instance, ARGV[3] now (Unix ms),
-- ARGV[4] stale ms, ARGV[5] the log stream's cap,
-- ARGV[6..] per kind: its name, '1' when the condition holds here (else '0'), and the firing
--   event's JSON (stored and logged if this call fires it; '' when it does not hold).
-- Returns per kind: its name, 'fired' | 'resolved' | '', and the firing event stored before
-- (resolved) or now ('' when none): who fired it, so every instance shows the same alert.
local prefix, instance = ARGV[1], ARGV[2]
local now, stale, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for i = 6, #ARGV, 3 do
  local kind, holds, firing = ARGV[i], ARGV[i + 1] == '1', ARGV[i + 2]
  local asserting, state = prefix .. kind .. ':asserting', prefix .. kind
  if holds then
    redis.call('HSET', asserting, instance, now)
  else
    redis.call('HDEL', asserting, instance)
  end
  local all = redis.call('HGETALL', asserting)
  for j = 1, #all, 2 do
    if tonumber(all[j + 1]) < now - stale then
      redis.call('HDEL', asserting, all[j])
    end
  end
  local count = redis.call('HLEN', asserting)
  local stored = redis.call('GET', state)
  if count > 0 and not stored and holds then
    redis.call('SET', state, firing)
    redis.call('XADD', prefix .. 'log', 'MAXLEN', '~', cap, '*', 'event', firing)
    out[#out + 1] = kind; out[#out + 1] = 'fired'; out[#out + 1] = firing
  elseif count == 0 and stored then
    redis.call('DEL', state)
    redis.call('HDEL', prefix .. 'ack', kind)
    out[#out + 1] = kind; out[#out + 1] = 'resolved'; out[#out + 1] = stored
  else
    out[#out + 1] = kind; out[#out + 1] = ''; out[#out + 1] = stored or ''
  end
end
return out
