--[[
job_abandon: give up on a job's current attempt (it timed out, its node went offline,
or its assignment never reached the node). Either the job goes back to pending, its node
cleared (so a late result of the abandoned attempt is refused) and that node's
connection (node id and epoch) excluded from its next attempts — or, out of attempts, it
fails. A node that registers again (a new epoch) may run the job again.

KEYS[1]  job record hash       {job:ID}:rec
KEYS[2]  job event stream      {job:ID}:events
ARGV[1]  now (ms)
ARGV[2]  node id the attempt ran on ("" : whichever)
ARGV[3]  attempt id ("0": whichever)
ARGV[4]  reason code (JOB_TIMEOUT, NODE_UNAVAILABLE, …)
ARGV[5]  "1": only if the job is due (now >= due_ms), "0": unconditionally
ARGV[6]  due (ms) while pending again
ARGV[7]  retention TTL (ms), when it fails
ARGV[8]  "1": the attempt counts; "0": it never reached the node (its gateway had no
         socket for it), so its number is given back and it does not use up the job's
         attempts

Returns {0, why}                                                   nothing to do
        {1, node_id, attempt, excluded, next_attempt}              retry: pending again
        {2, node_id, attempt, session_id, utterance_index, trace_id, gateway}  failed
  where attempt is the one given up, next_attempt the number the retry takes (the same
  one when it never reached the node) and excluded "node@epoch,node@epoch,…".
]]
local rcall = redis.call
local job = KEYS[1]
local cur = rcall("HMGET", job, "state", "node_id", "attempt", "due_ms", "max_attempts",
  "excluded", "session_id", "utterance_index", "trace_id", "gateway", "node_epoch")
local state = cur[1]
if state ~= "dispatched" and state ~= "accepted" and state ~= "created" then
  return {0, state or "missing"}
end
if ARGV[2] ~= "" and cur[2] ~= ARGV[2] then
  return {0, "stale"}
end
if ARGV[3] ~= "0" and cur[3] ~= ARGV[3] then
  return {0, "stale"}
end
local now = tonumber(ARGV[1])
if ARGV[5] == "1" and now < tonumber(cur[4] or "0") then
  return {0, "not due"}
end
local node, attempt = cur[2] or "", tonumber(cur[3] or "0")
local excluded = cur[6] or ""
if node ~= "" then
  local connection = node .. "@" .. (cur[11] or "0")
  if excluded == "" then excluded = connection else excluded = excluded .. "," .. connection end
end
if ARGV[8] == "0" then
  rcall("HSET", job, "state", "pending", "node_id", "", "attempt", attempt - 1,
    "excluded", excluded, "due_ms", ARGV[6], "updated_ms", now)
  return {1, node, attempt, excluded, attempt}
end
if attempt >= tonumber(cur[5] or "1") then
  rcall("HSET", job, "state", "failed", "error_code", ARGV[4],
    "error_message", "no result after " .. attempt .. " attempt(s)", "node_id", "",
    "excluded", excluded, "updated_ms", now, "finished_ms", now)
  rcall("HDEL", job, "spec")
  rcall("PEXPIRE", job, ARGV[7])
  rcall("XADD", KEYS[2], "*", "kind", "failed", "attempt", attempt, "node", node,
    "at", now, "code", ARGV[4])
  if rcall("HEXISTS", job, "watched") == 1 then rcall("PUBLISH", KEYS[2], "") end  -- WatchJob: wake the watch hubs (job_watch.lua)
  rcall("PEXPIRE", KEYS[2], ARGV[7])
  return {2, node, attempt, cur[7], cur[8], cur[9], cur[10] or ""}
end
rcall("HSET", job, "state", "pending", "node_id", "", "excluded", excluded,
  "due_ms", ARGV[6], "updated_ms", now)
rcall("XADD", KEYS[2], "*", "kind", "retrying", "attempt", attempt, "node", node,
  "at", now, "code", ARGV[4])
return {1, node, attempt, excluded, attempt + 1}
