-- include: journal
-- include: intake
-- Sluice intake, group commit: several accepted requests in one call, each stored exactly as
-- intake_enqueue stores it (lib/intake.lua), in order, so a repeat later in the group is a
-- duplicate of an earlier one. One call instead of one per webhook saves Redis a command
-- parse, a script start and a reply per request, and the intake a round trip each.
--
-- KEYS: none (every key is in ARGV; Sluice runs on one Redis, not a cluster).
-- ARGV, for each request: its key count m, then its m keys (as intake_enqueue's KEYS), then
--   its argument count a, then its a arguments (as intake_enqueue's ARGV).
-- Returns one reply per request, in order, each as intake_enqueue's.
local replies = {}
local i, created = 1, 0
local last_tasks, last_ttl
while i <= #ARGV do
  local keys, args = {}, {}
  local m = tonumber(ARGV[i])
  for j = 1, m do keys[j] = ARGV[i + j] end
  i = i + m + 1
  local a = tonumber(ARGV[i])
  for j = 1, a do args[j] = ARGV[i + j] end
  i = i + a + 1
  replies[#replies + 1] = intake.enqueue(keys, args, false)
  created = math.max(created, tonumber(args[4]))
  last_tasks, last_ttl = keys[3], tonumber(args[5])
end
if last_tasks then
  redis.call('ZREMRANGEBYSCORE', last_tasks, '-inf', '(' .. (created - last_ttl * 1000))
end
return replies
