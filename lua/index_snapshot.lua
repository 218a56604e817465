--[[
index_snapshot: the whole language index, its version and its feed position, read
atomically (so a replica that loads it and then follows the feed misses nothing).

KEYS[1]  index nodes hash      {index}:nodes
KEYS[2]  index version counter {index}:version
KEYS[3]  index change stream   {index}:changes

Returns {version, last feed entry id ("0-0" when empty), node_id, entry, node_id, entry, …}.
]]
local rcall = redis.call
local version = tonumber(rcall("GET", KEYS[2]) or "0")
local last = rcall("XREVRANGE", KEYS[3], "+", "-", "COUNT", 1)
local feed_id = "0-0"
if last[1] then feed_id = last[1][1] end
local out = {version, feed_id}
local entries = rcall("HGETALL", KEYS[1])
for i = 1, #entries do
  out[#out + 1] = entries[i]
end
return out
