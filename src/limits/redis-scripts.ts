// The Lua the Redis limit service runs: one script call admits a request (all or nothing), one finishes it.
// Time is Redis's own (TIME), so gateways with skewed clocks still share one window and one lease clock.
//
// Keys (every name starts with the prefix, which carries a {hash tag} so a cluster keeps them on one shard):
//   rpm:<key>, tpm:<key>   hash bucket-number → usage: a sliding window exact to one bucket, as RateWindow
//   bud:<k|a>:<id>:<d|m>:<periodStartMs>   hash settled, reserved (micro-dollars); expires a day after the period
//   cred:<account>         hash reserved (micro-dollars); the balance itself is the store's, passed in
//   slot:<key:id|backend:id>   integer: max_concurrent slots held across all gateways
//   r:<request>            hash of what a request holds: s:<slot key> → n, b:<budget key> → µ$, c:<credit key> → µ$
//   leases                 sorted set request → lease expiry (ms); gateways renew their requests' leases while
//                          they run, and any admit sweeps expired ones: slots come back, budget reservations count
//                          as spent (a dead gateway's requests may have run: never an overspend), credit holds go
//   w:<slot key>           set while some gateway has requests queued for the slot: releases publish only then
//   released               pub/sub channel: a slot key whose slot was given back
//   epoch                  random id of this Redis's data: a finish that finds its record gone after a restart
//                          (another epoch) still adds its cost to the budgets, which were reloaded without it
import { script } from "./redis-connection.ts";

const COMMON = `
local P = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function release_slot(key, n)
  local left = redis.call('DECRBY', key, n)
  if left <= 0 then redis.call('DEL', key) end
  if redis.call('EXISTS', P .. 'w:' .. key) == 1 then redis.call('PUBLISH', P .. 'released', key) end
end

local function unreserve(key, amount, settled)
  if redis.call('EXISTS', key) == 0 then return end
  local left = redis.call('HINCRBY', key, 'reserved', -amount)
  if left < 0 then redis.call('HSET', key, 'reserved', 0) end
  if settled > 0 then redis.call('HINCRBY', key, 'settled', settled) end
end

-- Gives back what a request holds; budgets settle 'cost' (false: the amount reserved, as a lease ran out),
-- credit holds stay when keep_credits. Returns true when nothing is left held.
local function release_record(id, cost, keep_credits)
  local rec = P .. 'r:' .. id
  local fields = redis.call('HGETALL', rec)
  local kept = false
  for j = 1, #fields, 2 do
    local field, amount = fields[j], tonumber(fields[j + 1])
    local kind, key = string.sub(field, 1, 1), string.sub(field, 3)
    if kind == 's' then release_slot(key, amount); redis.call('HDEL', rec, field)
    elseif kind == 'b' then unreserve(key, amount, cost or amount); redis.call('HDEL', rec, field)
    elseif kind == 'c' then
      if keep_credits then kept = true else unreserve(key, amount, 0); redis.call('HDEL', rec, field) end
    end
  end
  if kept then return false end
  redis.call('DEL', rec)
  redis.call('ZREM', P .. 'leases', id)
  return true
end

local function sweep()
  local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 64)
  for _, id in ipairs(expired) do release_record(id, false, false) end
end

local function window_state(key, now_bucket, buckets)
  local raw = redis.call('HGETALL', key)
  local used, live, stale = 0, {}, {}
  for j = 1, #raw, 2 do
    local bucket, count = tonumber(raw[j]), tonumber(raw[j + 1])
    if bucket <= now_bucket - buckets then stale[#stale + 1] = raw[j]
    elseif count > 0 then used = used + count; live[#live + 1] = { bucket, count } end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return used, live
end
`;

