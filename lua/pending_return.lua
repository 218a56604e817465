--[[
pending_return: end a lease from pending_take, putting the job back in line or not.

Only the holder of the lease can end it: once a lease ran out (its taker was presumed
dead) the job went back in line and may be leased again, to someone else, with a later
lease end; a late return by the first taker changes nothing.

KEYS[1]  the pair's queue   {pending:SRC:TGT}:jobs    job_id -> since (ms)
KEYS[2]  the pair's leases  {pending:SRC:TGT}:leased  "since:job_id" -> lease end (ms)
ARGV[1]  job id
ARGV[2]  since (ms), as pending_take returned it
ARGV[3]  1: back in line at its old place (it still waits); 0: it no longer waits
ARGV[4]  lease end (ms), as pending_take returned it: whose lease this is

Returns 1 when the lease has ended, 0 when it was no longer the caller's.
]]
local rcall = redis.call
local member = ARGV[2] .. ":" .. ARGV[1]
if rcall("ZSCORE", KEYS[2], member) ~= ARGV[4] then
  return 0
end
rcall("ZREM", KEYS[2], member)
if ARGV[3] == "1" then
  rcall("ZADD", KEYS[1], "NX", ARGV[2], ARGV[1])
end
return 1
