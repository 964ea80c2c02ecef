-- include: journal
-- Sluice verify --repair: queues a run's missing leads again as one new task, atomically, so a
-- crash never leaves a lead out of the delivered set but not queued (lost until the next
-- verify) or queued with no task to count it.
--
-- KEYS[1] leads stream, KEYS[2] delivered sorted set, KEYS[3] tasks sorted set, KEYS[4] schema 1's
--   delivered set
-- ARGV[1] key prefix "sluice:<ns>:" (the task hash is derived from it, as dispatch_settle.lua
--   does, so this script is not cluster-safe either), ARGV[2] task id stem "repair:<run id>:",
-- ARGV[3] campaign name, ARGV[4] created (Unix ms), ARGV[5] retention in seconds,
-- ARGV[6..] per lead: its delivered member "<campaign id>|<email>", a field count k, then k
--   field/value strings of its QueuedLead (the value of field 'task' becomes the task id)
-- The task id is the stem followed by the first n (1, 2, ...) that names neither a task hash
-- nor an entry of the task index, so each repair of a run is a task of its own.
-- Returns {task id, number of leads queued}.
local stream, delivered, tasks, legacy = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, stem, campaign = ARGV[1], ARGV[2], ARGV[3]
local created, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
journal.retention = ttl

local task, hash = nil, nil
for n = 1, 100000 do
  local candidate = stem .. n
  local key = prefix .. 'task:' .. candidate
  if redis.call('EXISTS', key) == 0 and not redis.call('ZSCORE', tasks, candidate) then
    task, hash = candidate, key
    break
  end
end
if not task then
  return redis.error_reply('ERR no free repair task id under ' .. stem)
end

local i, n = 6, 0
local identities = {}
while i <= #ARGV do
  local member, k = ARGV[i], tonumber(ARGV[i + 1])
  local fields = {unpack(ARGV, i + 2, i + 1 + k)}
  for f = 1, #fields - 1, 2 do
    if fields[f] == 'task' then
      fields[f + 1] = task
    end
  end
  redis.call('ZREM', delivered, member)
  redis.call('SREM', legacy, member)
  local entry = redis.call('XADD', stream, '*', unpack(fields))
  local now = string.match(entry, '^(%d+)') -- a string: cjson would print a number as 1.7e+12
  local identity = journal.identity_of(fields)
  if identity then identities[#identities + 1] = identity end
  journal.add(prefix, identity, now, {'kind', 'requeued', 'at', now,
    'task', task, 'campaign', campaign,
    'detail', 'repair: missing from the campaign, queued again as stream entry ' .. entry})
  i = i + k + 2
  n = n + 1
end

redis.call('HSET', hash, 'total', n, 'processed', 0, 'succeeded', 0, 'skipped', 0,
           'failed', 0, 'dead', 0, 'rate_limit_delays', 0, 'retries', 0, 'state', 'queued',
           'campaign', campaign, 'source', 'repair', 'created_ms', created,
           'leads', cjson.encode(identities))
redis.call('EXPIRE', hash, ttl)
redis.call('ZADD', tasks, created, task)
redis.call('ZREMRANGEBYSCORE', tasks, '-inf', '(' .. (created - ttl * 1000))
journal.finish(prefix)
return {task, n}
