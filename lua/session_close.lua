--[[
session_close: mark a session closed and release its owner record, if still ours.

KEYS[1]  session record hash   {session:ID}:rec
KEYS[2]  session owner string  {session:ID}:owner
ARGV[1]  now (ms)
ARGV[2]  gateway id closing it
ARGV[3]  retention TTL (ms) of the closed record
ARGV[4]  notification channel

Returns 1 when the session was open, else 0.
]]
local rcall = redis.call
if rcall("GET", KEYS[2]) == ARGV[2] then
  rcall("DEL", KEYS[2])
end
if rcall("HGET", KEYS[1], "state") ~= "open" then
  return 0
end
local version = rcall("HINCRBY", KEYS[1], "version", 1)
rcall("HSET", KEYS[1], "state", "closed", "closed_ms", ARGV[1], "updated_ms", ARGV[1])
rcall("PEXPIRE", KEYS[1], ARGV[3])
rcall("PUBLISH", ARGV[4], KEYS[1] .. " " .. version)
return 1
