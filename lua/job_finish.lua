--[[
job_finish: move a live job to its terminal state, once.

A result is accepted only from the attempt that currently holds the job (node and
attempt both match); duplicates and results of superseded attempts change nothing.
One exception: a pending job never placed (attempt 0) that gets a result was written
again after Redis lost it (no attempt of this record ever ran), and the node that ran
an attempt before the loss finishes it: the work is the same.
The audio is dropped from the record once the job is terminal.

KEYS[1]  job record hash       {job:ID}:rec
KEYS[2]  job event stream      {job:ID}:events
ARGV[1]  now (ms)
ARGV[2]  final state: completed | failed | cancelled
ARGV[3]  node id the result came from ("" : any holder, e.g. a cancel or no-node failure)
ARGV[4]  attempt id ("0": any)
ARGV[5]  result (serialized JobResult, "" when none)
ARGV[6]  error code ("" when none)
ARGV[7]  error message
ARGV[8]  retention TTL (ms) of the terminal record
ARGV[9]  only from this state ("" : any live state), e.g. "pending" for a wait that ran
         out, so a job placed meanwhile is not failed

Returns {1, session_id, utterance_index, trace_id, node_id, attempt, gateway, dispatched_ms}
        when this call finished the job (gateway: where its session's answers go),
        else {0, state}.
]]
local rcall = redis.call
local job = KEYS[1]
local cur = rcall("HMGET", job, "state", "node_id", "attempt", "session_id",
  "utterance_index", "trace_id", "gateway", "dispatched_ms")
local state = cur[1]
if not state then
  return {0, "missing"}
end
if state == "completed" or state == "failed" or state == "cancelled" then
  return {0, state}
end
local only_from = ARGV[9] or ""
if only_from ~= "" and state ~= only_from then
  return {0, state}
end
-- A result must come from the node and attempt that hold the job right now.
if ARGV[3] ~= "" and (cur[2] ~= ARGV[3] or cur[3] ~= ARGV[4]) then
  local written_again = state == "pending" and (cur[2] or "") == "" and (cur[3] or "0") == "0"
  if not written_again then
    return {0, "stale"}
  end
  cur[2], cur[3] = ARGV[3], ARGV[4]
  rcall("HSET", job, "node_id", cur[2], "attempt", cur[3])
end
if ARGV[3] == "" and ARGV[4] ~= "0" and cur[3] ~= ARGV[4] then
  return {0, "stale"}
end
rcall("HSET", job, "state", ARGV[2], "updated_ms", ARGV[1], "finished_ms", ARGV[1],
  "error_code", ARGV[6], "error_message", ARGV[7])
if ARGV[5] ~= "" then
  rcall("HSET", job, "result", ARGV[5])
end
rcall("HDEL", job, "spec")
rcall("PEXPIRE", job, ARGV[8])
rcall("XADD", KEYS[2], "*", "kind", ARGV[2], "attempt", cur[3] or "0", "node", cur[2] or "",
  "at", ARGV[1], "code", ARGV[6])
if rcall("HEXISTS", job, "watched") == 1 then rcall("PUBLISH", KEYS[2], "") end  -- WatchJob: wake the watch hubs (job_watch.lua)
rcall("PEXPIRE", KEYS[2], ARGV[8])
return {1, cur[4], cur[5], cur[6], cur[2] or "", tonumber(cur[3] or "0"), cur[7] or "",
  cur[8] or ""}
