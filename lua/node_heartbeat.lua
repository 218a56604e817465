--[[
node_heartbeat: record one heartbeat of the node's current epoch and step its status.

A beat from a superseded epoch, or for a node already marked offline, changes
nothing: a late heartbeat can never revive or overwrite a newer registration.

KEYS[1]  node record hash      {node:ID}:rec
KEYS[2]  node owner string     {node:ID}:owner
ARGV[1]  epoch the beat was sent under
ARGV[2]  now (ms, server receive time)
ARGV[3]  resource usage (serialized ResourceUsage)
ARGV[4]  healthy: "1" when the node is fit for jobs, else "0"
ARGV[5]  unhealthy reason ("" when healthy)
ARGV[6]  healthy beats needed to leave "registering"
ARGV[7]  language capabilities (serialized; "" keeps the stored ones)
ARGV[8]  owner TTL (ms)
ARGV[9]  record TTL (ms)
ARGV[10] ready service types (sorted, comma-joined)

The pool index needs the node's language capabilities and ready service types; the
script tells when either changed (compared by hash) and returns them then.

Returns {status, previous_status, caps_changed (0/1), language capabilities or ""},
or {"stale"} for an old epoch,
or {"offline"} when the node must register again.
]]
local rcall = redis.call
local rec, owner = KEYS[1], KEYS[2]
local cur = rcall("HMGET", rec, "epoch", "status", "healthy_beats", "caps_sig", "gateway", "lang")
if cur[1] == false or cur[1] ~= ARGV[1] then
  return {"stale"}
end
local status = cur[2]
if status == "offline" then
  return {"offline"}
end
local now = ARGV[2]
local healthy = ARGV[4] == "1"
local beats = tonumber(cur[3] or "0")
if healthy then beats = beats + 1 else beats = 0 end

local next_status = status
local reason = nil
if status == "registering" then
  if healthy and beats >= tonumber(ARGV[6]) then next_status, reason = "ready", "healthy" end
elseif status == "ready" then
  if not healthy then next_status, reason = "degraded", ARGV[5] end
elseif status == "degraded" then
  if healthy then next_status, reason = "ready", "recovered" end
end

rcall("HSET", rec, "usage", ARGV[3], "last_seen_ms", now, "healthy_beats", beats)
if next_status ~= status then
  rcall("HSET", rec, "status", next_status, "status_reason", reason, "status_at_ms", now)
end
local lang = cur[6] or ""
if ARGV[7] ~= "" then lang = ARGV[7] end
local sig = redis.sha1hex(lang .. "|" .. ARGV[10])
local caps_changed = 0
if cur[4] ~= sig then
  rcall("HSET", rec, "caps_sig", sig, "lang", lang, "ready_types", ARGV[10])
  caps_changed = 1
end
rcall("PEXPIRE", rec, ARGV[9])
rcall("SET", owner, cur[5] .. " " .. ARGV[1], "PX", ARGV[8])
if caps_changed == 0 then lang = "" end
return {next_status, status, caps_changed, lang}
