--[[
job_create: create a job once per request id (the job id derives from it), and when a
node's slot is already reserved for it, assign its first attempt there in the same step.

Concurrent creators of one request all land here, in one slot: exactly one gets
created = 1, the others read the same job back (and give back any slot they reserved).

KEYS[1]  job record hash       {job:ID}:rec
KEYS[2]  job event stream      {job:ID}:events
ARGV[1]  now (ms)
ARGV[2]  request id
ARGV[3]  job spec (serialized JobSpec)
ARGV[4]  trace id
ARGV[5]  session id
ARGV[6]  utterance index
ARGV[7]  source language
ARGV[8]  target language
ARGV[9]  tenant id
ARGV[10] gateway id holding the session ("" for API jobs): where answers go
ARGV[11] record TTL (ms)
ARGV[12] max attempts
ARGV[13] trace parent (W3C traceparent of the creation; later work joins that trace)
ARGV[14] node id whose slot is reserved for attempt 1 ("" : not placed yet)
ARGV[15] that node's registration epoch
ARGV[16] pool id the node was picked from
ARGV[17] due (ms): with a node, when its delivery must be confirmed; else when a job
         nobody placed is looked at again

Returns {1, trace_id}                            created (dispatched when a node was given)
        {0, state, node_id, attempt, trace_id}   it already existed
        {-1, request_id}                         the id is taken by another request (hash clash)
]]
local rcall = redis.call
local job, events = KEYS[1], KEYS[2]
local cur = rcall("HMGET", job, "request_id", "state", "node_id", "attempt", "trace_id")
if cur[1] then
  if cur[1] ~= ARGV[2] then
    return {-1, cur[1]}
  end
  return {0, cur[2], cur[3] or "", tonumber(cur[4] or "0"), cur[5]}
end
local now, node = ARGV[1], ARGV[14]
rcall("HSET", job,
  "request_id", ARGV[2], "spec", ARGV[3], "trace_id", ARGV[4], "session_id", ARGV[5],
  "utterance_index", ARGV[6], "src", ARGV[7], "tgt", ARGV[8], "tenant", ARGV[9],
  "gateway", ARGV[10], "state", "created", "node_id", "", "node_epoch", 0, "attempt", 0,
  "max_attempts", ARGV[12], "excluded", "", "due_ms", ARGV[17], "trace_parent", ARGV[13],
  "created_ms", now, "updated_ms", now)
rcall("PEXPIRE", job, ARGV[11])
rcall("XADD", events, "*", "kind", "created", "attempt", 0, "node", "", "at", now)
rcall("PEXPIRE", events, ARGV[11])
if node ~= "" then
  rcall("HSET", job, "state", "dispatched", "node_id", node, "node_epoch", ARGV[15],
    "attempt", 1, "pool_id", ARGV[16], "dispatched_ms", now)
  rcall("XADD", events, "*", "kind", "dispatched", "attempt", 1, "node", node, "at", now)
end
return {1, ARGV[4]}
