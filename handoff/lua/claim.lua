-- Claim deadlines that have passed: each is leased (pushed `lease` seconds later) and returned
-- once, so a job that dies before acting is fired again after the lease, and two sweepers never
-- fire the same deadline at once.
-- KEYS: 1 deadlines index. ARGV: 1 now (epoch seconds), 2 lease seconds, 3 limit
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local later = string.format('%.3f', tonumber(ARGV[1]) + tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', later, id) end
return due
