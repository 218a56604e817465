--[[
job_pend: no node has a free slot now: the job waits (bounded) for capacity.

KEYS[1]  job record hash       {job:ID}:rec
KEYS[2]  job event stream      {job:ID}:events
ARGV[1]  now (ms)
ARGV[2]  due (ms): when waiting ends with NO_AVAILABLE_NODE

Returns 1 when the job is now pending, 0 when it was not waiting for a node.
]]
local rcall = redis.call
local cur = rcall("HMGET", KEYS[1], "state", "node_id")
if (cur[1] ~= "created" and cur[1] ~= "pending") or (cur[2] or "") ~= "" then
  return 0
end
rcall("HSET", KEYS[1], "state", "pending", "due_ms", ARGV[2], "updated_ms", ARGV[1])
if cur[1] == "created" then
  rcall("XADD", KEYS[2], "*", "kind", "pending", "attempt", 0, "node", "", "at", ARGV[1])
end
return 1
