-- include: journal
-- include: reasons
-- Sluice dispatcher: the bookkeeping of a batch of stream entries, all in one step, so a crash
-- never leaves a lead acknowledged but uncounted, or counted twice. Only the consumer that
-- owns an entry at this moment may settle it (fencing): an entry pending for another consumer
-- (which reclaimed it from a slow one) is left alone, and one no longer pending was settled
-- already. An entry counts only when this call's XACK removed it from the pending list.
--
-- KEYS[1] leads stream, KEYS[2] retries zset, KEYS[3] dead-letter stream, KEYS[4] delivered
--   sorted set (member scored by the delivery's Unix ms; trimmed past the retention)
-- ARGV[1] group, ARGV[2] now (Unix ms), ARGV[3] key prefix "sluice:<ns>:" (task hashes and
-- parked streams are derived from it, so this script is not cluster-safe; neither is the rest
-- of the design)
-- ARGV[4] this consumer's name (the owner it checks, and the journal's instance)
-- ARGV[5] the delivered set's retention in ms
-- ARGV[6..] records of 17: entry id, kind, task id, delivered member ('' = none), reason,
--   retry not-before (Unix ms), attempt after this failure,
--   then for the journal: identity (lower-cased email or close:<id>), campaign name, and the
--   request this outcome came from: its number for this lead (0 = no request was made),
--   HTTP status (0 = no answer), latency ms, limiter wait ms, breaker state, leads in it,
--   then the reason code (reasons.*; '' for none), then flags: 'u' = the answer was uncertain
--   (a retry is marked "uncertain": the campaign is listed for it before it is sent again)
--   kinds: ok (succeeded), skip (already there), fail (failed for good, no dead letter),
--          dead (dead letter), retry (back to the retries zset), park (waits for its campaign
--          in the stream parked:<campaign name>, listed in the set "parked")
-- The journal gets one event per lead: its outcome, carrying the request it came from (or,
-- when this call does not settle the entry, the request alone as an "attempt": it was made).
-- Returns the number of records applied.
local stream, retries, dead, delivered = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local group, now, prefix, instance = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local retention = tonumber(ARGV[5])
-- The kinds, as sluice::settlementToken() (engine/queue/settler.cpp) writes them.
local KIND_DELIVERED, KIND_SKIPPED, KIND_FAILED = 'ok', 'skip', 'fail'
local KIND_DEAD, KIND_RETRY, KIND_PARK = 'dead', 'retry', 'park'
local outcome_names = { [KIND_DELIVERED] = 'delivered', [KIND_SKIPPED] = 'skipped',
                        [KIND_FAILED] = 'failed', [KIND_DEAD] = 'dead', [KIND_RETRY] = 'retry',
                        [KIND_PARK] = 'parked' }

local touched = {}
local applied = 0

local function fields_of(id)
  local e = redis.call('XRANGE', stream, id, id)
  if e[1] then return e[1][2] end
  return nil
end

