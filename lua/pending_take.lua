--[[
pending_take: lease the oldest waiting job of a pair to one dispatcher.

A taken job is not gone from Redis: it sits in the leases set until its taker places it
or puts it back (pending_return). Leases of a taker that died run out, and the next take
puts those jobs back in line first, at their old place.

KEYS[1]  the pair's queue   {pending:SRC:TGT}:jobs    job_id -> since (ms)
KEYS[2]  the pair's leases  {pending:SRC:TGT}:leased  "since:job_id" -> lease end (ms)
ARGV[1]  now (ms)
ARGV[2]  lease (ms)
ARGV[3]  at most this many expired leases put back per call

Returns {job_id, since, lease end} of the leased job, or false when none is waiting.
]]
local rcall = redis.call
local now = tonumber(ARGV[1])
local expired = rcall("ZRANGEBYSCORE", KEYS[2], "-inf", now, "LIMIT", 0, tonumber(ARGV[3]))
for i = 1, #expired do
  local member = expired[i]
  local sep = string.find(member, ":", 1, true)
  rcall("ZADD", KEYS[1], "NX", string.sub(member, 1, sep - 1), string.sub(member, sep + 1))
  rcall("ZREM", KEYS[2], member)
end
local head = rcall("ZPOPMIN", KEYS[1])
if #head == 0 then
  return false
end
local lease_end = now + tonumber(ARGV[2])
rcall("ZADD", KEYS[2], lease_end, head[2] .. ":" .. head[1])
return {head[1], head[2], lease_end}
