-- Apply one event to a transfer at most once: a status move, an attempt's failure, the end, or a
-- recipient leg's progress; the deadline of the state it enters is armed in the same step.
-- KEYS: 1 transfer, 2 events, 3 seen, 4 legs, 5 deadlines index, 6 call hash, 7 call active, 8 event feed,
--       9 this hour's analytics, 10 analytics totals, 11 the transfer's archive, 12 archives index
-- ARGV: 1 the change as JSON (built by handoff/store.py Change), 2 ttl, 3 feed cap, 4 analytics ttl,
--       5 seconds a settled transfer waits to be archived
-- Returns {verdict, next, hgetall...}; verdict: applied|duplicate|stale|refused|missing|caller-gone|archived.
local k = {t = KEYS[1], ev = KEYS[2], seen = KEYS[3], legs = KEYS[4], index = KEYS[5], call = KEYS[6],
           active = KEYS[7], feed = KEYS[8], hour = KEYS[9], totals = KEYS[10], feed_cap = ARGV[3],
           a_ttl = tonumber(ARGV[4]), archives = KEYS[12], archive_after = tonumber(ARGV[5])}
local c = cjson.decode(ARGV[1])
local ttl = tonumber(ARGV[2])
local t = k.t
if redis.call('EXISTS', t) == 0 then
  -- Archived (finished long ago: handoff/archive.py): it never moves; the store answers from the archive.
  if redis.call('EXISTS', KEYS[11]) == 1 then return {'archived', ''} end
  return {'missing', ''}
end
local id = hget(t, 'id')
k.id, k.call_sid = id, hget(t, 'call_sid')
local now, now_ts = c.now, tonumber(c.now_ts)
local event_id = c.event_id
if event_id == cjson.null then event_id = nil end
if event_id and redis.call('SISMEMBER', k.seen, event_id) == 1 then return reply('duplicate', '', t) end
local status = hget(t, 'status')
local leg = c.leg
if leg == cjson.null then leg = nil end

-- A recipient leg's progress: legs only move forward (a late 'ringing' never undoes 'answered').
local prev_leg, leg_attempt = '', nil
if leg then
  local previous = hget(k.legs, leg.sid)
  prev_leg = previous and string.match(previous, ':(%a+)$') or ''
  leg_attempt = tostring(leg.attempt or c.attempt)
  local rank = {dialed = 1, ringing = 2, answered = 3, consent = 4, screening = 5, accepted = 6, ended = 9}
  if leg.require ~= nil and leg.require ~= cjson.null and not contains(leg.require, prev_leg) then
    return reply('refused', prev_leg, t)
  end
  if prev_leg ~= '' and (rank[leg.state] or 0) < (rank[prev_leg] or 0) then
    -- A late event is still a fact: recorded once in the timeline, changing nothing.
    if event_id then
      append_events(k, c.events)
      redis.call('SADD', k.seen, event_id)
    end
    return reply('refused', prev_leg, t)
  end
end

-- A finished transfer, or one on another attempt, never moves; a leg's news is kept as a fact.
-- (Only bookkeeping after the end, `after_finish`, touches a finished transfer: never its outcome.)
local stale = c.attempt ~= nil and c.attempt ~= cjson.null and hget(t, 'attempt') ~= tostring(c.attempt)
if (status == 'completed' and not c.after_finish) or (status ~= 'completed' and c.after_finish) or stale then
  if leg then
    redis.call('HSET', k.legs, leg.sid, leg_attempt .. ':' .. leg.state)
    append_events(k, c.events)
    if event_id then redis.call('SADD', k.seen, event_id) end
    touch(ttl, t, k.ev, k.seen, k.legs)
    settle(k, now_ts)
  end
  if stale then return reply('stale', prev_leg, t) end
  return reply('refused', prev_leg, t)
end

