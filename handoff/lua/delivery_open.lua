-- Open an event-webhook delivery once (a re-dispatched feed entry finds its record and changes
-- nothing); its first try is due under a lease (handoff/event_webhooks.py).
-- KEYS: 1 deliveries index, 2 delivery. ARGV: 1 event id, 2 body, 3 first_at, 4 lease end, 5 ttl,
--       6 transfer id, 7 type
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[2], 'body', ARGV[2], 'first_at', ARGV[3], 'tries', 0, 'status', 'pending',
           'transfer_id', ARGV[6], 'type', ARGV[7])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
