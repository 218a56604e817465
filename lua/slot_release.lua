--[[
slot_release: give back the slot a job attempt holds on a node, exactly once.

KEYS[1]  node in-flight hash   {node:ID}:inflight
ARGV[1]  job id
ARGV[2]  attempt id

Returns {1, running} when this call released the slot, {0, running} when that
attempt held none (already released, or superseded).
]]
local rcall = redis.call
local inflight = KEYS[1]
if rcall("HGET", inflight, ARGV[1]) == ARGV[2] then
  rcall("HDEL", inflight, ARGV[1])
  return {1, rcall("HLEN", inflight)}
end
return {0, rcall("HLEN", inflight)}