/**
 * ARGV: prefix, request id, lease ms, bucket ms, buckets, rpm key, rpm limit (0: none), tpm key, tpm limit, tpm
 * cost, budget count, then per budget: key, limit, period end ms, loaded spend (-1: not loaded here), amount;
 * credit key ('' none), balance, amount; slot count, then per slot: key, max.
 * Reply: status ('ok' | 'rpm' | 'tpm' | 'budget' | 'reload' | 'credits' | 'slot'), epoch, rpm limit, remaining,
 * retry ms, reset ms, the same for tpm, then the status's detail (budget: index, limit, settled, reserved,
 * retry ms; reload: index; credits: balance, reserved; slot: index).
 */
export const ADMIT = script(`${COMMON}
local id, lease_ms, bucket_ms, buckets = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local epoch = redis.call('GET', P .. 'epoch')
if not epoch then epoch = id; redis.call('SET', P .. 'epoch', epoch) end
sweep()
local now_bucket = math.floor(now / bucket_ms)
local window_ms = bucket_ms * buckets
local function leaves(bucket) return math.max(0, math.ceil((bucket + buckets) * bucket_ms - now)) end

local rate = { 0, 0, 0, 0, 0, 0, 0, 0 }
local function check_rate(at, key, limit, cost)
  if limit <= 0 then return true end
  local used, live = window_state(key, now_bucket, buckets)
  local reset = 0
  if #live > 0 then reset = leaves(live[#live][1]) end
  rate[at] = limit
  if cost > limit or used + cost > limit then
    local retry, need, freed = window_ms, used + cost - limit, 0
    if cost <= limit then
      for _, entry in ipairs(live) do
        freed = freed + entry[2]
        if freed >= need then retry = leaves(entry[1]); break end
      end
    end
    rate[at + 1], rate[at + 2], rate[at + 3] = math.max(0, limit - used), retry, reset
    return false
  end
  if cost > 0 then reset = leaves(now_bucket) end
  rate[at + 1], rate[at + 2], rate[at + 3] = math.max(0, limit - used - cost), 0, reset
  return true
end
local function reply(status, ...)
  return { status, epoch, rate[1], rate[2], rate[3], rate[4], rate[5], rate[6], rate[7], rate[8], ... }
end

local rpm_key, rpm_limit = ARGV[6], tonumber(ARGV[7])
local tpm_key, tpm_limit, tpm_cost = ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
if not check_rate(1, rpm_key, rpm_limit, 1) then return reply('rpm') end
if not check_rate(5, tpm_key, tpm_limit, tpm_cost) then return reply('tpm') end

local i = 11
local budgets = {}
for b = 1, tonumber(ARGV[i]) do
  budgets[b] = { ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]) }
  i = i + 5
end
i = i + 1
local credit_key, balance, credit_amount = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
i = i + 3
local slots = {}
for s = 1, tonumber(ARGV[i]) do
  slots[s] = { ARGV[i + 1], tonumber(ARGV[i + 2]) }
  i = i + 2
end

for b, budget in ipairs(budgets) do
  local key, limit, end_ms, loaded, amount = budget[1], budget[2], budget[3], budget[4], budget[5]
  if redis.call('EXISTS', key) == 0 then
    if loaded < 0 then return reply('reload', b) end
    redis.call('HSET', key, 'settled', loaded, 'reserved', 0)
    redis.call('PEXPIREAT', key, end_ms + 86400000)
  end
  local settled = tonumber(redis.call('HGET', key, 'settled')) or 0
  local reserved = tonumber(redis.call('HGET', key, 'reserved')) or 0
  if settled + reserved + amount > limit then return reply('budget', b, limit, settled, reserved, end_ms - now) end
end
if credit_key ~= '' then
  local reserved = tonumber(redis.call('HGET', credit_key, 'reserved')) or 0
  if credit_amount > balance - reserved then return reply('credits', balance, reserved) end
end
for s, slot in ipairs(slots) do
  if (tonumber(redis.call('GET', slot[1])) or 0) >= slot[2] then return reply('slot', s) end
end

if rpm_limit > 0 then
  redis.call('HINCRBY', rpm_key, now_bucket, 1)
  redis.call('PEXPIRE', rpm_key, window_ms + bucket_ms)
end
if tpm_limit > 0 and tpm_cost > 0 then
  redis.call('HINCRBY', tpm_key, now_bucket, tpm_cost)
  redis.call('PEXPIRE', tpm_key, window_ms + bucket_ms)
end
local rec = P .. 'r:' .. id
local held = false
for _, budget in ipairs(budgets) do
  redis.call('HINCRBY', budget[1], 'reserved', budget[5])
  redis.call('HINCRBY', rec, 'b:' .. budget[1], budget[5])
  held = true
end
if credit_key ~= '' then
  redis.call('HINCRBY', credit_key, 'reserved', credit_amount)
  redis.call('PEXPIRE', credit_key, 604800000)
  redis.call('HINCRBY', rec, 'c:' .. credit_key, credit_amount)
  held = true
end
for _, slot in ipairs(slots) do
  redis.call('INCR', slot[1])
  redis.call('HINCRBY', rec, 's:' .. slot[1], 1)
  held = true
end
if held then
  redis.call('ZADD', P .. 'leases', now + lease_ms, id)
  redis.call('PEXPIRE', rec, 86400000)
end
return reply('ok')
`);

