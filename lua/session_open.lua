--[[
session_open: create or update a session's state and claim its owner.

A change of language pair resets the preferred pool. Every write bumps the version
and is announced on the session channel.

KEYS[1]  session record hash   {session:ID}:rec
KEYS[2]  session owner string  {session:ID}:owner
ARGV[1]  now (ms)
ARGV[2]  source language
ARGV[3]  target language
ARGV[4]  owner gateway id
ARGV[5]  owner TTL (ms)
ARGV[6]  record TTL (ms)
ARGV[7]  tenant id
ARGV[8]  notification channel

Returns the new version.
]]
local rcall = redis.call
local rec, owner = KEYS[1], KEYS[2]
local cur = rcall("HMGET", rec, "src", "tgt")
if cur[1] ~= ARGV[2] or cur[2] ~= ARGV[3] then
  rcall("HDEL", rec, "preferred_pool")
end
local version = rcall("HINCRBY", rec, "version", 1)
rcall("HSET", rec, "src", ARGV[2], "tgt", ARGV[3], "owner", ARGV[4], "tenant", ARGV[7],
  "state", "open", "updated_ms", ARGV[1])
rcall("HSETNX", rec, "created_ms", ARGV[1])
rcall("PEXPIRE", rec, ARGV[6])
rcall("SET", owner, ARGV[4], "PX", ARGV[5])
rcall("PUBLISH", ARGV[8], KEYS[1] .. " " .. version)
return version
