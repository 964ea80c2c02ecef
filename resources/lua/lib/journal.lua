-- Sluice lead journal: the timeline of each lead, written by the same scripts that change the
-- lead's state, so the journal never disagrees with the queue. Prepended (by
-- bundledLuaScript) to every script whose first lines say "-- include: journal".
--
-- A lead's identity is its lower-cased email, or "close:<lead id>" while a Close lead waits for
-- its lookup. Keys, under the script's prefix "sluice:<ns>:":
--   journal:<identity>       stream of events (newest ~200 kept), fields: kind, at (Unix ms),
--                            task, campaign, detail, and for attempts status, latency_ms,
--                            wait_ms, breaker, batch, attempt, instance
--   journal:task:<task id>   set of the identities of a task (search by task id)
--   journal:recent           sorted set of identities by their latest event (newest 5000 kept)
-- Every key expires with the task retention (7 days unless the intake says otherwise).
local journal = { retention = 604800, cap = 200, recent_cap = 5000 }

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

-- Appends one event. `event` is a flat field/value list; kind and at must be in it.
function journal.add(prefix, identity, task, at, event)
  if not identity or identity == '' then return end
  local key = prefix .. 'journal:' .. identity
  redis.call('XADD', key, 'MAXLEN', '~', journal.cap, '*', unpack(event))
  redis.call('EXPIRE', key, journal.retention)
  if task and task ~= '' then
    local index = prefix .. 'journal:task:' .. task
    redis.call('SADD', index, identity)
    redis.call('EXPIRE', index, journal.retention)
  end
  redis.call('ZADD', prefix .. 'journal:recent', at, identity)
  journal.touched = true
end

-- Call once at the end of a script that added events.
function journal.finish(prefix)
  if journal.touched then
    local recent = prefix .. 'journal:recent'
    redis.call('ZREMRANGEBYRANK', recent, 0, -(journal.recent_cap + 1))
    redis.call('EXPIRE', recent, journal.retention)
  end
end
