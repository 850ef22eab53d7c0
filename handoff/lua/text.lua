-- Record an SMS's news once (handoff/texts.py): a purpose's claim before sending, its 'text-sent' or
-- 'text-failed', a delivery status. HSETNX on the transfer's texts hash decides; the event is written
-- only by the first. Bookkeeping only: the transfer's own hash is never touched.
-- KEYS: 1 texts hash, 2 events, 3 event feed
-- ARGV: 1 field, 2 value, 3 transfer id, 4 call sid, 5 event json ('' = none), 6 feed cap, 7 ttl
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
if ARGV[5] ~= '' then
  append_event({id = ARGV[3], call_sid = ARGV[4], feed = KEYS[3], ev = KEYS[2], feed_cap = ARGV[6]}, ARGV[5])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]))
end
return 1
