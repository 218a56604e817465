--[[
node_claim: a node takes (or takes over) its id with a new epoch.

KEYS[1]  node record hash      {node:ID}:rec
KEYS[2]  node owner string     {node:ID}:owner
KEYS[3]  node history list     {node:ID}:history
ARGV[1]  now (ms)
ARGV[2]  gateway id (the replica holding the socket)
ARGV[3]  descriptor (serialized NodeDescriptor)
ARGV[4]  max concurrent jobs
ARGV[5]  credential fingerprint ("" when node auth is off)
ARGV[6]  owner TTL (ms)
ARGV[7]  alive window (ms): a holder heard from within it counts as alive
ARGV[8]  record TTL (ms): an abandoned record expires
ARGV[9]  language capabilities (serialized LanguageCapabilities)
ARGV[10] ready service types (sorted, comma-joined)
ARGV[11] history length kept
ARGV[12] failures in a row that degrade the node (kept in the record for slot_release)
ARGV[13] "1" when the node accepts public jobs; a private node is indexed with no pairs

Every change of what the pool index should hold for the node bumps index_seq, which
the pool uses to refuse updates older than the one it has.

Returns {epoch, previous_status ("" when new), previous_gateway, index_seq}, or
{-1, "NODE_ID_CONFLICT"} when a live holder of the id has another credential.
]]
local rcall = redis.call
local rec, owner, history = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])

local prev = rcall("HMGET", rec, "status", "cred", "last_seen_ms", "gateway")
local prev_status = prev[1] or ""
if prev_status ~= "" and prev_status ~= "offline" then
  local held_cred = prev[2] or ""
  local last_seen = tonumber(prev[3] or "0")
  if held_cred ~= "" and held_cred ~= ARGV[5] and now - last_seen < tonumber(ARGV[7]) then
    return {-1, "NODE_ID_CONFLICT"}
  end
end

-- Every job is public until tenant-private routing exists: a node that refuses public
-- jobs is registered and heartbeats, but the index sees no languages for it.
local lang = ARGV[9]
if ARGV[13] ~= "1" then lang = "" end

local epoch = rcall("HINCRBY", rec, "epoch", 1)
local index_seq = rcall("HINCRBY", rec, "index_seq", 1)
rcall("HSET", rec,
  "status", "registering", "status_reason", "registered", "status_at_ms", now,
  "gateway", ARGV[2], "desc", ARGV[3], "max_jobs", ARGV[4], "cred", ARGV[5],
  "registered_ms", now, "last_seen_ms", now, "healthy_beats", 0, "lang", lang,
  "ready_types", ARGV[10], "caps_sig", redis.sha1hex(lang .. "|" .. ARGV[10]),
  "fail_streak", 0, "gpu_seen", 0, "fail_limit", ARGV[12], "history_len", ARGV[11],
  "public", ARGV[13])
rcall("PEXPIRE", rec, ARGV[8])
rcall("SET", owner, ARGV[2] .. " " .. epoch, "PX", ARGV[6])
rcall("LPUSH", history, now .. " registering registered (epoch " .. epoch .. ")")
rcall("LTRIM", history, 0, tonumber(ARGV[11]) - 1)
rcall("PEXPIRE", history, ARGV[8])
return {epoch, prev_status, prev[4] or "", index_seq}
