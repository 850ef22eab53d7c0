-- Apply one event to a transfer, at most once, only from allowed statuses and for the current attempt.
-- KEYS: 1 transfer, 2 timeline, 3 seen
-- ARGV: 1 event id ('' = no dedupe), 2 attempt ('' = any), 3 allowed from statuses ('*' = any unfinished),
--       4 new status ('' = keep; 'completed' finishes with ARGV[5]; 'fail-attempt' walks the fallback chain),
--       5 outcome, 6 detail, 7 event json, 8 ttl, 9 now,
--       10 flags ('require-outcome': only if an outcome is already set), 11.. field/value pairs
-- Returns {verdict, next, hgetall...}; verdict is applied|duplicate|stale|refused|missing.
local transfer, timeline, seen = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', transfer) == 0 then return {'missing', ''} end
if ARGV[1] ~= '' and redis.call('SISMEMBER', seen, ARGV[1]) == 1 then
  return {'duplicate', '', unpack(hgetall_flat(transfer))}
end
local status = redis.call('HGET', transfer, 'status')
if status == 'completed' then return {'refused', '', unpack(hgetall_flat(transfer))} end
if ARGV[2] ~= '' and redis.call('HGET', transfer, 'attempt') ~= ARGV[2] then
  return {'stale', '', unpack(hgetall_flat(transfer))}
end
if not contains(ARGV[3], status) then return {'refused', '', unpack(hgetall_flat(transfer))} end
if ARGV[10] == 'require-outcome' then
  local current = redis.call('HGET', transfer, 'outcome')
  if not current or current == '' then return {'refused', '', unpack(hgetall_flat(transfer))} end
end
local now, ttl = ARGV[9], tonumber(ARGV[8])
for i = 11, #ARGV, 2 do redis.call('HSET', transfer, ARGV[i], ARGV[i + 1]) end
append_event(timeline, ARGV[7])
local nxt = ''
if ARGV[4] == 'completed' then
  finish(transfer, ARGV[5], ARGV[6], now)
  append_event(timeline, cjson.encode({at = now, event = 'completed', outcome = ARGV[5], detail = ARGV[6]}))
  nxt = 'finished'
elseif ARGV[4] == 'fail-attempt' then
  nxt = fail_attempt(transfer, timeline, ARGV[5], ARGV[6], now)
elseif ARGV[4] ~= '' then
  redis.call('HSET', transfer, 'status', ARGV[4], 'updated_at', now)
  if ARGV[5] ~= '' then redis.call('HSET', transfer, 'outcome', ARGV[5], 'outcome_detail', ARGV[6]) end
end
if ARGV[1] ~= '' then redis.call('SADD', seen, ARGV[1]) end
touch(ttl, transfer, timeline, seen)
return {'applied', nxt, unpack(hgetall_flat(transfer))}
