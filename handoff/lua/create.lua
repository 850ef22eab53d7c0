-- Create a transfer unless the request is a retry (Idempotency-Key), another is in flight, or the
-- call is unknown or over; its first deadline is armed in the same step.
-- KEYS: 1 call hash, 2 call active, 3 idempotency hash, 4 transfer, 5 timeline, 6 call transfers,
--       7 deadlines index
-- ARGV: 1 id, 2 ttl, 3 event json, 4 idempotency fingerprint ('' = none), 5 idempotency ttl,
--       6 deadline kind, 7 deadline at, 8.. field/value pairs
local id, ttl = ARGV[1], tonumber(ARGV[2])
if ARGV[4] ~= '' then
  local existing = redis.call('HGET', KEYS[3], 'id')
  if existing then
    if redis.call('HGET', KEYS[3], 'fingerprint') ~= ARGV[4] then return {'idempotency-mismatch', existing} end
    return {'idempotent', existing}
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'no-call', ''} end
local call_status = redis.call('HGET', KEYS[1], 'status')
local ended = {completed = true, busy = true, failed = true, ['no-answer'] = true, canceled = true}
if call_status and ended[call_status] then return {'call-ended', call_status} end
local active = redis.call('GET', KEYS[2])
if active then return {'conflict', active} end
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('HSET', KEYS[4], 'dl_seq', 1, 'dl_kind', ARGV[6], 'dl_at', ARGV[7])
redis.call('ZADD', KEYS[7], ARGV[7], id)
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('SET', KEYS[2], id, 'EX', ttl)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], 'id', id, 'fingerprint', ARGV[4])
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
end
redis.call('RPUSH', KEYS[6], id)
for _, key in ipairs({KEYS[4], KEYS[5], KEYS[6]}) do redis.call('EXPIRE', key, ttl) end
return {'created', id}
