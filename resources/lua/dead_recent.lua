-- Sluice alerts: the dead letters of the last few minutes per reason code (dead_letters fires
-- when they reach a threshold). Reads newest first and stops at the cap, so a flood costs a
-- bounded read; the answer then says it is capped ("at least").
--
-- KEYS[1] the dead-letter stream
-- ARGV[1] since (Unix ms: entry ids from then on), ARGV[2] the cap
-- Returns {code, count, code, count, ..., capped (1 or 0)}.
local entries = redis.call('XREVRANGE', KEYS[1], '+', ARGV[1], 'COUNT', ARGV[2])
local counts, order = {}, {}
for _, entry in ipairs(entries) do
  local fields, code = entry[2], 'unknown'
  for i = 1, #fields, 2 do
    if fields[i] == 'code' then code = fields[i + 1] end
  end
  if not counts[code] then
    counts[code] = 0
    order[#order + 1] = code
  end
  counts[code] = counts[code] + 1
end
local out = {}
for _, code in ipairs(order) do
  out[#out + 1] = code
  out[#out + 1] = counts[code]
end
out[#out + 1] = (#entries >= tonumber(ARGV[2])) and 1 or 0
return out
