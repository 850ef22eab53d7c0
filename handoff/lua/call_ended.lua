-- The caller's call ended: record it, and end its transfer in flight (cancelled, or completed
-- after a bridge). KEYS: 1 call hash, 2 call active. ARGV: 1 call status, 2 now, 3 ttl,
-- 4 transfer key template, 5 timeline key template, 6 event json ({id} is replaced; the
-- templates come from handoff/keys.py so keys are still built in one place).
local call, active = KEYS[1], KEYS[2]
local now, ttl = ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', call) == 1 then
  redis.call('HSET', call, 'status', ARGV[1], 'ended_at', now)
  redis.call('EXPIRE', call, ttl)
end
local id = redis.call('GET', active)
if not id then return {'no-transfer', ''} end
local transfer = string.gsub(ARGV[4], '{id}', id)
local timeline = string.gsub(ARGV[5], '{id}', id)
local status = redis.call('HGET', transfer, 'status')
if not status or status == 'completed' then return {'no-transfer', ''} end
append_event(timeline, ARGV[6])
local outcome = redis.call('HGET', transfer, 'outcome')
if status == 'bridged' and outcome == 'transfer-success' then
  finish(transfer, 'transfer-success', 'call ended', now)
  append_event(timeline, cjson.encode({at = now, event = 'completed', outcome = 'transfer-success', detail = 'call ended'}))
else
  finish(transfer, 'transfer-cancelled', 'caller hung up', now)
  append_event(timeline, cjson.encode({at = now, event = 'completed', outcome = 'transfer-cancelled', detail = 'caller hung up'}))
end
touch(ttl, transfer, timeline)
return {'applied', status, unpack(hgetall_flat(transfer))}
