-- Create a transfer unless the request is a retry (Idempotency-Key), another is in flight, the call
-- is unknown or over, or its chain is full (TRANSFER_CHAIN_LIMIT); its first deadline is armed, its
-- first event written and its place in the call's chain (previous_id, chain_index) set in the same step.
-- KEYS: 1 call hash, 2 call active, 3 idempotency hash, 4 transfer, 5 events, 6 call transfers,
--       7 deadlines index, 8 event feed, 9 transfers index, 10 analytics totals,
--       11 events of the chain's last transfer as the request read it (ARGV 13)
-- ARGV: 1 id, 2 ttl, 3 event json, 4 idempotency fingerprint ('' = none), 5 idempotency ttl,
--       6 deadline kind, 7 deadline at, 8 now (epoch seconds), 9 feed cap, 10 call sid,
--       11 chain limit (transfers per call), 12 refusal event json, 13 that last transfer's id ('' = none),
--       14 the refusal counter's field in analytics totals, 15.. field/value pairs
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
if call_status and CALL_ENDED[call_status] then return {'call-ended', call_status} end
local active = redis.call('GET', KEYS[2])
if active then return {'conflict', active} end
local chain = redis.call('LLEN', KEYS[6])
local previous = redis.call('LINDEX', KEYS[6], -1) or ''
if chain >= tonumber(ARGV[11]) then
  -- The refusal is recorded here, not by another round trip: counted (/metrics) and an event on the chain's
  -- last transfer as the request read it (Inspector, event webhooks). One started since (a race) is not a
  -- declared key: the event then lands on the one before it, and on none when the request read no chain.
  redis.call('HINCRBY', KEYS[10], ARGV[14], 1)
  if ARGV[13] ~= '' then
    local refusal = cjson.decode(ARGV[12])
    refusal.transfers = chain
    append_event({id = ARGV[13], call_sid = ARGV[10], feed = KEYS[8], ev = KEYS[11], feed_cap = ARGV[9]}, refusal)
    redis.call('EXPIRE', KEYS[11], ttl)   -- an archived transfer's stream is new again: it must expire too
  end
  return {'chain-limit', previous, tostring(chain)}
end
local fields = {}
for i = 15, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('HSET', KEYS[4], 'previous_id', previous, 'chain_index', chain + 1)   -- what Python read may be stale
redis.call('HSET', KEYS[4], 'dl_seq', 1, 'dl_kind', ARGV[6], 'dl_at', ARGV[7], 'created_ts', ARGV[8])
redis.call('ZADD', KEYS[7], ARGV[7], id)
redis.call('ZADD', KEYS[9], ARGV[8], id)
redis.call('HINCRBY', KEYS[10], 'requested', 1)   -- in flight = requested - decided (handoff/metrics.py)
redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', '(' .. (tonumber(ARGV[8]) - ttl))   -- their hashes have expired
append_event({id = id, call_sid = ARGV[10], feed = KEYS[8], ev = KEYS[5], feed_cap = ARGV[9]}, ARGV[3])
redis.call('SET', KEYS[2], id, 'EX', ttl)
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[3], 'id', id, 'fingerprint', ARGV[4])
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[5]))
end
redis.call('RPUSH', KEYS[6], id)
for _, key in ipairs({KEYS[4], KEYS[5], KEYS[6]}) do redis.call('EXPIRE', key, ttl) end
return {'created', id}
