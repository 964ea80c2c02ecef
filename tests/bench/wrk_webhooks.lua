-- wrk script: every request is a distinct Close webhook (own event id, lead id and email),
-- so the intake stores each one instead of dropping duplicates.
-- wrk -t2 -c50 -d10s -s tests/bench/wrk_webhooks.lua http://127.0.0.1:8080/instantly/add_lead
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix = "w" .. tid .. "_" .. math.random(1, 1e9) .. "_"
end

request = function()
  counter = counter + 1
  local n = prefix .. counter
  local body = '{"subscription_id":"sub_bench","event":{"id":"ev_' .. n ..
    '","object_type":"task.lead","action":"created","lead_id":"lead_' .. n ..
    '","data":{"text":"Instantly: Bench","lead_id":"lead_' .. n .. '"}},' ..
    '"lead":{"id":"lead_' .. n .. '","display_name":"Bench Co","contacts":[{"name":"Bench Lead","emails":[{"email":"b' ..
    n .. '@example.com"}]}]}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
