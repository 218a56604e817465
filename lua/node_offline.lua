--[[
node_offline: mark a node offline (socket gone, heartbeat timeout, deregister).

Fenced twice: by epoch (a late offline of an old connection cannot remove the new
registration) and, for the sweep, by last-seen time (a node heard from since the
sweep read it is left alone). Idempotent: an offline node returns 0.

KEYS[1]  node record hash      {node:ID}:rec
KEYS[2]  node owner string     {node:ID}:owner
KEYS[3]  node history list     {node:ID}:history
ARGV[1]  epoch ("0": whichever epoch is current)
ARGV[2]  now (ms)
ARGV[3]  reason
ARGV[4]  stale-before (ms): only if last seen before this ("0": unconditional)
ARGV[5]  history length kept

Returns {1, epoch, index_seq} when this call took the node offline, else {0, epoch_or_0, 0}.
]]
local rcall = redis.call
local rec, owner, history = KEYS[1], KEYS[2], KEYS[3]
local cur = rcall("HMGET", rec, "epoch", "status", "last_seen_ms")
if cur[1] == false then
  return {0, 0, 0}
end
local epoch = tonumber(cur[1])
if ARGV[1] ~= "0" and cur[1] ~= ARGV[1] then
  return {0, epoch, 0}
end
if cur[2] == "offline" then
  return {0, epoch, 0}
end
local stale_before = tonumber(ARGV[4])
if stale_before > 0 and tonumber(cur[3] or "0") >= stale_before then
  return {0, epoch, 0}
end
rcall("HSET", rec, "status", "offline", "status_reason", ARGV[3], "status_at_ms", ARGV[2])
local index_seq = rcall("HINCRBY", rec, "index_seq", 1)
local held = rcall("GET", owner)
if held and string.sub(held, -(string.len(cur[1]) + 1)) == " " .. cur[1] then
  rcall("DEL", owner)
end
rcall("LPUSH", history, ARGV[2] .. " offline " .. ARGV[3])
rcall("LTRIM", history, 0, tonumber(ARGV[5]) - 1)
return {1, epoch, index_seq}
