-- Sluice dead letters and parked leads: what belongs to an entry's stay in the dead-letter
-- stream or a parked stream (its reason, code, times, ids) and what is the lead's own. Shared
-- by every script that puts such an entry back into the leads stream, so a field added to
-- dead letters is dropped on requeue everywhere at once. Prepended (by bundledLuaScript) to
-- every script whose first lines say "-- include: deadletters", after "-- include: reasons"
-- (it names reasons.UNKNOWN).
local deadletters = {
  -- Written when a lead is dead-lettered or parked, never part of the queued lead.
  -- seen_emails: the unusable addresses of a lead dead-lettered at intake (looked up again).
  annotations = { reason = true, code = true, dead_ms = true, parked_ms = true, entry = true,
                  retry_of = true, seen_emails = true },
  chunk = 1000,
}

-- The queued lead in an entry's fields (flat field/value list): the annotations dropped, and
-- `attempt` reset to 0 when `reset_attempt`. Returns the copy and the lead's task id (or nil).
function deadletters.lead_fields(fields, reset_attempt)
  local copy, task = {}, nil
  for j = 1, #fields - 1, 2 do
    local f, v = fields[j], fields[j + 1]
    if f == 'attempt' and reset_attempt then v = '0' end
    if f == 'task' then task = v end
    if not deadletters.annotations[f] then
      copy[#copy + 1] = f; copy[#copy + 1] = v
    end
  end
  return copy, task
end

-- The reason code of an entry; a dead letter from before codes existed is 'unknown'.
function deadletters.code_of(fields)
  for j = 1, #fields - 1, 2 do
    if fields[j] == 'code' and fields[j + 1] ~= '' then return fields[j + 1] end
  end
  return reasons.UNKNOWN
end

-- A stream entry id as XADD makes them ("1700000000000-0"): anything else would make XRANGE
-- fail the whole script, so callers skip it.
function deadletters.is_entry_id(id)
  return type(id) == 'string' and string.match(id, '^%d+%-%d+$') ~= nil
end

-- Calls visit(entry) for every entry of `stream`, oldest first (newest first when
-- `newest_first`), reading `chunk` entries per XRANGE so a long stream never becomes one huge
-- reply. Stops early when visit returns true.
function deadletters.scan(stream, newest_first, visit)
  deadletters.scan_from(stream, newest_first, newest_first and '+' or '-', visit)
end

-- Like scan(), oldest first, only the entries after the entry id `after`.
function deadletters.scan_after(stream, after, visit)
  deadletters.scan_from(stream, false, '(' .. after, visit)
end

function deadletters.scan_from(stream, newest_first, from, visit)
  while true do
    local entries
    if newest_first then
      entries = redis.call('XREVRANGE', stream, from, '-', 'COUNT', deadletters.chunk)
    else
      entries = redis.call('XRANGE', stream, from, '+', 'COUNT', deadletters.chunk)
    end
    for _, e in ipairs(entries) do
      if visit(e) then return end
    end
    if #entries < deadletters.chunk then return end
    from = '(' .. entries[#entries][1]
  end
end
