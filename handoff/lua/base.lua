-- Shared helpers, prepended (with analytics.lua and common.lua) to every Handoff script (see
-- handoff/store.py). Every key a script touches is declared in KEYS by Python (handoff/keys.py);
-- data never names a key.

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

-- One event, written once with one id to the feed (every consumer reads it: handoff/events.py) and
-- to the transfer's own stream. The feed is written first: its ids only grow, so the same id is
-- always valid in the transfer's stream too (pcall: should the feed have been deleted under us,
-- the transfer's stream takes its own id rather than fail the transition half-way).
local PER_TRANSFER_CAP = 500
local function append_event(k, event)
  if event == nil or event == cjson.null or event == '' then return end
  if type(event) == 'string' then event = cjson.decode(event) end
  if event.fill ~= nil and k.t ~= nil then   -- fields copied from the record (e.g. the whisper's text)
    -- a list names fields kept under their own name; a map is event field -> record field
    for target, source in pairs(event.fill) do
      if type(target) == 'number' then target = source end
      event[target] = hget(k.t, source)
    end
  end
  event.fill = nil
  event.transfer = k.id
  event.call = k.call_sid
  local body = cjson.encode(event)
  local id = redis.call('XADD', k.feed, 'MAXLEN', '~', k.feed_cap, '*', 'e', body)
  local ok = redis.pcall('XADD', k.ev, 'MAXLEN', PER_TRANSFER_CAP, id, 'e', body)
  if type(ok) == 'table' and ok.err then redis.call('XADD', k.ev, 'MAXLEN', PER_TRANSFER_CAP, '*', 'e', body) end
end

local function append_events(k, events)
  if events == nil or events == cjson.null then return end
  for _, event in ipairs(events) do append_event(k, event) end
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

