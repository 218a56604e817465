--[[
job_confirm: the node has the job (phase two: committed) — its gateway took the
job_assign, or the node acknowledged, started or sent a partial. The job is now due at
the result deadline instead of the short reservation TTL.

KEYS[1]  job record hash       {job:ID}:rec
KEYS[2]  job event stream      {job:ID}:events
ARGV[1]  node id
ARGV[2]  attempt id ("0": the node's current attempt)
ARGV[3]  now (ms)
ARGV[4]  due (ms): the result deadline
ARGV[5]  what happened: delivered | accepted | started | partial

Returns {1, due, first, session_id, utterance_index, trace_id, gateway, created_ms} when
the confirmation applied (due: the job's deadline now; first: 1 when this is the first
sign of life of the attempt, its deadline moved), {0, state} when it is for another
attempt or the job is no longer running.
]]
local rcall = redis.call
local job = KEYS[1]
local cur = rcall("HMGET", job, "state", "node_id", "attempt", "due_ms", "confirmed",
  "session_id", "utterance_index", "trace_id", "gateway", "created_ms")
local state = cur[1]
if state ~= "dispatched" and state ~= "accepted" then
  return {0, state or "missing"}
end
if cur[2] ~= ARGV[1] or (ARGV[2] ~= "0" and cur[3] ~= ARGV[2]) then
  return {0, "stale"}
end
local due = tonumber(cur[4] or "0")
local first = 0
if cur[5] ~= cur[3] then
  -- First sign of life of this attempt: the deadline moves from reservation to result.
  due = tonumber(ARGV[4])
  first = 1
  rcall("HSET", job, "confirmed", cur[3], "due_ms", due)
end
if ARGV[5] ~= "delivered" and state == "dispatched" then
  rcall("HSET", job, "state", "accepted", "updated_ms", ARGV[3])
  rcall("XADD", KEYS[2], "*", "kind", "accepted", "attempt", cur[3], "node", ARGV[1],
    "at", ARGV[3])
  if rcall("HEXISTS", job, "watched") == 1 then rcall("PUBLISH", KEYS[2], "") end  -- WatchJob: wake the watch hubs (job_watch.lua)
end
return {1, due, first, cur[6] or "", cur[7] or "0", cur[8] or "", cur[9] or "",
  cur[10] or "0"}
