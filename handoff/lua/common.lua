-- The lifecycle's shared steps: finish and fail an attempt (prepended after base.lua and analytics.lua).

-- Moments recorded once (handoff.state.Stamp); the attempt's own are cleared when the next begins.
local function stamp(k, names, now_ts)
  if names == nil or names == cjson.null then return end
  for _, name in ipairs(names) do
    local f = 'ts_' .. name
    if hget(k.t, f) == nil then
      redis.call('HSET', k.t, f, fmt(now_ts))
      if name == 'dialed' then redis.call('HINCRBY', k.t, 'attempts_dialed', 1) end
    end
  end
end

-- The outcome is decided once: recorded with its analytics, reported by an 'outcome' event (a warm
-- success is decided when the recipient joins, long before the call, and so the transfer, ends).
local function decide(k, now, now_ts, outcome, detail)
  if (hget(k.t, 'outcome') or '') ~= '' then return nil end
  redis.call('HSET', k.t, 'outcome', outcome, 'outcome_detail', detail)
  record_attempt(k, now_ts, outcome)
  local report = record_outcome(k, now_ts, outcome, detail)
  redis.call('HSET', k.t, 'report', cjson.encode(report))
  report.at, report.event, report.outcome, report.detail = now, 'outcome', outcome, detail
  -- The caller's texts due (handoff/texts.py): the dispatcher queues a notice only when this says so.
  local texts = hget(k.t, 'texts')
  if texts ~= nil and texts ~= '' then report.texts = texts end
  append_event(k, report)
  return report
end

-- Finish: status completed, the outcome set once, the call's 409 guard released. A failed or
-- cancelled transfer then owes its caller a move (and its legs an end): a 'return' deadline, due
-- now, unless the caller was already given its next document (inline) or is bridged.
local function finish(k, now, now_ts, outcome, detail, inline_return)
  local t, index, active = k.t, k.index, k.active
  local id = hget(t, 'id')
  decide(k, now, now_ts, outcome, detail)
  outcome = hget(t, 'outcome')
  redis.call('HSET', t, 'status', 'completed', 'finished_at', now, 'updated_at', now)
  if redis.call('GET', active) == id then redis.call('DEL', active) end
  -- The end: the outcome's report again (the end-of-transfer report consumers wait for).
  local ok, report = pcall(cjson.decode, hget(t, 'report') or '{}')
  if not ok then report = {} end
  report.at, report.event, report.outcome = now, 'completed', outcome
  report.detail, report.ended_because = hget(t, 'outcome_detail') or detail, detail
  local created = tonumber(hget(t, 'created_ts') or '')
  if created then report.total_seconds = math.floor((now_ts - created) * 1000 + 0.5) / 1000 end
  append_event(k, report)
  if inline_return then
    -- The webhook finishing it answers the caller's next document itself (handoff.transfer.lifecycle
    -- .caller_next): record where that takes the caller.
    redis.call('HSET', t, 'caller', 'returned')
    local to = nil
    if outcome ~= 'transfer-success' then
      local settings = cjson.decode(hget(t, 'settings') or '{}')
      to = settings.last_resort or 'agent'
      -- A callback is offered after a failure only (handoff.transfer.lifecycle.offers_callback).
      if to == 'callback' and outcome == 'transfer-cancelled' then to = 'agent' end
      if to == 'agent' and inline_return ~= true then to = inline_return end
    elseif hget(t, 'final') == '0' then
      to = 'agent'
    end
    if to then append_event(k, {at = now, event = 'caller-returned', to = to}) end
    if to == 'callback' then append_event(k, {at = now, event = 'callback-offered'}) end
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
  local result = record_attempt(k, now_ts, outcome)
  append_event(k, {at = now, event = 'attempt-failed', attempt = attempt, outcome = outcome, reason = detail,
                   result = result, destination = attempt_destination(t, attempt)})
  if outcome ~= 'transfer-cancelled' and attempt + 1 < total then
    local delays = cjson.decode(hget(t, 'delays') or '[]')
    local delay = tonumber(delays[attempt + 2] or 0) or 0
    redis.call('HSET', t, 'status', 'dialing', 'attempt', attempt + 1, 'updated_at', now, 'legs_expected', 0)
    redis.call('HDEL', t, 'bridged_leg', 'ts_dialed', 'ts_answered', 'ts_accepted', 'att_result')
    append_event(k, {at = now, event = 'fallback-taken', attempt = attempt + 1, after = outcome,
                     detail = detail, delay = delay, destination = attempt_destination(t, attempt + 1)})
    local kind, after = 'dial', 0
    if on_next ~= nil and on_next ~= cjson.null then kind, after = on_next.kind, on_next.after or 0 end
    -- A next attempt that waits for its answer (cold: its Dial is in the document answered now) has dialed.
    if kind == 'attempt' then stamp(k, {'dialed'}, now_ts + delay) end
    set_deadline(t, k.index, hget(t, 'id'), kind, now_ts + delay + after)
    return 'next'
  end
  return finish(k, now, now_ts, outcome, detail, inline_return)
end

-- A finished transfer that waits for nothing is settled: its archive (handoff/archive.py folds it into
-- one compact record) is due once nothing has changed it for `archive_after` seconds; a later change
-- (a late leg's news) pushes that back.
local function settle(k, now_ts)
  if k.archives == nil or hget(k.t, 'status') ~= 'completed' or hget(k.t, 'dl_kind') ~= nil then return end
  redis.call('ZADD', k.archives, fmt(now_ts + k.archive_after), k.id)
end

local function reply(verdict, nxt, t)
  local out = {verdict, nxt}
  for _, v in ipairs(flat(t)) do out[#out + 1] = v end
  return out
end
