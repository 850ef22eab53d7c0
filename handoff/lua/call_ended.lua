-- The caller's call ended: record it, and make its transfer in flight due at once, so the
-- sweeper's job cancels it and ends its legs (transitions also refuse to go on once it is gone).
-- KEYS: 1 call hash, 2 call active, 3 deadlines index
-- ARGV: 1 call status, 2 now (ISO), 3 ttl, 4 now (epoch seconds)
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'status', ARGV[1], 'ended_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
local id = redis.call('GET', KEYS[2])
if not id then return {'no-transfer', ''} end
redis.call('ZADD', KEYS[3], ARGV[4], id)
return {'nudged', id}
