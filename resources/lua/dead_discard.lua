-- include: journal
-- include: reasons
-- include: deadletters
-- Sluice dead letters: an operator discards some. Nothing goes without a trace: each entry is
-- copied (with who, why and when) into the capped stream of discarded dead letters, and the
-- lead's journal gets a "discarded" event with who and why, before it leaves the dead letters.
-- Task counters stay: the lead was not delivered, and still is not.
--
-- KEYS[1] dead-letter stream, KEYS[2] discarded dead letters stream
-- ARGV[1] key prefix "sluice:<ns>:" (journal), ARGV[2] who, ARGV[3] why,
-- ARGV[4] the discarded stream keeps about this many, ARGV[5..] entry ids (one that is not an
-- entry id, or is gone, is skipped)
-- Returns the number discarded.
local dead, discarded, prefix, who, why = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]
local cap = ARGV[4]
local time = redis.call('TIME')
-- A string: cjson would print a number as 1.7e+12.
local now = tostring(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000))
local n = 0
for i = 5, #ARGV do
  local id = ARGV[i]
  local found = deadletters.is_entry_id(id) and redis.call('XRANGE', dead, id, id) or {}
  if found[1] then
    local fields = found[1][2]
    local trace = { 'dead_entry', id, 'discarded_by', who, 'discarded_why', why,
                    'discarded_ms', now }
    for j = 1, #fields do trace[#trace + 1] = fields[j] end
    redis.call('XADD', discarded, 'MAXLEN', '~', cap, '*', unpack(trace))
    local copy, task = deadletters.lead_fields(fields, false)
    journal.add(prefix, journal.identity_of(copy), now, {'kind', 'discarded', 'at', now,
      'task', task or '', 'campaign', journal.field(copy, 'campaign'),
      'detail', 'discarded by ' .. who .. ': ' .. why .. ' (' .. deadletters.code_of(fields)
        .. ')', 'who', who, 'why', why})
    redis.call('XDEL', dead, id)
    n = n + 1
  end
end
journal.finish(prefix)
return n
