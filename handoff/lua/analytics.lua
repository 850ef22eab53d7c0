-- Analytics, aggregated as it happens: each attempt's end and each outcome add to the hour's hash
-- and to the all-time totals, in the same script as the transition (handoff/analytics.py reads
-- them; the field format is `<dim>=<value>|<metric>`). Durations go to fixed bins, named by their
-- upper bound, from which p50/p90 are estimated; this list is the only place the bins are defined.
local BOUNDS = {0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120, 180, 300, 600}
local RESULT_OF = {['transfer-success'] = 'accepted', ['transfer-failed-timeout'] = 'timeout',
                   ['transfer-failed-connection-error'] = 'failed', ['transfer-cancelled'] = 'cancelled',
                   ['transfer-screening-rejected'] = 'declined'}

local function bin(seconds)
  for _, bound in ipairs(BOUNDS) do
    if seconds <= bound then return tostring(bound) end
  end
  return '+Inf'
end

local function label(value)
  if value == nil or value == '' then return '(none)' end
  return (string.gsub(value, '[|=]', '/'))
end

-- Who an attempt rang: its recipients' names (or addresses), '+'-joined for a parallel group.
local function attempt_destination(t, attempt)
  local ok, plan = pcall(cjson.decode, hget(t, 'plan') or '[]')
  local a = ok and plan[(tonumber(attempt) or 0) + 1] or nil
  if a == nil then return '(none)' end
  local names = {}
  for _, target in ipairs(a.targets or {}) do
    local name = target.recipient
    if name == nil or name == cjson.null or name == '' then name = target.address end
    names[#names + 1] = label(name)
  end
  if #names == 0 and a.dynamic ~= nil and a.dynamic ~= cjson.null then names[1] = label(a.dynamic) end
  if #names == 0 then return '(none)' end
  return table.concat(names, '+')
end

local function dims_for(t, destination)
  return {'all=*', 'dest=' .. destination, 'rule=' .. label(hget(t, 'rule')), 'mode=' .. label(hget(t, 'mode'))}
end

local function add(k, dims, metric, by)
  for _, dim in ipairs(dims) do
    redis.call('HINCRBY', k.hour, dim .. '|' .. metric, by or 1)
    redis.call('HINCRBY', k.totals, dim .. '|' .. metric, by or 1)
  end
end

local function observe(k, dims, metric, seconds)
  if seconds == nil or seconds < 0 then return end
  add(k, dims, metric .. '_le:' .. bin(seconds))
  add(k, dims, metric .. '_n')
  for _, dim in ipairs(dims) do
    redis.call('HINCRBYFLOAT', k.hour, dim .. '|' .. metric .. '_sum', string.format('%.3f', seconds))
    redis.call('HINCRBYFLOAT', k.totals, dim .. '|' .. metric .. '_sum', string.format('%.3f', seconds))
  end
end

local function since(t, from_field, to_field)
  local from, to = tonumber(hget(t, from_field) or ''), tonumber(hget(t, to_field) or '')
  if from and to then return to - from end
  return nil
end

-- The current attempt ended (once per attempt, only if it dialed anyone); returns its result.
local function record_attempt(k, now_ts, outcome)
  local t = k.t
  local attempt = hget(t, 'attempt') or '0'
  local result = hget(t, 'att_result') or RESULT_OF[outcome] or 'failed'
  if hget(t, 'ts_dialed') == nil or hget(t, 'att_recorded') == attempt then return result end
  redis.call('HSET', t, 'att_recorded', attempt)
  local dims = dims_for(t, attempt_destination(t, attempt))
  add(k, dims, 'attempts')
  add(k, dims, 'result:' .. result)
  observe(k, dims, 'answer', since(t, 'ts_dialed', 'ts_answered'))
  observe(k, dims, 'accept', since(t, 'ts_dialed', 'ts_accepted'))
  redis.call('HINCRBY', k.totals, 'attempts|' .. dims[2] .. '|' .. result, 1)
  redis.call('EXPIRE', k.hour, k.a_ttl)
  return result
end

-- The outcome: counted once per transfer; returns the figures the 'completed' event reports.
local function record_outcome(k, now_ts, outcome, detail)
  local t = k.t
  local destination = attempt_destination(t, hget(t, 'attempt') or '0')
  local dims = dims_for(t, destination)
  local depth = tonumber(hget(t, 'attempts_dialed') or '0')
  add(k, dims, 'transfers')
  add(k, dims, 'outcome:' .. outcome)
  add(k, dims, 'depth:' .. depth)
  local hold = nil
  if hget(t, 'ts_hold') then
    local on_hold = hget(t, 'ts_hold_end') == nil
    if on_hold then redis.call('HSET', t, 'ts_hold_end', fmt(now_ts)) end
    hold = since(t, 'ts_hold', 'ts_hold_end')
    observe(k, dims, 'hold', hold)
    if on_hold and outcome == 'transfer-cancelled' and detail == 'caller hung up' then
      add(k, dims, 'hangup_on_hold')
    end
  end
  redis.call('HINCRBY', k.totals, 'transfers|' .. label(hget(t, 'mode')) .. '|' .. outcome .. '|' .. destination, 1)
  redis.call('EXPIRE', k.hour, k.a_ttl)
  local function rounded(v) if v then return math.floor(v * 1000 + 0.5) / 1000 end return nil end
  return {mode = hget(t, 'mode'), destination = destination, rule = hget(t, 'rule'), attempts = depth,
          hold_seconds = rounded(hold), answer_seconds = rounded(since(t, 'ts_dialed', 'ts_answered')),
          accept_seconds = rounded(since(t, 'ts_dialed', 'ts_accepted')),
          seconds_to_outcome = rounded(now_ts - (tonumber(hget(t, 'created_ts') or '') or now_ts))}
end
