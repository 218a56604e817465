--[[
group_result: put one answered utterance of a session into its utterance group
(PROTOCOL.md "Utterance groups"). A session has at most one open group; the result
joins it unless more than the window has passed since the group's last tts_play_ended
(or its creation, if nothing was played yet): then that group is closed and a new one
opens with part 0. The same utterance asked again gets the same answer (a retried
call never takes a second part).

KEYS[1]  group hash            {session:ID}:group
ARGV[1]  now (ms)
ARGV[2]  window (ms)
ARGV[3]  id for a new group (group_<session>_<now>)
ARGV[4]  utterance index of the result
ARGV[5]  TTL (ms) of the group's key

Returns {group_id, part_index, opened} (opened: 1 when this result opened the group)
]]
local rcall = redis.call
local group = KEYS[1]
local now = tonumber(ARGV[1])
local cur = rcall("HMGET", group, "id", "created_ms", "ended_ms", "parts", "last_index",
  "last_id", "last_part")
if cur[5] == ARGV[4] and cur[6] then
  return {cur[6], tonumber(cur[7]), 0}
end
local id, part, opened = cur[1], 0, 0
local anchor = tonumber(cur[3] or "") or tonumber(cur[2] or "") or 0
if id and now - anchor <= tonumber(ARGV[2]) then
  part = tonumber(cur[4] or "0")
  rcall("HSET", group, "parts", part + 1)
else
  local new_id = ARGV[3]
  if new_id == id then new_id = new_id .. "_" .. ARGV[4] end
  id, opened = new_id, 1
  rcall("DEL", group)
  rcall("HSET", group, "id", id, "created_ms", now, "parts", 1)
end
rcall("HSET", group, "last_index", ARGV[4], "last_id", id, "last_part", part)
rcall("PEXPIRE", group, ARGV[5])
return {id, part, opened}
