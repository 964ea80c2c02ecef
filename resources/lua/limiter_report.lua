-- Sluice shared rate limiter: what an upstream answer means for everybody.
-- A 429 opens a penalty window in which no instance sends (Retry-After when present, else
-- base doubling per consecutive 429 up to a cap) and lowers the shared rate factor (AIMD).
-- A 429 for a request sent before the current penalty began was already paid for: several
-- instances hit by the same burst do not stack their back-offs.
-- A success resets the consecutive count.
-- 'pace' is no failure: the upstream said how much of its window is left (Close's RateLimit
-- header), and nobody sends again for ARGV[4] ms. The longest wait wins: answers may come
-- back out of order, and an older one must not cut short what a newer one asked for.
--
-- KEYS[1]  the limiter hash
-- ARGV[1]  now in ms; 0 = Redis TIME
-- ARGV[2]  'rate_limited', 'success' or 'pace'
-- ARGV[3]  when the request was sent (the now_ms its acquire returned)
-- ARGV[4]  Retry-After in ms, or -1; for 'pace' the gap in ms
-- ARGV[5..9] penalty_base_ms, penalty_cap_ms, decrease_factor, min_factor, recovery_per_second
-- Returns  {penalty_until_ms, factor x 1e6, consecutive_429s}
local key = KEYS[1]
local now = tonumber(ARGV[1])
if not now or now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local kind = ARGV[2]
if kind == 'pace' then
  local until_ms = now + math.max(0, tonumber(ARGV[4]) or 0)
  local current = tonumber(redis.call('HGET', key, 'pace_until')) or 0
  if until_ms > current then redis.call('HSET', key, 'pace_until', until_ms) end
  redis.call('PEXPIRE', key, 86400000)
  return {0, 0, 0}
end
local sent_at = tonumber(ARGV[3]) or now
local retry_after = tonumber(ARGV[4]) or -1
local base, cap = tonumber(ARGV[5]), tonumber(ARGV[6])
local decrease, min_factor, recovery = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])

local state = redis.call('HMGET', key, 'penalty_until', 'penalty_from', 'factor', 'factor_at', 'c429')
local penalty_until = tonumber(state[1]) or 0
local penalty_from = tonumber(state[2]) or 0
local factor = tonumber(state[3]) or 1
local factor_at = tonumber(state[4]) or now
local c429 = tonumber(state[5]) or 0
factor = math.min(1, factor + recovery * math.max(0, now - factor_at) / 1000)

if kind == 'success' then
  if c429 > 0 then redis.call('HSET', key, 'c429', 0) end
  return {penalty_until, math.floor(factor * 1000000), 0}
end

if sent_at < penalty_from then
  -- Sent before the current penalty was known: already accounted for.
  return {penalty_until, math.floor(factor * 1000000), c429}
end

c429 = c429 + 1
local penalty
if retry_after >= 0 then
  penalty = retry_after
else
  penalty = math.min(base * 2 ^ (c429 - 1), cap)
end
penalty_until = math.max(penalty_until, now + penalty)
factor = math.max(min_factor, factor * decrease)
redis.call('HSET', key, 'penalty_until', penalty_until, 'penalty_from', now,
           'factor', string.format('%.6f', factor), 'factor_at', now, 'c429', c429)
redis.call('PEXPIRE', key, 86400000)
return {penalty_until, math.floor(factor * 1000000), c429}
