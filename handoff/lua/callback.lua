-- The caller's answer to a callback offer (handoff/callbacks.py), once per transfer: a request taken is
-- stored as a record (the caller's number, the variables, the reason) with its index entry, and both
-- answers become an event ('callback-requested' / 'callback-declined'). Bookkeeping after the finish:
-- the transfer's status and outcome never change.
-- KEYS: 1 transfer, 2 events, 3 seen, 4 call hash, 5 call variables, 6 event feed, 7 the request's record,
--       8 callbacks index, 9 the transfer's archive
-- ARGV: 1 event id, 2 event json, 3 request id ('' = declined), 4 now (epoch seconds), 5 feed cap, 6 ttl,
--       7 the record's ttl
-- Returns {verdict, request id, hgetall...}; verdict: recorded|declined|duplicate|refused|missing|archived.
local t = KEYS[1]
if redis.call('EXISTS', t) == 0 then
  if redis.call('EXISTS', KEYS[9]) == 1 then return {'archived', ''} end
  return {'missing', ''}
end
local k = {t = t, ev = KEYS[2], feed = KEYS[6], feed_cap = ARGV[5], id = hget(t, 'id'), call_sid = hget(t, 'call_sid')}
local function answer(verdict, id)
  local out = {verdict, id or ''}
  for _, v in ipairs(flat(t)) do out[#out + 1] = v end
  return out
end
-- Offered only once the transfer is over; a second POST of the same answer records nothing.
if hget(t, 'status') ~= 'completed' then return answer('refused') end
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then return answer('duplicate', hget(t, 'callback_id')) end

local event = cjson.decode(ARGV[2])
local id, now_ts, ttl, record_ttl = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[6]), tonumber(ARGV[7])
if id ~= '' then
  -- The variables as placeholders see them: the call's, then the transfer's own over them.
  local variables, any = {}, false
  local pairs_ = redis.call('HGETALL', KEYS[5])
  for i = 1, #pairs_, 2 do variables[pairs_[i]] = pairs_[i + 1]; any = true end
  local ok, own = pcall(cjson.decode, hget(t, 'variables') or '{}')
  if ok and type(own) == 'table' then
    for name, value in pairs(own) do variables[name] = value; any = true end
  end
  if not any then variables = cjson.decode('{}') end
  local record = {id = id, transfer_id = k.id, call_sid = k.call_sid, number = hget(KEYS[4], 'from') or '',
                  called = hget(KEYS[4], 'to') or '', variables = variables, reason = hget(t, 'reason') or '',
                  outcome = hget(t, 'outcome') or '', detail = hget(t, 'outcome_detail') or '',
                  to = hget(t, 'to') or '', requested_at = event.at, digits = event.digits, speech = event.speech}
  redis.call('SET', KEYS[7], cjson.encode(record), 'EX', record_ttl)
  redis.call('ZADD', KEYS[8], string.format('%.3f', now_ts), id)
  redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', string.format('(%.3f', now_ts - record_ttl))
  redis.call('HSET', t, 'callback_id', id)
  event.callback_id, event.number, event.variables = id, record.number, variables
  event.reason, event.outcome, event.detail = record.reason, record.outcome, record.detail
end
append_event(k, event)
redis.call('SADD', KEYS[3], ARGV[1])
touch(ttl, t, KEYS[2], KEYS[3])
return answer(id ~= '' and 'recorded' or 'declined', id)