local delivered_any = false
for i = 6, #ARGV, 17 do
  local id, kind, task, member = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local reason, retry_at, attempt = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  -- A jittered delay of ~0 ms was computed before this call's now: due at once, not earlier.
  if tonumber(retry_at) < tonumber(now) then retry_at = now end
  local identity, campaign, try = ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
  local code, flags = ARGV[i + 15], ARGV[i + 16]
  if code == '' then code = reasons.UNKNOWN end
  local event = {'kind', 'attempt', 'at', now, 'task', task, 'campaign', campaign,
                 'instance', instance}
  if try ~= '0' then
    local request = {'attempt', try, 'status', ARGV[i + 10], 'latency_ms', ARGV[i + 11],
                     'wait_ms', ARGV[i + 12], 'breaker', ARGV[i + 13], 'batch', ARGV[i + 14]}
    for j = 1, #request do event[#event + 1] = request[j] end
  end
  local pending = redis.call('XPENDING', stream, group, id, id, 1)
  local owner = pending[1] and pending[1][2] or nil
  local acked = false
  if owner == instance then acked = redis.call('XACK', stream, group, id) == 1 end
  if acked then
    applied = applied + 1
    local key = nil
    if task ~= '' then
      key = prefix .. 'task:' .. task
      touched[key] = true
    end
    local fields = nil
    if kind == KIND_RETRY or kind == KIND_DEAD or kind == KIND_PARK then
      fields = fields_of(id)
      if not fields then kind = KIND_FAILED; reason = 'the stream entry vanished: ' .. reason end
    end
    if kind == KIND_DELIVERED or kind == KIND_SKIPPED then
      if member ~= '' then
        redis.call('ZADD', delivered, now, member)
        delivered_any = true
      end
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
        elseif fields[j] ~= 'retry_of' and fields[j] ~= 'uncertain' then
          copy[#copy + 1] = fields[j]; copy[#copy + 1] = fields[j + 1]
        end
      end
      if string.find(flags, 'u', 1, true) then
        copy[#copy + 1] = 'uncertain'; copy[#copy + 1] = '1'
      end
      -- retry_of keeps two identical leads apart in the zset
      copy[#copy + 1] = 'retry_of'; copy[#copy + 1] = id
      redis.call('ZADD', retries, retry_at, cjson.encode(copy))
      if key then
        redis.call('HINCRBY', key, 'retries', 1)
        redis.call('HSETNX', key, 'first_sent_ms', now)
        redis.call('HSET', key, 'last_error', reason, 'last_error_ms', now)
      end
    elseif kind == KIND_DEAD or kind == KIND_PARK then
      local drop = { retry_of = true, reason = true, code = true, dead_ms = true,
                     parked_ms = true, entry = true, uncertain = true }
      local copy = {}
      for j = 1, #fields, 2 do
        if not drop[fields[j]] then
          copy[#copy + 1] = fields[j]; copy[#copy + 1] = fields[j + 1]
        end
      end
      copy[#copy + 1] = 'reason'; copy[#copy + 1] = reason
      copy[#copy + 1] = 'code'; copy[#copy + 1] = code
      copy[#copy + 1] = kind == KIND_DEAD and 'dead_ms' or 'parked_ms'; copy[#copy + 1] = now
      copy[#copy + 1] = 'entry'; copy[#copy + 1] = id
      if kind == KIND_DEAD then
        redis.call('XADD', dead, '*', unpack(copy))
        if key then
          redis.call('HINCRBY', key, 'dead', 1)
          redis.call('HINCRBY', key, 'processed', 1)
        end
      else
        redis.call('XADD', prefix .. 'parked:' .. campaign, '*', unpack(copy))
        redis.call('SADD', prefix .. 'parked', campaign)
        if key then redis.call('HINCRBY', key, 'parked', 1) end
      end
      if key then redis.call('HSET', key, 'last_error', reason, 'last_error_ms', now) end
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
  -- Settled here or already before: gone from the stream. Another consumer's stays.
  if acked or not owner then redis.call('XDEL', stream, id) end
end

journal.finish(prefix)

-- Retention: members older than it are no longer no-ops (a lead deleted in Instantly can
-- be added again). Trimmed here, on the path that adds them: O(log n) when nothing is due.
if delivered_any then
  redis.call('ZREMRANGEBYSCORE', delivered, '-inf', '(' .. (tonumber(now) - retention))
end

for key in pairs(touched) do
  -- The intake gave the hash its retention. One that expired before its last lead settled
  -- (a dead letter retried weeks later) was just re-made without a TTL: bound it again, to
  -- the default retention, so no hash outlives it forever.
  if redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, 604800) end
  local h = redis.call('HMGET', key, 'total', 'processed', 'succeeded', 'skipped', 'state',
                       'parked')
  local total, processed = tonumber(h[1]) or 0, tonumber(h[2]) or 0
  local good = (tonumber(h[3]) or 0) + (tonumber(h[4]) or 0)
  local parked = tonumber(h[6]) or 0
  if total > 0 and processed >= total then
    if h[5] ~= 'done' and h[5] ~= 'failed' then
      redis.call('HSET', key, 'state', good > 0 and 'done' or 'failed', 'finished_ms', now)
    end
  elseif total > 0 and parked > 0 and processed + parked >= total then
    -- Nothing left to do but wait for a campaign.
    if h[5] ~= 'parked' then redis.call('HSET', key, 'state', 'parked') end
  elseif h[5] ~= 'running' then
    redis.call('HSET', key, 'state', 'running')
  end
end
return applied
