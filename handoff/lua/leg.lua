-- Record what happened to one recipient leg; when every leg expected for the attempt has ended
-- without a bridge, the attempt fails (and the fallback chain moves on).
-- KEYS: 1 transfer, 2 timeline, 3 seen, 4 legs
-- ARGV: 1 event id, 2 attempt, 3 leg sid, 4 leg state (dialed|ringing|answered|human|screening|accepted|ended),
--       5 outcome if this leg ends while ringing, 6 detail, 7 event json, 8 ttl, 9 now,
--       10 transfer status to move to when the leg rings/answers ('' = keep),
--       11 required current leg state ('' = any; timers use it so a stale timer is a no-op),
--       12 outcome if this leg ends after it answered (hung up during the whisper)
local transfer, timeline, seen, legs = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('EXISTS', transfer) == 0 then return {'missing', ''} end
if ARGV[1] ~= '' and redis.call('SISMEMBER', seen, ARGV[1]) == 1 then
  return {'duplicate', '', unpack(hgetall_flat(transfer))}
end
local attempt, leg, state, now, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[9], tonumber(ARGV[8])
local rank = {dialed = 1, ringing = 2, answered = 3, human = 4, screening = 5, accepted = 6, ended = 9}
local previous = redis.call('HGET', legs, leg)
local prev_state = previous and string.match(previous, ':(%a+)$') or ''
if ARGV[11] ~= '' and prev_state ~= ARGV[11] then
  return {'refused', '', unpack(hgetall_flat(transfer))}
end
-- Legs only move forward: a late 'ringing' never undoes 'answered', nothing undoes 'ended'.
-- The late event is still a fact (the worker's 'leg-dialed' can lose the race to the leg's own
-- callbacks), so it is recorded once in the timeline, without changing any state.
if prev_state ~= '' and (rank[state] or 0) <= (rank[prev_state] or 0) then
  if ARGV[1] ~= '' then
    append_event(timeline, ARGV[7])
    redis.call('SADD', seen, ARGV[1])
  end
  -- 'next' carries the leg's state, so the caller can answer a late webhook correctly.
  return {'refused', prev_state, unpack(hgetall_flat(transfer))}
end
redis.call('HSET', legs, leg, attempt .. ':' .. state)
append_event(timeline, ARGV[7])
if ARGV[1] ~= '' then redis.call('SADD', seen, ARGV[1]) end
touch(ttl, transfer, timeline, seen, legs)
local status = redis.call('HGET', transfer, 'status')
if status == 'completed' or redis.call('HGET', transfer, 'attempt') ~= attempt then
  return {'stale', '', unpack(hgetall_flat(transfer))}
end
local nxt = ''
if state == 'ended' then
  if status == 'bridged' then
    local outcome = redis.call('HGET', transfer, 'outcome')
    local joined = outcome and outcome ~= ''
    if joined or redis.call('HGET', transfer, 'bridged_leg') ~= leg then
      return {'applied', 'bridge-leg-ended', unpack(hgetall_flat(transfer))}
    end
    -- The recipient accepted but hung up before joining the conference: no bridge happened.
    nxt = fail_attempt(transfer, timeline, 'transfer-screening-rejected', 'hung up before joining', now)
    return {'applied', nxt, unpack(hgetall_flat(transfer))}
  end
  local expected = tonumber(redis.call('HGET', transfer, 'legs_expected') or '0')
  -- expected == 0: a cold transfer, whose Dial action (not its leg) decides the attempt.
  if expected > 0 then
    local ended = 0
    local all = redis.call('HGETALL', legs)
    for i = 1, #all, 2 do
      if all[i + 1] == attempt .. ':ended' then ended = ended + 1 end
    end
    if ended >= expected then
      local outcome = ARGV[5]
      if (prev_state == 'answered' or prev_state == 'human' or prev_state == 'screening') and ARGV[12] ~= '' then
        outcome = ARGV[12]
      end
      nxt = fail_attempt(transfer, timeline, outcome, ARGV[6], now)
    end
  end
elseif ARGV[10] ~= '' and (rank[ARGV[10]] or 0) > (rank[status] or 0) and contains('dialing ringing answered', status) then
  redis.call('HSET', transfer, 'status', ARGV[10], 'updated_at', now)
end
return {'applied', nxt, unpack(hgetall_flat(transfer))}
