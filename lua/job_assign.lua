--[[
job_assign: record that attempt N of a job now runs on a node.

Only the next attempt of a live job may be assigned: a copy that is older than the
record (a lost race, a superseded dispatcher) can never overwrite it.

KEYS[1]  job record hash       {job:ID}:rec
ARGV[1]  node id
ARGV[2]  attempt id (must be the record's attempt + 1)
ARGV[3]  now (ms)

Returns {1, ""} assigned, or {0, state} refused (terminal, or another attempt won).
]]
local rcall = redis.call
local job = KEYS[1]
local cur = rcall("HMGET", job, "state", "attempt")
local state = cur[1]
if not state then
  return {0, "missing"}
end
if state == "completed" or state == "failed" or state == "cancelled" then
  return {0, state}
end
if tonumber(cur[2] or "0") + 1 ~= tonumber(ARGV[2]) then
  return {0, state}
end
rcall("HSET", job, "state", "dispatched", "node_id", ARGV[1], "attempt", ARGV[2],
  "dispatched_ms", ARGV[3], "updated_ms", ARGV[3])
return {1, ""}
