--[[
index_upsert: set (or remove) one node's entry in the language index, atomically
with the index version and its change feed.

Updates carry the node's index_seq (bumped by the registry on every change of what the
index should hold); one older than the last applied is refused, so updates that arrive
out of order (retries, several registry replicas, flapping nodes) cannot undo a newer
one. An entry equal to the stored one changes nothing (no version bump, no feed entry),
so repeated upserts of unchanged capabilities never cause re-pooling.

KEYS[1]  index nodes hash      {index}:nodes      node_id -> entry JSON
KEYS[2]  index version counter {index}:version
KEYS[3]  index change stream   {index}:changes   (entry id = "<version>-0")
KEYS[4]  index seq hash        {index}:seqs       node_id -> last applied index_seq
ARGV[1]  node id
ARGV[2]  entry JSON ({"pairs": [[src, tgt], …], "ready": [type, …]}); "" removes the node
ARGV[3]  max length of the feed
ARGV[4]  the update's index_seq

Returns {changed (0/1), version, accepted (0: older than the applied seq)}.
]]
local rcall = redis.call
local nodes, version_key, feed, seqs = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function version()
  return tonumber(rcall("GET", version_key) or "0")
end
local seq = tonumber(ARGV[4])
if seq <= tonumber(rcall("HGET", seqs, ARGV[1]) or "0") then
  return {0, version(), 0}
end
rcall("HSET", seqs, ARGV[1], seq)
local current = rcall("HGET", nodes, ARGV[1])
if ARGV[2] == "" then
  if not current then
    return {0, version(), 1}
  end
  rcall("HDEL", nodes, ARGV[1])
else
  if current == ARGV[2] then
    return {0, version(), 1}
  end
  rcall("HSET", nodes, ARGV[1], ARGV[2])
end
local next_version = rcall("INCR", version_key)
-- The entry id is the version itself, so "changes after v" is one XRANGE. Exact
-- trimming: the feed is low-volume (capability changes), and its reach is then exact.
rcall("XADD", feed, "MAXLEN", ARGV[3], next_version .. "-0", "v", next_version,
  "node", ARGV[1], "entry", ARGV[2])
return {1, next_version, 1}
