-- A call Twilio told us about (a number's Voice URL): its hash, kept for the TTL, and its entry in the
-- calls index, trimmed of entries older than the TTL (their hashes have expired). One script instead
-- of a four-command pipeline: /voice/incoming is the hottest webhook, and a pipeline costs the web
-- process more to pack and parse than the script costs Redis.
-- KEYS: 1 call hash, 2 calls index
-- ARGV: 1 ttl, 2 now (epoch seconds), 3 call SID, 4.. field, value pairs
if #ARGV >= 5 then redis.call('HSET', KEYS[1], unpack(ARGV, 4)) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[2]) - tonumber(ARGV[1])))
return 1
