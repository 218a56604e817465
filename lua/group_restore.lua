--[[
group_restore: Redis lost its data: the session's open group is written back as its
gateway knew it, so the next result still joins it (unless a decision was made since:
then that one stands).

KEYS[1]  group hash            {session:ID}:group
ARGV[1]  group id
ARGV[2]  the group's anchor (ms): its creation, or its last playback end
ARGV[3]  parts it has
ARGV[4]  TTL (ms) of the group's key

Returns 1 when written back, 0 when the key exists.
]]
local rcall = redis.call
if rcall("EXISTS", KEYS[1]) == 1 then
  return 0
end
rcall("HSET", KEYS[1], "id", ARGV[1], "created_ms", ARGV[2], "ended_ms", ARGV[2],
  "parts", ARGV[3])
rcall("PEXPIRE", KEYS[1], ARGV[4])
return 1
