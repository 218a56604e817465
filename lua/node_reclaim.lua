--[[
node_reclaim: Redis lost its data while a gateway kept the node's socket: the record is
written back under the node's current epoch (the node never registered again, so its
connection keeps that epoch), ready, owned by that gateway. A record that exists under
this epoch or a newer one is left as it is (the node registered again meanwhile, or
another gateway reclaimed it first).

KEYS[1]  node record hash      {node:ID}:rec
KEYS[2]  node owner string     {node:ID}:owner
KEYS[3]  node history list     {node:ID}:history
ARGV[1]  now (ms)
ARGV[2]  gateway id (the replica holding the socket)
ARGV[3]  descriptor (serialized NodeDescriptor)
ARGV[4]  max concurrent jobs
ARGV[5]  credential fingerprint ("" when node auth is off)
ARGV[6]  owner TTL (ms)
ARGV[7]  record TTL (ms)
ARGV[8]  language capabilities (serialized LanguageCapabilities)
ARGV[9]  ready service types (sorted, comma-joined)
ARGV[10] history length kept
ARGV[11] failures in a row that degrade the node
ARGV[12] "1" when the node accepts public jobs; a private node is indexed with no pairs
ARGV[13] the epoch the gateway holds the node's socket under

Returns {1, index_seq} when the record was written back, {0, epoch} when a record of
that epoch or a newer one is there.
]]
local rcall = redis.call
local rec, owner, history = KEYS[1], KEYS[2], KEYS[3]
local epoch = tonumber(ARGV[13])
local held = tonumber(rcall("HGET", rec, "epoch") or "0")
if held >= epoch then
  return {0, held}
end
local lang = ARGV[8]
if ARGV[12] ~= "1" then lang = "" end
local index_seq = rcall("HINCRBY", rec, "index_seq", 1)
rcall("HSET", rec,
  "epoch", epoch, "status", "ready", "status_reason", "restored after a data loss",
  "status_at_ms", ARGV[1], "gateway", ARGV[2], "desc", ARGV[3], "max_jobs", ARGV[4],
  "cred", ARGV[5], "registered_ms", ARGV[1], "last_seen_ms", ARGV[1], "healthy_beats", 1,
  "lang", lang, "ready_types", ARGV[9], "caps_sig", redis.sha1hex(lang .. "|" .. ARGV[9]),
  "fail_streak", 0, "gpu_seen", 0, "fail_limit", ARGV[11], "history_len", ARGV[10],
  "public", ARGV[12])
rcall("PEXPIRE", rec, ARGV[7])
rcall("SET", owner, ARGV[2] .. " " .. epoch, "PX", ARGV[6])
rcall("LPUSH", history, ARGV[1] .. " ready restored after a data loss (epoch " .. epoch .. ")")
rcall("LTRIM", history, 0, tonumber(ARGV[10]) - 1)
rcall("PEXPIRE", history, ARGV[7])
return {1, index_seq}
