-- A delivery job takes its delivery: only while its lease is the current one and the delivery is
-- pending; renews the lease and counts the try. Returns {tries, body, first_at, event type}.
-- KEYS: 1 deliveries index, 2 delivery. ARGV: 1 event id, 2 lease ('' = any), 3 new lease end
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
if ARGV[2] ~= '' and math.abs(tonumber(score) - tonumber(ARGV[2])) > 0.0005 then return false end
if redis.call('HGET', KEYS[2], 'status') ~= 'pending' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return false
end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
local tries = redis.call('HINCRBY', KEYS[2], 'tries', 1)
return {tries, redis.call('HGET', KEYS[2], 'body'), redis.call('HGET', KEYS[2], 'first_at'),
        redis.call('HGET', KEYS[2], 'type') or ''}
