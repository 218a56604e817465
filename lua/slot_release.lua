--[[
slot_release: give back the slot a job attempt holds on a node, exactly once, and
keep the node's failure streak (a node that fails job after job is degraded at once).

KEYS[1]  node in-flight hash   {node:ID}:inflight
KEYS[2]  node record hash      {node:ID}:rec
KEYS[3]  node history list     {node:ID}:history
ARGV[1]  job id
ARGV[2]  attempt id
ARGV[3]  outcome: "ok" (the node answered), "fail" (it reported a failure), "none"
ARGV[4]  now (ms)

The failure threshold and history length come from the record (set at registration).

Returns {1, running} when this call released the slot, {0, running} when that
attempt held none (already released, or superseded).
]]
local rcall = redis.call
local inflight, rec, history = KEYS[1], KEYS[2], KEYS[3]
if rcall("HGET", inflight, ARGV[1]) ~= ARGV[2] then
  return {0, rcall("HLEN", inflight)}
end
rcall("HDEL", inflight, ARGV[1])
if ARGV[3] == "ok" then
  rcall("HSET", rec, "fail_streak", 0)
elseif ARGV[3] == "fail" and rcall("EXISTS", rec) == 1 then
  local streak = rcall("HINCRBY", rec, "fail_streak", 1)
  rcall("HSET", rec, "last_fail_ms", ARGV[4])
  local cur = rcall("HMGET", rec, "status", "fail_limit", "history_len")
  if cur[1] == "ready" and streak >= tonumber(cur[2] or "3") then
    rcall("HSET", rec, "status", "degraded", "status_reason", "repeated job failures",
      "status_at_ms", ARGV[4])
    rcall("LPUSH", history, ARGV[4] .. " degraded repeated job failures")
    rcall("LTRIM", history, 0, tonumber(cur[3] or "50") - 1)
  end
end
return {1, rcall("HLEN", inflight)}
