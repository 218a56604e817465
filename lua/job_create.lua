--[[
job_create: create a job once per request id (the job id derives from it).

Concurrent creators of one request all land here, in one slot: exactly one gets
created = 1, the others read the same job back.

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
ARGV[10] reply-to gateway id ("" for API jobs)
ARGV[11] record TTL (ms)
ARGV[12] max attempts
ARGV[13] trace parent (W3C traceparent of the creation; later work joins that trace)

Returns {1, trace_id}                    created
        {0, state, node_id, attempt, trace_id}  it already existed
        {-1, request_id}                 the id is taken by another request (hash clash)
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
rcall("HSET", job,
  "request_id", ARGV[2], "spec", ARGV[3], "trace_id", ARGV[4], "session_id", ARGV[5],
  "utterance_index", ARGV[6], "src", ARGV[7], "tgt", ARGV[8], "tenant", ARGV[9],
  "reply_to", ARGV[10], "state", "created", "node_id", "", "attempt", 0,
  "max_attempts", ARGV[12], "excluded", "", "due_ms", 0, "trace_parent", ARGV[13],
  "created_ms", ARGV[1], "updated_ms", ARGV[1])
rcall("PEXPIRE", job, ARGV[11])
rcall("XADD", events, "*", "kind", "created", "attempt", 0, "node", "", "at", ARGV[1])
rcall("PEXPIRE", events, ARGV[11])
return {1, ARGV[4]}
