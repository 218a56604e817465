--[[
pending_add: a job joins the line of its pair, unless the line is full.

KEYS[1]  the pair's queue   {pending:SRC:TGT}:jobs    job_id -> since (ms)
KEYS[2]  the pair's leases  {pending:SRC:TGT}:leased  "since:job_id" -> lease end (ms)
ARGV[1]  job id
ARGV[2]  since (ms): its place in line
ARGV[3]  at most this many jobs waiting (queued plus leased)

Returns 1 when the job is in line (a job already there keeps its place), 0 when full.
]]
local rcall = redis.call
if rcall("ZSCORE", KEYS[1], ARGV[1]) then
  return 1
end
if rcall("ZCARD", KEYS[1]) + rcall("ZCARD", KEYS[2]) >= tonumber(ARGV[3]) then
  return 0
end
rcall("ZADD", KEYS[1], ARGV[2], ARGV[1])
return 1
