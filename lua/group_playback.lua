--[[
group_playback: the client started or finished playing a group's TTS (tts_started /
tts_play_ended). The scheduler's clock is authoritative: the time recorded is "now",
not the client's timestamp. Only the session's open group has times worth keeping (a
closed group decides nothing); a message naming another group changes nothing.

KEYS[1]  group hash            {session:ID}:group
ARGV[1]  now (ms)
ARGV[2]  group id the client named
ARGV[3]  "started" or "ended"
ARGV[4]  TTL (ms) of the group's keys

Returns 1 when the open group's time moved, 0 when the group is not the open one.
]]
local rcall = redis.call
local group = KEYS[1]
if rcall("HGET", group, "id") ~= ARGV[2] then
  return 0
end
rcall("HSET", group, ARGV[3] .. "_ms", ARGV[1])
rcall("PEXPIRE", group, ARGV[4])
return 1
