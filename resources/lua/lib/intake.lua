-- Sluice intake: how one accepted request is stored, for intake_enqueue (one request per
-- call) and intake_enqueue_group (several: the group commit of webhooks that arrive together).
-- Prepended (by bundledLuaScript) to the scripts whose first lines say "-- include: intake".
--
-- intake.enqueue stores one accepted request atomically: its stream entries, the task's
-- progress hash, its place in the task index, the dedupe marker of its event, and each lead's
-- "received" journal event (with the time and entry it was queued as).
-- Idempotent, so a spooled request may be replayed whether or not it already ran: a known
-- event id or Close task id, or a task hash that already exists, stores nothing and answers
-- the existing task.
--
-- keys[1] leads stream, keys[2] the task hash, keys[3] tasks sorted set,
-- keys[4..] (optional) dedupe keys, each -> task id: the event key (Close event id or
--   Idempotency-Key) and the Close task key (its task id). A webhook carries both, a backfill
--   only the task key, so a task queued one way is a duplicate the other way.
-- args[1] task id, args[2] campaign, args[3] source, args[4] created (Unix ms),
-- args[5] retention in seconds (task hash, event key, task index, journal),
-- args[6] key prefix "sluice:<ns>:" (for the journal keys), args[7] how it arrived (journal
--   detail: "Close webhook ev_…, signature valid"),
-- args[8..] the entries, each as a field count k, the lead's journal identity ('' = none),
--   then k field/value strings
-- An entry with a `code` field is a dead letter from the start (a Close lead with no usable
-- email): it goes to the dead-letter stream (<prefix>dead) with its reason, and its journal
-- says so under the Close lead and under each address in `seen_emails` (a JSON array), so an
-- operator finds it by either. Close still gets its 2xx and does not retry.
-- Returns {task id, 1} for a duplicate (the task that holds it), else
-- {task id, 0, entries, dead-lettered entries}.
-- `trim` false leaves the old end of the task index alone (a group trims it once).
local intake = {}

function intake.enqueue(keys, args, trim)
  local stream, hash, tasks = keys[1], keys[2], keys[3]
  local task, campaign, source = args[1], args[2], args[3]
  local created, ttl = tonumber(args[4]), tonumber(args[5])

  for k = 4, #keys do
    local existing = redis.call('GET', keys[k])
    if existing then
      return {existing, 1}
    end
  end
  if redis.call('EXISTS', hash) == 1 then
    return {task, 1}
  end

  local prefix, note = args[6], args[7]
  journal.retention = ttl
  local i, n, dead, last_reason = 8, 0, 0, ''
  local identities = {}
  while i <= #args do
    local k, identity = tonumber(args[i]), args[i + 1]
    local fields = {unpack(args, i + 2, i + 1 + k)}
    local code = journal.field(fields, 'code')
    if code == '' then
      local entry = redis.call('XADD', stream, '*', unpack(fields))
      if identity ~= '' then
        identities[#identities + 1] = identity
        journal.add(prefix, identity, created, {'kind', 'received', 'at', args[4], 'task', task,
          'campaign', campaign, 'detail', note, 'entry', entry}, false)
      end
    else
      local entry = redis.call('XADD', prefix .. 'dead', '*', unpack(fields))
      dead = dead + 1
      local names = {}
      if identity ~= '' then
        names[1] = identity
        local ok, emails = pcall(cjson.decode, journal.field(fields, 'seen_emails'))
        if ok and type(emails) == 'table' then
          for _, email in ipairs(emails) do
            if type(email) == 'string' and email ~= '' then names[#names + 1] = email end
          end
        end
      end
      local reason = journal.field(fields, 'reason')
      last_reason = reason
      for _, name in ipairs(names) do
        identities[#identities + 1] = name
        journal.add(prefix, name, created, {'kind', 'received', 'at', args[4], 'task', task,
          'campaign', campaign, 'detail', note}, false)
        -- In the recent list: nothing else will ever write to this lead's timeline.
        journal.add(prefix, name, created, {'kind', 'dead', 'at', args[4], 'task', task,
          'campaign', campaign, 'detail', reason, 'code', code, 'entry', entry})
      end
    end
    i = i + k + 2
    n = n + 1
  end

  redis.call('HSET', hash, 'total', n, 'processed', dead, 'succeeded', 0, 'skipped', 0,
             'failed', 0, 'dead', dead, 'rate_limit_delays', 0, 'retries', 0, 'state', 'queued',
             'campaign', campaign, 'source', source, 'created_ms', created,
             'leads', cjson.encode(identities))
  if dead > 0 then
    redis.call('HSET', hash, 'last_error', last_reason, 'last_error_ms', created)
    if dead == n then redis.call('HSET', hash, 'state', 'failed', 'finished_ms', created) end
    journal.finish(prefix)
  end
  redis.call('EXPIRE', hash, ttl)
  for k = 4, #keys do
    redis.call('SET', keys[k], task, 'EX', ttl)
  end
  redis.call('ZADD', tasks, created, task)
  if trim ~= false then
    redis.call('ZREMRANGEBYSCORE', tasks, '-inf', '(' .. (created - ttl * 1000))
  end
  return {task, 0, n, dead}
end
