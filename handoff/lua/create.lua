-- Create a transfer unless the request is a retry (Idempotency-Key) or another is in flight.
-- KEYS: 1 call hash, 2 call active, 3 idempotency key, 4 transfer, 5 timeline, 6 call transfers
-- ARGV: 1 id, 2 ttl, 3 event json, 4 use idempotency ('1'|'0'), 5 require known call ('1'|'0'),
--       6 idempotency ttl, 7.. field/value pairs
local id, ttl = ARGV[1], tonumber(ARGV[2])
if ARGV[4] == '1' then
  local existing = redis.call('GET', KEYS[3])
  if existing then return {'idempotent', existing} end
end
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then
  return {'no-call', ''}
end
local active = redis.call('GET', KEYS[2])
if active then return {'conflict', active} end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('HSET', KEYS[4], 'active_key', KEYS[2])
append_event(KEYS[5], ARGV[3])
redis.call('SET', KEYS[2], id, 'EX', ttl)
if ARGV[4] == '1' then redis.call('SET', KEYS[3], id, 'EX', tonumber(ARGV[6])) end
redis.call('RPUSH', KEYS[6], id)
touch(ttl, KEYS[4], KEYS[5], KEYS[6])
return {'created', id}
