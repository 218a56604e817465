--[[
index_upsert: set (or remove) one node's entry in the language index, atomically
with the index version and its change feed.

An entry equal to the stored one changes nothing (no version bump, no feed entry),
so repeated upserts of unchanged capabilities never cause re-pooling.

KEYS[1]  index nodes hash      {index}:nodes      node_id -> entry JSON
KEYS[2]  index version counter {index}:version
KEYS[3]  index change stream   {index}:changes   (entry id = "<version>-0")
ARGV[1]  node id
ARGV[2]  entry JSON ({"pairs": [[src, tgt], …], "ready": [type, …]}); "" removes the node
ARGV[3]  approximate max length of the feed

Returns {changed (0/1), version}.
]]
local rcall = redis.call
local nodes, version_key, feed = KEYS[1], KEYS[2], KEYS[3]
local current = rcall("HGET", nodes, ARGV[1])
if ARGV[2] == "" then
  if not current then
    return {0, tonumber(rcall("GET", version_key) or "0")}
  end
  rcall("HDEL", nodes, ARGV[1])
else
  if current == ARGV[2] then
    return {0, tonumber(rcall("GET", version_key) or "0")}
  end
  rcall("HSET", nodes, ARGV[1], ARGV[2])
end
local version = rcall("INCR", version_key)
-- The entry id is the version itself, so "changes after v" is one XRANGE.
rcall("XADD", feed, "MAXLEN", "~", ARGV[3], version .. "-0", "v", version, "node", ARGV[1],
  "entry", ARGV[2])
return {1, version}