/**
 * ARGV: prefix, mode, then
 *   finish: request id, bucket ms, buckets, tpm key ('' none), tpm delta, cost µ$, keep credits (1/0), epoch,
 *           budget keys (settled with the cost even when the record is gone after a Redis restart);
 *   slot:   request id, slot key (one slot given back early: a balancer moving on);
 *   credits: request ids whose credit holds go (their deductions are in the store now).
 */
export const FINISH = script(`${COMMON}
local mode = ARGV[2]
if mode == 'slot' then
  local rec, field = P .. 'r:' .. ARGV[3], 's:' .. ARGV[4]
  local n = tonumber(redis.call('HGET', rec, field))
  if n then
    release_slot(ARGV[4], 1)
    if n > 1 then redis.call('HINCRBY', rec, field, -1) else redis.call('HDEL', rec, field) end
  end
  return 1
end
if mode == 'credits' then
  for j = 3, #ARGV do release_record(ARGV[j], 0, false) end
  return 1
end

local id, bucket_ms, buckets = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local tpm_key, delta, cost, keep, epoch = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1', ARGV[10]
if tpm_key ~= '' and delta ~= 0 then
  local now_bucket = math.floor(now / bucket_ms)
  if delta > 0 then
    redis.call('HINCRBY', tpm_key, now_bucket, delta)
    redis.call('PEXPIRE', tpm_key, bucket_ms * (buckets + 1))
  else
    local used, live = window_state(tpm_key, now_bucket, buckets)
    local left = -delta
    for j = #live, 1, -1 do
      if left <= 0 then break end
      local take = math.min(live[j][2], left)
      left = left - take
      if take == live[j][2] then redis.call('HDEL', tpm_key, live[j][1]) else redis.call('HINCRBY', tpm_key, live[j][1], -take) end
    end
  end
end
if redis.call('EXISTS', P .. 'r:' .. id) == 1 then
  release_record(id, cost, keep)
elseif epoch ~= '' and redis.call('GET', P .. 'epoch') ~= epoch then
  for j = 11, #ARGV do
    if redis.call('EXISTS', ARGV[j]) == 1 then redis.call('HINCRBY', ARGV[j], 'settled', cost) end
  end
end
return 1
`);

/** ARGV: prefix, lease ms, request ids: their leases run from now again (ids already swept stay gone). */
export const RENEW = script(`${COMMON}
local until_ms = now + tonumber(ARGV[2])
for j = 3, #ARGV do redis.call('ZADD', P .. 'leases', 'XX', until_ms, ARGV[j]) end
return 1
`);
