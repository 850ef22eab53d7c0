-- Shared helpers, prepended to every Handoff script (see handoff/store.py).
-- Keys are always passed in by Python (handoff/keys.py); the only key read from data is the
-- transfer's own 'active_key' field, which Python built with the same key builder at creation.

local function hgetall_flat(key)
  return redis.call('HGETALL', key)
end

local function touch(ttl, ...)
  for _, key in ipairs({...}) do
    redis.call('EXPIRE', key, ttl)
  end
end

local function append_event(timeline, event_json)
  if event_json ~= nil and event_json ~= '' then
    redis.call('RPUSH', timeline, event_json)
  end
end

-- Finish the transfer: status completed, outcome set once, the call's 409 guard released.
local function finish(transfer, outcome, detail, now)
  local current = redis.call('HGET', transfer, 'outcome')
  if current == false or current == '' then
    redis.call('HSET', transfer, 'outcome', outcome, 'outcome_detail', detail)
  end
  redis.call('HSET', transfer, 'status', 'completed', 'finished_at', now, 'updated_at', now)
  local active_key = redis.call('HGET', transfer, 'active_key')
  local id = redis.call('HGET', transfer, 'id')
  if active_key and active_key ~= '' and redis.call('GET', active_key) == id then
    redis.call('DEL', active_key)
  end
end

-- An attempt failed: move on to the next attempt of the plan, or finish with this outcome.
-- Returns 'next' or 'finished'.
local function fail_attempt(transfer, timeline, outcome, detail, now)
  local attempt = tonumber(redis.call('HGET', transfer, 'attempt') or '0')
  local total = tonumber(redis.call('HGET', transfer, 'attempts_total') or '1')
  redis.call('HSET', transfer, 'last_attempt_outcome', outcome, 'last_attempt_detail', detail)
  if outcome ~= 'transfer-cancelled' and attempt + 1 < total then
    redis.call('HSET', transfer, 'status', 'dialing', 'attempt', attempt + 1, 'updated_at', now)
    append_event(timeline, cjson.encode({at = now, event = 'fallback-taken', attempt = attempt + 1,
                                          after = outcome, detail = detail}))
    return 'next'
  end
  finish(transfer, outcome, detail, now)
  append_event(timeline, cjson.encode({at = now, event = 'completed', outcome = outcome, detail = detail}))
  return 'finished'
end

local function contains(list_str, value)
  if list_str == '*' then return true end
  for item in string.gmatch(list_str, '%S+') do
    if item == value then return true end
  end
  return false
end
