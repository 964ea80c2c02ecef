-- Sluice dispatcher: which leads of a batch were delivered within the retention, so a replay
-- or a reclaimed entry becomes a no-op. A member past the retention that the settle script
-- has not trimmed yet does not count. Schema 1's set (no scores) is read as well, so a lead
-- an older instance delivered during a rolling upgrade still counts.
--
-- KEYS[1] delivered sorted set, KEYS[2] schema 1's delivered set
-- ARGV[1] the oldest score that counts (Unix ms), ARGV[2..] members "<campaign id>|<email>"
-- Returns one 0/1 per member.
local cutoff = tonumber(ARGV[1])
local out = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  local hit = (score and tonumber(score) >= cutoff) or redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 1
  out[#out + 1] = hit and 1 or 0
end
return out
