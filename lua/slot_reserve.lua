--[[
slot_reserve: take one job slot on a node, atomically (running < max, node ready).

The node's running count is HLEN of its in-flight hash, so it can never drift from
the jobs actually held: a slot is exactly one (job_id -> attempt) entry.

KEYS[1]  node record hash      {node:ID}:rec
KEYS[2]  node in-flight hash   {node:ID}:inflight
ARGV[1]  job id
ARGV[2]  attempt id
ARGV[3]  now (ms)

Returns {1, running, max}  reserved by this call
        {2, running, max}  already held by this same attempt (reserved earlier)
        {0, running, max}  node full
        {-1, status}       node not ready (registering, degraded, draining, offline, unknown)
        {-2, attempt}      the job holds a slot here under another attempt
]]
local rcall = redis.call
local rec, inflight = KEYS[1], KEYS[2]
local cur = rcall("HMGET", rec, "status", "max_jobs")
local status = cur[1] or "unknown"
if status ~= "ready" then
  return {-1, status}
end
local max = tonumber(cur[2] or "0")
local held = rcall("HGET", inflight, ARGV[1])
if held then
  if held == ARGV[2] then
    return {2, rcall("HLEN", inflight), max}
  end
  return {-2, held}
end
local running = rcall("HLEN", inflight)
if running >= max then
  return {0, running, max}
end
rcall("HSET", inflight, ARGV[1], ARGV[2])
return {1, running + 1, max}
