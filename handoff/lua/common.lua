-- Shared helpers, prepended to every Handoff script (see handoff/store.py). Every key a script
-- touches is declared in KEYS by Python (handoff/keys.py); data never names a key.

local function hget(key, field)
  local value = redis.call('HGET', key, field)
  if value == false then return nil end
  return value
end

local function flat(key)
  return redis.call('HGETALL', key)
end

local function touch(ttl, ...)
  for _, key in ipairs({...}) do
    if redis.call('EXISTS', key) == 1 then redis.call('EXPIRE', key, ttl) end
  end
end

local function append_event(timeline, event)
  if event ~= nil and event ~= cjson.null and event ~= '' then
    if type(event) == 'table' then event = cjson.encode(event) end
    redis.call('RPUSH', timeline, event)
  end
end

local function fmt(at)
  return string.format('%.3f', at)
end

local function contains(list, value)
  if list == nil or list == cjson.null or list == '*' then return true end
  for _, item in ipairs(list) do
    if item == value then return true end
  end
  return false
end

local CALL_ENDED = {completed = true, busy = true, failed = true, ['no-answer'] = true, canceled = true}

-- The transfer's one deadline: fields on the hash plus its entry in the deadlines index, written
-- together so the sweeper (handoff/transfer/recovery.py) always sees what the transfer waits for.
local function set_deadline(t, index, id, kind, at)
  redis.call('HINCRBY', t, 'dl_seq', 1)
  redis.call('HSET', t, 'dl_kind', kind, 'dl_at', fmt(at))
  redis.call('ZADD', index, fmt(at), id)
end

local function clear_deadline(t, index, id)
  redis.call('HINCRBY', t, 'dl_seq', 1)
  redis.call('HDEL', t, 'dl_kind', 'dl_at')
  redis.call('ZREM', index, id)
end

-- Finish: status completed, the outcome set once, the call's 409 guard released. A failed or
-- cancelled transfer then owes its caller a move (and its legs an end): a 'return' deadline, due
-- now, unless the caller was already given its next document (inline) or is bridged.
local function finish(k, now, now_ts, outcome, detail, inline_return)
  local t, tl, index, active = k.t, k.tl, k.index, k.active
  local id = hget(t, 'id')
  local current = hget(t, 'outcome')
  if current == nil or current == '' then
    redis.call('HSET', t, 'outcome', outcome, 'outcome_detail', detail)
  else
    outcome = current
  end
  redis.call('HSET', t, 'status', 'completed', 'finished_at', now, 'updated_at', now)
  if redis.call('GET', active) == id then redis.call('DEL', active) end
  append_event(tl, {at = now, event = 'completed', outcome = outcome, detail = detail})
  if inline_return then
    -- The webhook finishing it answers the caller's next document itself (handoff.transfer.lifecycle
    -- .caller_next): record where that takes the caller.
    redis.call('HSET', t, 'caller', 'returned')
    local to = nil
    if outcome ~= 'transfer-success' then
      local settings = cjson.decode(hget(t, 'settings') or '{}')
      to = settings.last_resort or 'agent'
      if to == 'agent' and inline_return ~= true then to = inline_return end
    elseif hget(t, 'final') == '0' then
      to = 'agent'
    end
    if to then append_event(tl, {at = now, event = 'caller-returned', to = to}) end
  end
  local caller = hget(t, 'caller') or 'agent'
  local open_legs = false
  local all = redis.call('HGETALL', k.legs)
  for i = 2, #all, 2 do
    if not string.match(all[i], ':ended$') and not string.match(all[i], ':accepted$') then open_legs = true end
  end
  if outcome ~= 'transfer-success' and (caller ~= 'returned' or open_legs) then
    set_deadline(t, index, id, 'return', now_ts)
  else
    clear_deadline(t, index, id)
  end
  return 'finished'
end

-- An attempt failed: the next attempt of the plan is due (after its retry interval), or the
-- transfer finishes with this outcome. `on_next` says what the next attempt waits for.
local function fail_attempt(k, now, now_ts, outcome, detail, on_next, inline_return)
  local t = k.t
  local attempt = tonumber(hget(t, 'attempt') or '0')
  local total = tonumber(hget(t, 'attempts_total') or '1')
  redis.call('HSET', t, 'last_attempt_outcome', outcome, 'last_attempt_detail', detail)
  if outcome ~= 'transfer-cancelled' and attempt + 1 < total then
    local delays = cjson.decode(hget(t, 'delays') or '[]')
    local delay = tonumber(delays[attempt + 2] or 0) or 0
    redis.call('HSET', t, 'status', 'dialing', 'attempt', attempt + 1, 'updated_at', now, 'legs_expected', 0)
    redis.call('HDEL', t, 'bridged_leg')
    append_event(k.tl, {at = now, event = 'fallback-taken', attempt = attempt + 1, after = outcome,
                        detail = detail, delay = delay})
    local kind, after = 'dial', 0
    if on_next ~= nil and on_next ~= cjson.null then kind, after = on_next.kind, on_next.after or 0 end
    set_deadline(t, k.index, hget(t, 'id'), kind, now_ts + delay + after)
    return 'next'
  end
  return finish(k, now, now_ts, outcome, detail, inline_return)
end

local function reply(verdict, nxt, t)
  local out = {verdict, nxt}
  for _, v in ipairs(flat(t)) do out[#out + 1] = v end
  return out
end
