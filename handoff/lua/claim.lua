-- Claim what has come due in an index (transfer deadlines, event-webhook retries): each entry is
-- leased (pushed `lease` seconds later) and returned once, so a job that dies before acting is
-- fired again after the lease, and two sweepers never fire the same entry at once.
-- KEYS: 1 the index (sorted set). ARGV: 1 now (epoch seconds), 2 lease seconds, 3 limit
-- Returns {the lease's end, id...}.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local later = string.format('%.3f', tonumber(ARGV[1]) + tonumber(ARGV[2]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], 'XX', later, id) end
table.insert(due, 1, later)
return due
