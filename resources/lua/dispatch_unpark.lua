-- include: journal
-- include: reasons
-- include: deadletters
-- Sluice dispatcher: a parked campaign appeared; its leads go back into the leads stream
-- (attempt kept), up to ARGV[4] at a time. The campaign leaves the parked set with its last
-- lead. The caller calls again until it returns 0.
--
-- KEYS[1] leads stream
-- ARGV[1] key prefix "sluice:<ns>:" (parked streams, the parked set, task hashes, journal),
-- ARGV[2] campaign name, ARGV[3] why (for the journal), ARGV[4] at most this many,
-- ARGV[5] 1 to journal, 0 not
-- Returns the number moved.
local stream, prefix, name, why = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local parked = prefix .. 'parked:' .. name
local entries = redis.call('XRANGE', parked, '-', '+', 'COUNT', tonumber(ARGV[4]))
local journal_prefix = ARGV[5] == '1' and prefix or ''
for _, e in ipairs(entries) do
  local copy, task = deadletters.lead_fields(e[2], false)
  local entry = redis.call('XADD', stream, '*', unpack(copy))
  local now = string.match(entry, '^(%d+)') -- a string: cjson would print a number as 1.7e+12
  journal.add(journal_prefix, journal.identity_of(copy), now, {'kind', 'requeued', 'at', now,
    'task', task or '', 'campaign', name, 'detail', why .. ', stream entry ' .. entry})
  if task then
    local key = prefix .. 'task:' .. task
    redis.call('HINCRBY', key, 'parked', -1)
    redis.call('HSET', key, 'state', 'running')
  end
  redis.call('XDEL', parked, e[1])
end
if redis.call('XLEN', parked) == 0 then
  redis.call('DEL', parked)
  redis.call('SREM', prefix .. 'parked', name)
end
journal.finish(journal_prefix)
return #entries
