-- include: journal
-- Sluice dispatcher: replaces a Close-lookup entry by one entry per contact lead, atomically.
-- The task's total grows by n - 1 (the lookup entry was counted as one lead); a Close lead
-- with no usable contact counts as one processed, failed lead with the reason.
--
-- KEYS[1] leads stream, KEYS[2] the task hash
-- ARGV[1] group, ARGV[2] lookup entry id, ARGV[3] now (Unix ms), ARGV[4] reason when n = 0,
-- ARGV[5] key prefix "sluice:<ns>:" (journal keys; '' writes no journal), ARGV[6] the Close
--   lead id, ARGV[7] task id,
-- ARGV[8] campaign name, ARGV[9] this consumer's name,
-- ARGV[10..] one JSON array of stream fields per new entry
-- Returns n, or -1 when the lookup entry was already settled (by another consumer).
local stream, key = KEYS[1], KEYS[2]
local group, id, now, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local prefix, close_lead, task, campaign, instance = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if redis.call('XACK', stream, group, id) == 0 then
  redis.call('XDEL', stream, id)
  return -1
end
local n = #ARGV - 9
-- Each contact's timeline starts where its webhook did: the Close lead's "received" event of
-- this task is copied to it (a lead-less webhook names only the Close lead), then the lookup.
local received = nil
if prefix ~= '' and n > 0 then
  local events = redis.call('LRANGE', prefix .. 'journal:close:' .. close_lead, 0, -1)
  for _, raw in ipairs(events) do
    local ok, event = pcall(cjson.decode, raw)
    if ok and type(event) == 'table' and journal.field(event, 'kind') == 'received'
        and journal.field(event, 'task') == task then
      received = event
    end
  end
end
local contacts = {}
for i = 10, #ARGV do
  local fields = cjson.decode(ARGV[i])
  local entry = redis.call('XADD', stream, '*', unpack(fields))
  local identity = journal.identity_of(fields)
  if identity then
    contacts[#contacts + 1] = identity
    if received then
      journal.add(prefix, identity, journal.field(received, 'at'), received)
    end
    journal.add(prefix, identity, now, {'kind', 'looked_up', 'at', now, 'task', task,
      'campaign', campaign, 'detail', 'contact of Close lead ' .. close_lead, 'instance', instance})
    journal.add(prefix, identity, now, {'kind', 'queued', 'at', now, 'task', task,
      'campaign', campaign, 'detail', 'stream entry ' .. entry, 'instance', instance})
  end
end
local detail = reason
if n > 0 then detail = n .. ' contact(s): ' .. table.concat(contacts, ', ') end
-- In the recent list only when no contact stands for it (its contacts are listed instead).
journal.add(prefix, 'close:' .. close_lead, now, {'kind', n > 0 and 'looked_up' or 'failed',
  'at', now, 'task', task, 'campaign', campaign, 'detail', detail, 'instance', instance}, n == 0)
if prefix ~= '' then journal.index_task(key, contacts, 'close:' .. close_lead) end
journal.finish(prefix)
if n == 0 then
  redis.call('HINCRBY', key, 'failed', 1)
  local processed = redis.call('HINCRBY', key, 'processed', 1)
  redis.call('HSET', key, 'last_error', reason, 'last_error_ms', now)
  local h = redis.call('HMGET', key, 'total', 'succeeded', 'skipped', 'state')
  local total = tonumber(h[1]) or 0
  local good = (tonumber(h[2]) or 0) + (tonumber(h[3]) or 0)
  if total > 0 and processed >= total and h[4] ~= 'done' and h[4] ~= 'failed' then
    redis.call('HSET', key, 'state', good > 0 and 'done' or 'failed', 'finished_ms', now)
  end
else
  redis.call('HINCRBY', key, 'total', n - 1)
end
redis.call('XDEL', stream, id)
return n
