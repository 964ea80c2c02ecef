-- include: journal
-- Sluice dispatcher: replaces a Close-lookup entry by one entry per contact lead, atomically.
-- The task's total grows by n - 1 (the lookup entry was counted as one lead). A Close lead
-- with no usable contact is a dead letter with the reason and its code (no_usable_email,
-- unsubscribed), so an operator finds it by Close lead id and can act on it.
-- Only the consumer that owns the lookup entry may expand it (see dispatch_settle.lua).
--
-- KEYS[1] leads stream, KEYS[2] the task hash, KEYS[3] dead-letter stream
-- ARGV[1] group, ARGV[2] lookup entry id, ARGV[3] now (Unix ms), ARGV[4] reason when n = 0,
-- ARGV[5] key prefix "sluice:<ns>:" (journal keys; '' writes no journal), ARGV[6] the Close
--   lead id, ARGV[7] task id,
-- ARGV[8] campaign name, ARGV[9] this consumer's name, ARGV[10] the reason code when n = 0,
-- ARGV[11..] one JSON array of stream fields per new entry
-- Returns n, or -1 when the lookup entry is not this consumer's (settled, or reclaimed).
local stream, key, dead = KEYS[1], KEYS[2], KEYS[3]
local group, id, now, reason = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local prefix, close_lead, task, campaign, instance = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local code = ARGV[10]
local pending = redis.call('XPENDING', stream, group, id, id, 1)
local owner = pending[1] and pending[1][2] or nil
if owner ~= instance then
  if not owner then redis.call('XDEL', stream, id) end
  return -1
end
local fields = redis.call('XRANGE', stream, id, id)
redis.call('XACK', stream, group, id)
local n = #ARGV - 10
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
for i = 11, #ARGV do
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
journal.add(prefix, 'close:' .. close_lead, now, {'kind', n > 0 and 'looked_up' or 'dead',
  'at', now, 'task', task, 'campaign', campaign, 'detail', detail, 'instance', instance}, n == 0)
if prefix ~= '' then journal.index_task(key, contacts, 'close:' .. close_lead) end
journal.finish(prefix)
if n == 0 then
  if fields[1] then
    local copy = {}
    for j = 1, #fields[1][2], 2 do
      local f = fields[1][2][j]
      if f ~= 'retry_of' and f ~= 'reason' and f ~= 'code' and f ~= 'dead_ms' and f ~= 'entry' then
        copy[#copy + 1] = f; copy[#copy + 1] = fields[1][2][j + 1]
      end
    end
    copy[#copy + 1] = 'reason'; copy[#copy + 1] = reason
    copy[#copy + 1] = 'code'; copy[#copy + 1] = code
    copy[#copy + 1] = 'dead_ms'; copy[#copy + 1] = now
    copy[#copy + 1] = 'entry'; copy[#copy + 1] = id
    redis.call('XADD', dead, '*', unpack(copy))
  end
  redis.call('HINCRBY', key, 'dead', 1)
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
