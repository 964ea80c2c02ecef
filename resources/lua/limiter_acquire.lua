-- Sluice shared rate limiter: one decision, atomically, for every instance on this Redis.
-- The same arithmetic as sluice::Gcra + sluice::SlowDown (engine/limiter/gcra.cpp); keep the
-- two in step.
--
-- KEYS[1]  the limiter hash (fields: tat1..tatN, penalty_until, factor, factor_at, c429,
--          pace_until: the upstream's own pace, from its answers' headers; see limiter_report)
-- ARGV[1]  now in ms; 0 = use Redis TIME, so every machine shares one clock
-- ARGV[2]  AIMD recovery of the rate factor per second
-- ARGV[3]  N, the number of rules; then N pairs: interval_ms, tolerance_ms
-- Returns  {allowed 0|1, wait_ms, factor x 1e6, now_ms}
local key = KEYS[1]
local now = tonumber(ARGV[1])
if not now or now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local recovery = tonumber(ARGV[2])
local n = tonumber(ARGV[3])

local state = redis.call('HMGET', key, 'penalty_until', 'factor', 'factor_at', 'pace_until')
local penalty_until = math.max(tonumber(state[1]) or 0, tonumber(state[4]) or 0)
local factor = tonumber(state[2]) or 1
local factor_at = tonumber(state[3]) or now
factor = math.min(1, factor + recovery * math.max(0, now - factor_at) / 1000)
local factor_scaled = math.floor(factor * 1000000)

if now < penalty_until then
  return {0, penalty_until - now, factor_scaled, now}
end

local fields = {}
for i = 1, n do fields[i] = 'tat' .. i end
local tats = redis.call('HMGET', key, unpack(fields))
local earliest = now
local longest = 0
for i = 1, n do
  local tat = tonumber(tats[i]) or 0
  local interval = tonumber(ARGV[2 + 2 * i])
  local tolerance = tonumber(ARGV[3 + 2 * i])
  earliest = math.max(earliest, tat - tolerance)
  longest = math.max(longest, interval)
end
if earliest > now then
  return {0, math.ceil(earliest - now), factor_scaled, now}
end

local updates = {}
for i = 1, n do
  local tat = tonumber(tats[i]) or 0
  local interval = tonumber(ARGV[2 + 2 * i])
  updates[#updates + 1] = 'tat' .. i
  updates[#updates + 1] = string.format('%.3f', math.max(tat, now) + interval / factor)
end
redis.call('HSET', key, unpack(updates))
-- Idle limiters disappear by themselves; a day is far longer than any schedule reaches ahead.
redis.call('PEXPIRE', key, 86400000)
return {1, 0, factor_scaled, now}
