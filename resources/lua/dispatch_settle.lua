-- include: journal
-- Sluice dispatcher: the bookkeeping of a batch of stream entries, all in one step, so a crash
-- never leaves a lead acknowledged but uncounted, or counted twice. An entry counts only when
-- this call's XACK removed it from the group's pending list: a second settle of the same
-- entry (a slow consumer and the one that reclaimed its work) changes nothing.
--
-- KEYS[1] leads stream, KEYS[2] retries zset, KEYS[3] dead-letter stream, KEYS[4] delivered set
-- ARGV[1] group, ARGV[2] now (Unix ms), ARGV[3] key prefix "sluice:<ns>:" (task hashes are
-- derived from it, so this script is not cluster-safe; neither is the rest of the design)
-- ARGV[4] this consumer's name (the journal's instance)
-- ARGV[5..] records of 15: entry id, kind, task id, delivered member ('' = none), reason,
--   retry not-before (Unix ms), attempt after this failure,
--   then for the journal: identity (lower-cased email or close:<id>), campaign name, and the
--   request this outcome came from: its number for this lead (0 = no request was made),
--   HTTP status (0 = no answer), latency ms, limiter wait ms, breaker state, leads in it
--   kinds: ok (succeeded), skip (already there), fail (failed for good, no dead letter),
--          dead (dead letter), retry (back to the retries zset)
-- The journal gets one event per lead: its outcome, carrying the request it came from (or,
-- when this call does not settle the entry, the request alone as an "attempt": it was made).
-- Returns the number of records applied.
local stream, retries, dead, delivered = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, now, prefix, instance = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- The kinds, as sluice::settlementToken() (engine/queue/settler.cpp) writes them.
local KIND_DELIVERED, KIND_SKIPPED, KIND_FAILED = 'ok', 'skip', 'fail'
local KIND_DEAD, KIND_RETRY = 'dead', 'retry'
local outcome_names = { [KIND_DELIVERED] = 'delivered', [KIND_SKIPPED] = 'skipped',
                        [KIND_FAILED] = 'failed', [KIND_DEAD] = 'dead', [KIND_RETRY] = 'retry' }

local touched = {}
local applied = 0

local function fields_of(id)
  local e = redis.call('XRANGE', stream, id, id)
  if e[1] then return e[1][2] end
  return nil
end

for i = 5, #ARGV, 15 do
  local id, kind, task, member = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local reason, retry_at, attempt = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  -- A jittered delay of ~0 ms was computed before this call's now: due at once, not earlier.
  if tonumber(retry_at) < tonumber(now) then retry_at = now end
  local identity, campaign, try = ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
  local event = {'kind', 'attempt', 'at', now, 'task', task, 'campaign', campaign,
                 'instance', instance}
  if try ~= '0' then
    local request = {'attempt', try, 'status', ARGV[i + 10], 'latency_ms', ARGV[i + 11],
                     'wait_ms', ARGV[i + 12], 'breaker', ARGV[i + 13], 'batch', ARGV[i + 14]}
    for j = 1, #request do event[#event + 1] = request[j] end
  end
  local acked = redis.call('XACK', stream, group, id) == 1
  if acked then
    applied = applied + 1
    local key = nil
    if task ~= '' then
      key = prefix .. 'task:' .. task
      touched[key] = true
    end
    local fields = nil
    if kind == KIND_RETRY or kind == KIND_DEAD then
      fields = fields_of(id)
      if not fields then kind = KIND_FAILED; reason = 'the stream entry vanished: ' .. reason end
    end
    if kind == KIND_DELIVERED or kind == KIND_SKIPPED then
      if member ~= '' then redis.call('SADD', delivered, member) end
      if key then
        redis.call('HINCRBY', key, kind == KIND_DELIVERED and 'succeeded' or 'skipped', 1)
        redis.call('HINCRBY', key, 'processed', 1)
        redis.call('HSETNX', key, 'first_sent_ms', now)
      end
    elseif kind == KIND_RETRY then
      local copy = {}
      for j = 1, #fields, 2 do
        if fields[j] == 'attempt' then
          copy[#copy + 1] = 'attempt'; copy[#copy + 1] = attempt
        elseif fields[j] ~= 'retry_of' then
          copy[#copy + 1] = fields[j]; copy[#copy + 1] = fields[j + 1]
        end
      end
      -- retry_of keeps two identical leads apart in the zset
      copy[#copy + 1] = 'retry_of'; copy[#copy + 1] = id
      redis.call('ZADD', retries, retry_at, cjson.encode(copy))
      if key then
        redis.call('HINCRBY', key, 'retries', 1)
        redis.call('HSETNX', key, 'first_sent_ms', now)
        redis.call('HSET', key, 'last_error', reason, 'last_error_ms', now)
      end
    elseif kind == KIND_DEAD then
      local copy = {}
      for j = 1, #fields, 2 do
        if fields[j] ~= 'retry_of' and fields[j] ~= 'reason' and fields[j] ~= 'dead_ms' then
          copy[#copy + 1] = fields[j]; copy[#copy + 1] = fields[j + 1]
        end
      end
      copy[#copy + 1] = 'reason'; copy[#copy + 1] = reason
      copy[#copy + 1] = 'dead_ms'; copy[#copy + 1] = now
      copy[#copy + 1] = 'entry'; copy[#copy + 1] = id
      redis.call('XADD', dead, '*', unpack(copy))
      if key then
        redis.call('HINCRBY', key, 'dead', 1)
        redis.call('HINCRBY', key, 'processed', 1)
        redis.call('HSET', key, 'last_error', reason, 'last_error_ms', now)
      end
    else -- fail
      if key then
        redis.call('HINCRBY', key, 'failed', 1)
        redis.call('HINCRBY', key, 'processed', 1)
        redis.call('HSET', key, 'last_error', reason, 'last_error_ms', now)
      end
    end
  end
  -- After the bookkeeping, which may have turned a retry into a failure.
  if acked then
    event[2] = outcome_names[kind] or kind
    event[#event + 1] = 'detail'; event[#event + 1] = reason
    if kind == KIND_RETRY then
      event[#event + 1] = 'retry_at'; event[#event + 1] = retry_at
    end
    journal.add(prefix, identity, now, event)
  elseif try ~= '0' then
    journal.add(prefix, identity, now, event)
  end
  redis.call('XDEL', stream, id)
end

journal.finish(prefix)

for key in pairs(touched) do
  -- The intake gave the hash its retention. One that expired before its last lead settled
  -- (a dead letter retried weeks later) was just re-made without a TTL: bound it again, to
  -- the default retention, so no hash outlives it forever.
  if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, 604800) end
  local h = redis.call('HMGET', key, 'total', 'processed', 'succeeded', 'skipped', 'state')
  local total, processed = tonumber(h[1]) or 0, tonumber(h[2]) or 0
  local good = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0)
  if total > 0 and processed >= total then
    if h[5] ~= 'done' and h[5] ~= 'failed' then
      redis.call('HSET', key, 'state', good > 0 and 'done' or 'failed', 'finished_ms', now)
    end
  elseif h[5] ~= 'running' then
    redis.call('HSET', key, 'state', 'running')
  end
end
return applied
