-- Sluice lead journal: the timeline of each lead, written by the same scripts that change the
-- lead's state, so the journal never disagrees with the queue. Prepended (by
-- bundledLuaScript) to every script whose first lines say "-- include: journal".
--
-- Written on the hot path (every webhook, every settle), so an event costs one RPUSH (and
-- the first of a lead an EXPIRE). A list, not a stream: a one-entry stream takes 4.7 KB of Redis memory, the same
-- event in a list 0.4 KB. Events that happen together are stored together: "received" carries
-- the entry it was queued as, and an outcome (delivered, retry, dead, ...) carries the request
-- it came from; LeadJournal (C++) shows them as separate steps.
--
-- A lead's identity is its lower-cased email, or "close:<lead id>" while a Close lead waits
-- for its lookup. Keys, under the script's prefix "sluice:<ns>:":
--   journal:<identity>   list of events, oldest first (the newest 200 kept), each a JSON
--                        array of field/value strings: kind, at (Unix ms), task, campaign,
--                        detail, instance, entry, and for requests attempt, status,
--                        latency_ms, wait_ms, breaker, batch, and retry_at
--   journal:recent       sorted set of identities by their latest event after intake (newest
--                        5000 kept); the intake leaves it alone, to stay cheap
-- A task's identities are in its hash, field "leads" (a JSON array), for search by task id.
-- A journal list expires the task retention (7 days unless the script says) after the lead's
-- first event: one EXPIRE per lead, not per event.
local journal = { retention = 604800, cap = 200, recent_cap = 5000, recent = {} }

-- The identity of a queued lead from its stream fields (flat field/value list).
function journal.identity_of(fields)
  local close_lead = nil
  for j = 1, #fields - 1, 2 do
    if fields[j] == 'lead' then
      local ok, lead = pcall(cjson.decode, fields[j + 1])
      if ok and type(lead) == 'table' and type(lead.email) == 'string' and lead.email ~= '' then
        return string.lower(lead.email)
      end
    elseif fields[j] == 'close_lead' then
      close_lead = fields[j + 1]
    end
  end
  if close_lead then return 'close:' .. close_lead end
  return nil
end

-- The value of one field of a flat field/value list.
function journal.field(fields, name)
  for j = 1, #fields - 1, 2 do
    if fields[j] == name then return fields[j + 1] end
  end
  return ''
end

-- Appends one event. `event` is a flat field/value list of strings (cjson prints a Lua number
-- such as a Unix ms time as 1.7959548138e+12); kind and at must be in it.
-- `recent` false leaves the recent index alone (the intake).
function journal.add(prefix, identity, at, event, recent)
  if not identity or identity == '' or prefix == '' then return end
  local key = prefix .. 'journal:' .. identity
  local length = redis.call('RPUSH', key, cjson.encode(event))
  if length == 1 then
    redis.call('EXPIRE', key, journal.retention)
  elseif length > journal.cap then
    redis.call('LTRIM', key, -journal.cap, -1)
  end
  if recent ~= false then
    journal.recent[#journal.recent + 1] = at
    journal.recent[#journal.recent + 1] = identity
  end
end

-- Adds identities to a task hash's "leads" list (new ones only, at most 1000 kept). `drop`
-- (optional) leaves the list: a Close lead whose contacts now stand for it, each timeline
-- starting with its webhook.
function journal.index_task(hash, identities, drop)
  if #identities == 0 then return end
  local known = {}
  local raw = redis.call('HGET', hash, 'leads')
  if raw then
    local ok, list = pcall(cjson.decode, raw)
    if ok and type(list) == 'table' then
      for _, id in ipairs(list) do
        if id ~= drop then known[#known + 1] = id end
      end
    end
  end
  local seen = {}
  for _, id in ipairs(known) do seen[id] = true end
  for _, id in ipairs(identities) do
    if not seen[id] and #known < 1000 then
      known[#known + 1] = id
      seen[id] = true
    end
  end
  redis.call('HSET', hash, 'leads', cjson.encode(known))
end

-- Call once at the end of a script that added events: updates and caps the recent index.
function journal.finish(prefix)
  if #journal.recent == 0 then return end
  local recent = prefix .. 'journal:recent'
  for i = 1, #journal.recent, 4000 do
    redis.call('ZADD', recent, unpack(journal.recent, i, math.min(i + 3999, #journal.recent)))
  end
  redis.call('ZREMRANGEBYRANK', recent, 0, -(journal.recent_cap + 1))
end
