-- include: journal
-- include: reasons
-- include: deadletters
-- Sluice dispatcher: moves dead letters back into the leads stream with the attempt count
-- reset, and takes them out of their task's dead and processed counters again.
--
-- KEYS[1] dead-letter stream, KEYS[2] leads stream
-- ARGV[1] key prefix "sluice:<ns>:" (task hashes derive from it), ARGV[2] at most this many,
-- ARGV[3] only dead letters with this reason code ('' any; a letter without a code is
-- 'unknown'), ARGV[4..] only these entry ids (none given: the oldest first; an id that is not
-- an entry id, or is gone, is skipped)
-- Returns the number moved.
local dead, stream, prefix = KEYS[1], KEYS[2], ARGV[1]
local max, code = tonumber(ARGV[2]), ARGV[3] or ''
local entries = {}
if #ARGV >= 4 then
  for i = 4, #ARGV do
    if #entries >= max then break end
    if deadletters.is_entry_id(ARGV[i]) then
      local found = redis.call('XRANGE', dead, ARGV[i], ARGV[i])
      if found[1] and (code == '' or deadletters.code_of(found[1][2]) == code) then
        entries[#entries + 1] = found[1]
      end
    end
  end
elseif code == '' then
  entries = redis.call('XRANGE', dead, '-', '+', 'COUNT', max)
else
  -- Collected first, moved after: the scan must not see the stream change under it.
  deadletters.scan(dead, false, function(e)
    if deadletters.code_of(e[2]) == code then entries[#entries + 1] = e end
    return #entries >= max
  end)
end
for _, e in ipairs(entries) do
  local copy, task = deadletters.lead_fields(e[2], true)
  local entry = redis.call('XADD', stream, '*', unpack(copy))
  local now = string.match(entry, '^(%d+)') -- a string: cjson would print a number as 1.7e+12
  journal.add(prefix, journal.identity_of(copy), now, {'kind', 'requeued', 'at', now,
    'task', task or '', 'campaign', journal.field(copy, 'campaign'),
    'detail', 'retried from the dead letters, stream entry ' .. entry})
  if task then
    local key = prefix .. 'task:' .. task
    redis.call('HINCRBY', key, 'dead', -1)
    redis.call('HINCRBY', key, 'processed', -1)
    redis.call('HSET', key, 'state', 'running')
    redis.call('HDEL', key, 'finished_ms')
  end
  redis.call('XDEL', dead, e[1])
end
journal.finish(prefix)
return #entries
