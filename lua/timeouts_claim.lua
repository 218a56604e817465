--[[
timeouts_claim: lease the due entries of one timeout bucket to one sweeper.

Entries are job ids scored by when they are due. Claiming re-scores them to
now + lease, so a sweeper that dies mid-way does not lose them: they come due again
and another replica picks them up. A sweeper removes an entry once handled.

KEYS[1]  timeout bucket (sorted set)   {timeouts:N}
ARGV[1]  now (ms)
ARGV[2]  lease (ms)
ARGV[3]  at most this many

Returns the claimed job ids.
]]
local rcall = redis.call
local due = rcall("ZRANGEBYSCORE", KEYS[1], "-inf", ARGV[1], "LIMIT", 0, tonumber(ARGV[3]))
local lease_until = tonumber(ARGV[1]) + tonumber(ARGV[2])
for i = 1, #due do
  rcall("ZADD", KEYS[1], "XX", lease_until, due[i])
end
return due
