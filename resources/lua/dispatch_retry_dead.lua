-- include: journal
-- Sluice dispatcher: moves dead letters back into the leads stream with the attempt count
-- reset, and takes them out of their task's dead and processed counters again.
--
-- KEYS[1] dead-letter stream, KEYS[2] leads stream
-- ARGV[1] key prefix "sluice:<ns>:" (task hashes derive from it), ARGV[2] at most this many,
-- ARGV[3] (optional) only this dead letter's entry id
-- Returns the number moved.
local dead, stream, prefix = KEYS[1], KEYS[2], ARGV[1]
local entries
if ARGV[3] and ARGV[3] ~= '' then
  entries = redis.call('XRANGE', dead, ARGV[3], ARGV[3])
else
  entries = redis.call('XRANGE', dead, '-', '+', 'COUNT', tonumber(ARGV[2]))
end
local skip = { reason = true, code = true, dead_ms = true, entry = true, retry_of = true,
  seen_emails = true }
for _, e in ipairs(entries) do
  local fields, copy, task = e[2], {}, nil
  for j = 1, #fields, 2 do
    local f, v = fields[j], fields[j + 1]
    if f == 'attempt' then v = '0' end
    if f == 'task' then task = v end
    if not skip[f] then
      copy[#copy + 1] = f; copy[#copy + 1] = v
    end
  end
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
