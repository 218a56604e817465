--[[
node_heartbeat: record one heartbeat of the node's current epoch and step its status.

A beat from a superseded epoch, or for a node already marked offline, changes
nothing: a late heartbeat can never revive or overwrite a newer registration.

Status machine: registering -> ready after enough healthy beats; ready <-> degraded
as health comes and goes; draining stays draining (running jobs finish). Health is
the caller's verdict (services ready, GPU and memory under thresholds) plus what only
the record knows: the GPU vanished since it was last reported, or the node failed
too many jobs in a row (cleared after a cooldown).

KEYS[1]  node record hash      {node:ID}:rec
KEYS[2]  node owner string     {node:ID}:owner
KEYS[3]  node history list     {node:ID}:history
ARGV[1]  epoch the beat was sent under
ARGV[2]  now (ms, server receive time)
ARGV[3]  resource usage (serialized ResourceUsage)
ARGV[4]  unhealthy reason from the caller ("" when healthy)
ARGV[5]  GPU metrics present in this beat: "1" or "0"
ARGV[6]  healthy beats needed to leave "registering"
ARGV[7]  language capabilities (serialized; "" keeps the stored ones)
ARGV[8]  ready service types (sorted, comma-joined)
ARGV[9]  owner TTL (ms)
ARGV[10] record TTL (ms)
ARGV[11] failures in a row that degrade a node
ARGV[12] failure cooldown (ms)
ARGV[13] history length kept

Returns {status, previous_status, index_seq or 0 (0: the index is unaffected),
language capabilities or "", reason}, or {"stale"} for an old epoch, or {"offline"}
when the node must register again, or {"missing"} when there is no record at all (Redis
lost it while the node stayed connected: its gateway writes it back).
]]
local rcall = redis.call
local rec, owner, history = KEYS[1], KEYS[2], KEYS[3]
local cur = rcall("HMGET", rec, "epoch", "status", "healthy_beats", "caps_sig", "gateway",
  "lang", "fail_streak", "last_fail_ms", "gpu_seen", "public")
if cur[1] == false then
  return {"missing"}
end
if cur[1] ~= ARGV[1] then
  return {"stale"}
end
local status = cur[2]
if status == "offline" then
  return {"offline"}
end
local now = tonumber(ARGV[2])

local reason = ARGV[4]
if ARGV[5] == "1" then
  rcall("HSET", rec, "gpu_seen", 1)
elseif cur[9] == "1" and reason == "" then
  reason = "GPU missing"
end
local streak = tonumber(cur[7] or "0")
if streak >= tonumber(ARGV[11]) then
  if now - tonumber(cur[8] or "0") < tonumber(ARGV[12]) then
    if reason == "" then reason = "repeated job failures" end
  else
    rcall("HSET", rec, "fail_streak", 0)
  end
end
local healthy = reason == ""
local beats = tonumber(cur[3] or "0")
if healthy then beats = beats + 1 else beats = 0 end

local next_status, why = status, nil
if status == "registering" then
  if healthy and beats >= tonumber(ARGV[6]) then next_status, why = "ready", "healthy" end
elseif status == "ready" then
  if not healthy then next_status, why = "degraded", reason end
elseif status == "degraded" then
  if healthy then next_status, why = "ready", "recovered" end
end

rcall("HSET", rec, "usage", ARGV[3], "last_seen_ms", now, "healthy_beats", beats)
if next_status ~= status then
  rcall("HSET", rec, "status", next_status, "status_reason", why, "status_at_ms", now)
  rcall("LPUSH", history, now .. " " .. next_status .. " " .. why)
  rcall("LTRIM", history, 0, tonumber(ARGV[13]) - 1)
end

local lang = cur[6] or ""
-- A private node (public jobs refused) keeps an empty index entry whatever it reports.
if ARGV[7] ~= "" and cur[10] ~= "0" then lang = ARGV[7] end
local sig = redis.sha1hex(lang .. "|" .. ARGV[8])
local index_seq = 0
if cur[4] ~= sig then
  rcall("HSET", rec, "caps_sig", sig, "lang", lang, "ready_types", ARGV[8])
  index_seq = rcall("HINCRBY", rec, "index_seq", 1)
else
  lang = ""
end
rcall("PEXPIRE", rec, ARGV[10])
rcall("PEXPIRE", history, ARGV[10])
rcall("SET", owner, cur[5] .. " " .. ARGV[1], "PX", ARGV[9])
return {next_status, status, index_seq, lang, reason}
