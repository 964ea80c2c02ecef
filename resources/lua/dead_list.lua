-- include: reasons
-- include: deadletters
-- Sluice dead letters: the newest ones with one reason code, for the console and `sluice dead
-- list --reason`. A scan from the newest end that stops once it has enough.
--
-- KEYS[1] dead-letter stream
-- ARGV[1] at most this many, ARGV[2] the reason code (a letter without a code is 'unknown')
-- Returns entries as XREVRANGE does: {{id, {field, value, ...}}, ...}, newest first.
local dead, max, code = KEYS[1], tonumber(ARGV[1]), ARGV[2]
local out = {}
if max < 1 then return out end
deadletters.scan(dead, true, function(e)
  if deadletters.code_of(e[2]) == code then out[#out + 1] = e end
  return #out >= max
end)
return out
