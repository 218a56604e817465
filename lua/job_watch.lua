--[[
job_watch: mark a job as watched (WatchJob), so that from now on its transition scripts
announce each new event: they PUBLISH on the name of the job's event stream, which
every dispatcher replica's watch hub follows (services/dispatcher/watch_hub.py). A job
nobody watches announces nothing.

KEYS[1]  job record hash       {job:ID}:rec

Returns 1 when the job exists (it is marked now), 0 when there is no such job.
]]
local rcall = redis.call
if rcall("EXISTS", KEYS[1]) == 0 then
  return 0
end
rcall("HSET", KEYS[1], "watched", "1")
return 1
