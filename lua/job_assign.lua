--[[
job_assign: record that attempt N of a job now runs on a node (phase one: reserved).

Only the next attempt of a live, unassigned job may be assigned: a copy older than the
record (a lost race, a superseded dispatcher) can never overwrite it. The job is due
again at `due` (a short reservation TTL): if nobody confirms that the node has it by
then, the attempt is abandoned and its slot freed.

KEYS[1]  job record hash       {job:ID}:rec
KEYS[2]  job event stream      {job:ID}:events
ARGV[1]  node id
ARGV[2]  attempt id (must be the record's attempt + 1)
ARGV[3]  now (ms)
ARGV[4]  due (ms)
ARGV[5]  pool id the node was picked from
ARGV[6]  the node's registration epoch

Returns {1, ""} assigned, or {0, state} refused (terminal, running elsewhere, or another
attempt won).
]]
local rcall = redis.call
local job = KEYS[1]
local cur = rcall("HMGET", job, "state", "attempt", "node_id")
local state = cur[1]
if not state then
  return {0, "missing"}
end
if state ~= "created" and state ~= "pending" then
  return {0, state}
end
if (cur[3] or "") ~= "" or tonumber(cur[2] or "0") + 1 ~= tonumber(ARGV[2]) then
  return {0, state}
end
rcall("HSET", job, "state", "dispatched", "node_id", ARGV[1], "node_epoch", ARGV[6],
  "attempt", ARGV[2], "pool_id", ARGV[5], "dispatched_ms", ARGV[3], "updated_ms", ARGV[3],
  "due_ms", ARGV[4])
rcall("XADD", KEYS[2], "*", "kind", "dispatched", "attempt", ARGV[2], "node", ARGV[1],
  "at", ARGV[3])
if rcall("HEXISTS", job, "watched") == 1 then rcall("PUBLISH", KEYS[2], "") end  -- WatchJob: wake the watch hubs (job_watch.lua)
return {1, ""}
