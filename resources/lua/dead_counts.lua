-- include: reasons
-- include: deadletters
-- Sluice dead letters: how many there are per reason code, and when the newest of each came.
--
-- Counted from the stream itself, not by a counter every script that adds or removes dead
-- letters keeps (settle, expand, retry, discard, and letters written before any counter): a
-- counter one writer forgets drifts silently. A full scan is too slow to repeat, though:
-- measured here (Redis 7.0) 10 000 dead letters take about 55 ms, 100 000 about 450 ms, and
-- /healthz and /metrics ask every second or so. So the counts are memoised in KEYS[2] with the stream's
-- length and last generated id at the time: unchanged stream, the memo is the answer (O(1));
-- only appended (the memo's length plus the entries after its last id is the length now),
-- only those are counted; anything removed (retry, discard), one full scan again. A memo hit
-- took 0.1-0.2 ms with 100 000 letters, one appended letter 0.2 ms.
--
-- KEYS[1] dead-letter stream, KEYS[2] the memo hash (rebuilt from KEYS[1] whenever in doubt)
-- Returns a flat list {code, count, newest Unix ms, ...}, codes in first-seen order.
local dead, memo = KEYS[1], KEYS[2]
local length = redis.call('XLEN', dead)
if length == 0 then
  redis.call('DEL', memo)
  return {}
end
local info = redis.call('XINFO', 'STREAM', dead)
local last_id = ''
for i = 1, #info - 1, 2 do
  if info[i] == 'last-generated-id' then last_id = info[i + 1] end
end

local order, counts, newest = {}, {}, {}
local function count(e)
  local code = deadletters.code_of(e[2])
  if not counts[code] then
    order[#order + 1] = code
    counts[code], newest[code] = 0, 0
  end
  counts[code] = counts[code] + 1
  local ms = nil
  for j = 1, #e[2] - 1, 2 do
    if e[2][j] == 'dead_ms' then ms = tonumber(e[2][j + 1]) end
  end
  ms = ms or tonumber(string.match(e[1], '^(%d+)'))
  if ms > newest[code] then newest[code] = ms end
  return false
end

local saved = redis.call('HGETALL', memo)
local memo_length, memo_last, memo_order = nil, nil, nil
local fields = {}
for i = 1, #saved - 1, 2 do fields[saved[i]] = saved[i + 1] end
memo_length, memo_last = tonumber(fields['length']), fields['last_id']
if fields['order'] then memo_order = cjson.decode(fields['order']) end

local fresh = false
if memo_length and memo_last and memo_order then
  for _, code in ipairs(memo_order) do
    order[#order + 1] = code
    counts[code] = tonumber(fields['count:' .. code]) or 0
    newest[code] = tonumber(fields['newest:' .. code]) or 0
  end
  if memo_last == last_id and memo_length == length then
    fresh = true
  elseif deadletters.is_entry_id(memo_last) then
    local added = 0
    deadletters.scan_after(dead, memo_last, function(e)
      added = added + 1
      return count(e)
    end)
    fresh = memo_length + added == length
  end
end
if not fresh then
  order, counts, newest = {}, {}, {}
  deadletters.scan(dead, false, count)
end
if not (memo_last == last_id and memo_length == length) or not fresh then
  local save = { 'length', length, 'last_id', last_id, 'order', cjson.encode(order) }
  for _, code in ipairs(order) do
    save[#save + 1] = 'count:' .. code; save[#save + 1] = counts[code]
    save[#save + 1] = 'newest:' .. code; save[#save + 1] = string.format('%d', newest[code])
  end
  redis.call('DEL', memo)
  redis.call('HSET', memo, unpack(save))
end

local out = {}
for _, code in ipairs(order) do
  if counts[code] > 0 then
    out[#out + 1] = code
    out[#out + 1] = counts[code]
    out[#out + 1] = newest[code]
  end
end
return out
