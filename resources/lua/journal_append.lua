-- include: journal
-- Sluice lead journal: appends events written outside the queue scripts (a 429 answer, verify,
-- clean-up). See lib/journal.lua for the keys.
--
-- ARGV[1] key prefix "sluice:<ns>:" (the journal keys derive from it; not cluster-safe, like
--   the rest of the design), ARGV[2] retention in seconds (0: the default)
-- ARGV[3..] per event: identity, at (Unix ms), a field count k, then k field/value strings
--   (kind and at among them)
-- Returns the number of events appended.
local prefix = ARGV[1]
if tonumber(ARGV[2]) > 0 then journal.retention = tonumber(ARGV[2]) end
local i, n = 3, 0
while i <= #ARGV do
  local identity, at, k = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  journal.add(prefix, identity, at, {unpack(ARGV, i + 3, i + 2 + k)})
  i = i + 3 + k
  n = n + 1
end
journal.finish(prefix)
return n