-- The caller hung up: whatever this event was, the transfer is over (its legs are ended by the
-- 'return' deadline's job).
local call_status = hget(k.call, 'status')
if status ~= 'completed' and call_status and CALL_ENDED[call_status] and not c.ignore_caller then
  if leg then redis.call('HSET', k.legs, leg.sid, leg_attempt .. ':' .. leg.state) end
  append_events(k, c.events)
  if event_id then redis.call('SADD', k.seen, event_id) end
  finish(k, now, now_ts, 'transfer-cancelled', 'caller hung up', false)
  touch(ttl, t, k.ev, k.seen, k.legs)
  settle(k, now_ts)
  return reply('caller-gone', 'finished', t)
end

if not contains(c.from, status) then return reply('refused', prev_leg, t) end
if c.require_outcome and (hget(t, 'outcome') or '') == '' then return reply('refused', prev_leg, t) end
if c.require_field ~= nil and c.require_field ~= cjson.null and hget(t, c.require_field[1]) ~= c.require_field[2] then
  return reply('refused', prev_leg, t)
end

if leg then redis.call('HSET', k.legs, leg.sid, leg_attempt .. ':' .. leg.state) end
if c.fields ~= nil and c.fields ~= cjson.null then
  for name, value in pairs(c.fields) do redis.call('HSET', t, name, tostring(value)) end
end
if c.caller ~= nil and c.caller ~= cjson.null then redis.call('HSET', t, 'caller', c.caller) end
append_events(k, c.events)
if event_id then redis.call('SADD', k.seen, event_id) end
stamp(k, c.stamps, now_ts)
if c.result ~= nil and c.result ~= cjson.null then redis.call('HSET', t, 'att_result', c.result) end

local nxt = ''
local to = c.to
if to == cjson.null then to = nil end
if leg and leg.state == 'ended' and to == nil then
  -- The last expected leg of the attempt ending without a bridge fails the attempt.
  local expected = tonumber(hget(t, 'legs_expected') or '0')
  if status == 'bridged' then
    if hget(t, 'bridged_leg') == leg.sid and (hget(t, 'outcome') or '') == '' then
      nxt = fail_attempt(k, now, now_ts, 'transfer-screening-rejected', 'hung up before joining', c.on_next, false)
    else
      nxt = 'bridge-leg-ended'
    end
  elseif expected > 0 then
    local ended, attempt = 0, hget(t, 'attempt')
    local all = redis.call('HGETALL', k.legs)
    for i = 1, #all, 2 do
      if all[i + 1] == attempt .. ':ended' then ended = ended + 1 end
    end
    if ended >= expected then
      local outcome, result = leg.outcome, leg.result
      if (prev_leg == 'answered' or prev_leg == 'consent' or prev_leg == 'screening') and leg.outcome_answered then
        outcome, result = leg.outcome_answered, leg.result_answered
      end
      if result ~= nil and result ~= cjson.null then redis.call('HSET', t, 'att_result', result) end
      nxt = fail_attempt(k, now, now_ts, outcome, c.detail or '', c.on_next, false)
    end
  end
elseif to == 'completed' then
  nxt = finish(k, now, now_ts, c.outcome, c.detail or '', c.inline_return)
elseif to == 'fail-attempt' then
  nxt = fail_attempt(k, now, now_ts, c.outcome, c.detail or '', c.on_next, c.inline_return)
elseif to ~= nil then
  local rank = {requested = 0, dialing = 1, ringing = 2, answered = 3, screening = 4, bridged = 5}
  if not c.forward_only or (rank[to] or 0) > (rank[status] or 0) then
    redis.call('HSET', t, 'status', to, 'updated_at', now)
    if c.outcome ~= nil and c.outcome ~= cjson.null and c.outcome ~= '' then
      decide(k, now, now_ts, c.outcome, c.detail or '')
    end
  end
end

if nxt == '' then
  local d = c.deadline
  if d == 'clear' then
    clear_deadline(t, k.index, id)
  elseif d ~= nil and d ~= cjson.null then
    local at = now_ts + (tonumber(d.after) or 0)
    local current = tonumber(hget(t, 'dl_at') or '0')
    if not d.extend or at > current then set_deadline(t, k.index, id, d.kind, at) end
  end
end
touch(ttl, t, k.ev, k.seen, k.legs)
settle(k, now_ts)
return reply('applied', nxt, t)
