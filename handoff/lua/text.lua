-- Record an SMS's news once (handoff/texts.py): a purpose's claim before sending, its 'text-sent' or
-- 'text-failed', a delivery status; or give a claim back (a send that never reached Twilio). HSETNX on
-- the transfer's texts hash decides; the event is written only by the first. Only while the transfer's
-- hash exists: once archived (the archiver deletes the texts hash with it) or expired, nothing is
-- recorded, so a late job cannot claim again and a late status cannot write to a stream nobody reads.
-- Bookkeeping only: the transfer's own hash is never touched.
-- KEYS: 1 texts hash, 2 events, 3 event feed, 4 transfer, 5 the transfer's archive
-- ARGV: 1 field, 2 value, 3 transfer id, 4 call sid, 5 event json ('' = none), 6 feed cap, 7 ttl,
--       8 a field to delete first ('' = none: the claim a failed send gives back)
-- Returns: recorded | duplicate | archived | missing
if redis.call('EXISTS', KEYS[4]) == 0 then
  if redis.call('EXISTS', KEYS[5]) == 1 then return 'archived' end
  return 'missing'
end
if ARGV[8] ~= nil and ARGV[8] ~= '' then redis.call('HDEL', KEYS[1], ARGV[8]) end
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 'duplicate' end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
if ARGV[5] ~= '' then
  append_event({id = ARGV[3], call_sid = ARGV[4], feed = KEYS[3], ev = KEYS[2], feed_cap = ARGV[6]}, ARGV[5])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]))
end
return 'recorded'
