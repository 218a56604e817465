--[[
node_drain: stop giving a node new jobs; the jobs it runs finish.

KEYS[1]  node record hash      {node:ID}:rec
KEYS[2]  node history list     {node:ID}:history
ARGV[1]  now (ms)
ARGV[2]  reason
ARGV[3]  history length kept

Returns {1, previous_status, epoch} when the node is now draining, {0, status, 0} when
it is offline or unknown (nothing to drain).
]]
local rcall = redis.call
local cur = rcall("HMGET", KEYS[1], "status", "epoch")
local status = cur[1]
if not status or status == "offline" then
  return {0, status or "unknown", 0}
end
if status ~= "draining" then
  rcall("HSET", KEYS[1], "status", "draining", "status_reason", ARGV[2], "status_at_ms", ARGV[1])
  rcall("LPUSH", KEYS[2], ARGV[1] .. " draining " .. ARGV[2])
  rcall("LTRIM", KEYS[2], 0, tonumber(ARGV[3]) - 1)
end
return {1, status, tonumber(cur[2])}
