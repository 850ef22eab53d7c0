-- Record an event that changes no state (e.g. 'voicemail-recorded') in the transfer's stream and the feed.
-- KEYS: 1 events, 2 event feed; ARGV: 1 transfer id, 2 call sid, 3 event json, 4 feed cap, 5 ttl
append_event({id = ARGV[1], call_sid = ARGV[2], feed = KEYS[2], ev = KEYS[1], feed_cap = ARGV[4]}, ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return 1
