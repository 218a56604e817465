--[[
node_drain: stop giving a node new jobs; the jobs it runs finish.

KEYS[1]  node record hash      {node:ID}:rec
ARGV[1]  now (ms)
ARGV[2]  reason

Returns {1, previous_status} when the node is now draining, {0, status} when it is
offline or unknown (nothing to drain).
]]
local rcall = redis.call
local status = rcall("HGET", KEYS[1], "status")
if not status or status == "offline" then
  return {0, status or "unknown"}
end
if status ~= "draining" then
  rcall("HSET", KEYS[1], "status", "draining", "status_reason", ARGV[2], "status_at_ms", ARGV[1])
end
return {1, status}
