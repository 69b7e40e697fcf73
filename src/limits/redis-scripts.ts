// The Lua the Redis limit service runs: one script call admits a request (all or nothing), one finishes it.
// Time is Redis's own (TIME), so gateways with skewed clocks still share one window and one lease clock.
//
// Keys (every name starts with the prefix, which carries a {hash tag} so a cluster keeps them on one shard):
//   rate:<key>             the key's rpm and tpm windows in one hash: r<bucket> / t<bucket> → usage, rt / tt the
//                          totals, ro / to the oldest bucket: sliding windows exact to one bucket, as RateWindow
//   bud:<k|a>:<id>:<d|m>:<periodStartMs>   hash settled, reserved (micro-dollars); expires a day after the period
//   cred:<account>         hash reserved (micro-dollars); the balance itself is the store's, passed in
//   slot:<key:id|backend:id>   integer: max_concurrent slots held across all gateways
//   r:<request>            hash of what a request holds: s:<slot key> → n, b:<budget key> → µ$, c:<credit key> → µ$
//   leases                 sorted set request → lease expiry (ms); gateways renew their requests' leases while
//                          they run, and any admit sweeps expired ones: slots come back, budget reservations count
//                          as spent (a dead gateway's requests may have run: never an overspend), credit holds go
//   waiting                set while some gateway has requests queued for a slot: releases publish only then
//   released               pub/sub channel: a slot key whose slot was given back
//   ledger                 stream of ledger rows (storage.ledger_via: stream), one entry per row (field 'row': the
//                          row's JSON), added by FINISH with the settle of its request; consumer group 'ledger':
//                          any gateway reads entries, writes them to PostgreSQL, then acks and deletes them
//                          (ACK_DELETE), so the stream holds only rows not yet in PostgreSQL
//   epoch                  random id of this Redis's data (set by the first gateway to find it missing): a finish
//                          that finds its record gone under another epoch (a restart) still adds its cost to the
//                          budgets, which were reloaded from the store without it
// Every redis.call costs a few µs here, so the common path is counted: ADMIT with rpm, tpm, a budget and two slots
// makes 9 (10 for the first request in a rate bucket), FINISH about 10 per request (and one TIME per batch; with
// storage.ledger_via: stream one XADD more per request and one XLEN per batch).
import { script } from "./redis-connection.ts";

/** Joins one request's arguments into one script argument (the client's cost is per argument, not per byte). */
export const FIELD_SEPARATOR = "\x1f";

const COMMON = `
local P = ARGV[1]

local function split(text)
  local out, from = {}, 1
  while true do
    local at = string.find(text, '\\31', from, true)
    if not at then out[#out + 1] = string.sub(text, from); return out end
    out[#out + 1] = string.sub(text, from, at - 1)
    from = at + 1
  end
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local someone_waits
local function release_slot(key, n)
  if redis.call('DECRBY', key, n) < 0 then redis.call('SET', key, 0) end
  if someone_waits == nil then someone_waits = redis.call('EXISTS', P .. 'waiting') == 1 end
  if someone_waits then redis.call('PUBLISH', P .. 'released', key) end
end

local function unreserve(key, amount, settled)
  local v = redis.call('HMGET', key, 'reserved', 'settled')
  if not v[1] then return end -- its period is long over (or Redis lost it): not made again
  local fields = { 'reserved', math.max(0, tonumber(v[1]) - amount) }
  if settled > 0 then fields[3], fields[4] = 'settled', (tonumber(v[2]) or 0) + settled end
  redis.call('HSET', key, unpack(fields))
end

-- Gives back what a request holds; budgets settle 'cost' (false: the amount reserved, as a lease ran out),
-- credit holds stay when keep_credits. Returns false when there was no record (never made, or swept).
local function release_record(id, cost, keep_credits)
  local rec = P .. 'r:' .. id
  local fields = redis.call('HGETALL', rec)
  if #fields == 0 then
    redis.call('ZREM', P .. 'leases', id)
    return false
  end
  local kept, gone = false, {}
  for j = 1, #fields, 2 do
    local field, amount = fields[j], tonumber(fields[j + 1])
    local kind, key = string.sub(field, 1, 1), string.sub(field, 3)
    if kind == 's' then release_slot(key, amount); gone[#gone + 1] = field
    elseif kind == 'b' then unreserve(key, amount, cost or amount); gone[#gone + 1] = field
    elseif kind == 'c' then
      if keep_credits then kept = true else unreserve(key, amount, 0) end
    end
  end
  if kept then
    if #gone > 0 then redis.call('HDEL', rec, unpack(gone)) end
    return true
  end
  redis.call('DEL', rec)
  redis.call('ZREM', P .. 'leases', id)
  return true
end

local function sweep()
  local expired = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 64)
  for _, id in ipairs(expired) do release_record(id, false, false) end
end

-- A sliding window inside the rate hash, its fields named by kind ('r' rpm, 't' tpm): <kind><bucket> → usage,
-- <kind>t the total, <kind>o the oldest bucket. A decision reads the total; the buckets are counted again only
-- when the oldest one has slid out of the window.
local function window_used(key, kind, total, oldest, now_bucket, buckets)
  oldest = tonumber(oldest)
  if not oldest then return 0, false end
  if oldest > now_bucket - buckets then return tonumber(total) or 0, true end
  local raw = redis.call('HGETALL', key)
  local used, first, stale = 0, nil, {}
  for j = 1, #raw, 2 do
    local field = raw[j]
    local bucket = string.sub(field, 1, 1) == kind and tonumber(string.sub(field, 2))
    if bucket then
      local count = tonumber(raw[j + 1])
      if bucket <= now_bucket - buckets or count <= 0 then stale[#stale + 1] = field
      else
        used = used + count
        if not first or bucket < first then first = bucket end
      end
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  if first then redis.call('HSET', key, kind .. 't', used, kind .. 'o', first)
  else redis.call('HDEL', key, kind .. 't', kind .. 'o') end
  return used, first ~= nil
end

-- The live buckets of one kind, oldest first (only for a refusal's retry time).
local function window_live(key, kind)
  local raw = redis.call('HGETALL', key)
  local live = {}
  for j = 1, #raw, 2 do
    local bucket = string.sub(raw[j], 1, 1) == kind and tonumber(string.sub(raw[j], 2))
    local count = tonumber(raw[j + 1])
    if bucket and count > 0 then live[#live + 1] = { bucket, count } end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  return live
end
`;

/**
 * Admits a batch of requests, each on its own (all or nothing). ARGV: prefix, then per request one argument, its
 * fields joined by FIELD_SEPARATOR: request id, lease ms, bucket ms, buckets, sweep (1: first give back what expired leases hold; a
 * queued request's try, the fast path leaves it to RENEW), rate key ('' none), rpm limit (0: none), tpm limit
 * (0: none), tpm cost, budget count, then per budget: key, limit, period end ms, loaded spend (-1: not loaded here), amount;
 * credit key ('' none), balance, amount; slot count, then per slot: key, max.
 * Reply, one per request: status ('ok' | 'rpm' | 'tpm' | 'budget' | 'reload' | 'credits' | 'slot'), 0, rpm limit, remaining,
 * retry ms, reset ms, the same for tpm, then the status's detail (budget: index, limit, settled, reserved,
 * retry ms; reload: index; credits: balance, reserved; slot: index).
 */
export const ADMIT = script(`${COMMON}
-- One request's admission; ARGV is the request's own block (prefix first), so the body reads as for one call.
local function admit_one(ARGV)
  local id, lease_ms, bucket_ms, buckets = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  if ARGV[6] == '1' then sweep() end
  local now_bucket = math.floor(now / bucket_ms)
  local window_ms = bucket_ms * buckets
  local function leaves(bucket) return math.max(0, math.ceil((bucket + buckets) * bucket_ms - now)) end

  local rate = { 0, 0, 0, 0, 0, 0, 0, 0 }
  local rate_key, rpm_limit, tpm_limit, tpm_cost = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
  -- One read for both windows: totals, oldest buckets, and the current bucket's counts (written back in one HSET).
  local window = { false, false, false, false, false, false }
  if rate_key ~= '' then window = redis.call('HMGET', rate_key, 'rt', 'ro', 'tt', 'to', 'r' .. now_bucket, 't' .. now_bucket) end
  local used_now, has_oldest = {}, {}
  local function check_rate(at, kind, limit, cost, total, oldest)
    if limit <= 0 then return true end
    local used, kept = window_used(rate_key, kind, total, oldest, now_bucket, buckets)
    used_now[kind], has_oldest[kind] = used, kept
    rate[at] = limit
    if cost > limit or used + cost > limit then
      local live = window_live(rate_key, kind)
      local retry, need, freed = window_ms, used + cost - limit, 0
      if cost <= limit then
        for _, entry in ipairs(live) do
          freed = freed + entry[2]
          if freed >= need then retry = leaves(entry[1]); break end
        end
      end
      local reset = 0
      if #live > 0 then reset = leaves(live[#live][1]) end
      rate[at + 1], rate[at + 2], rate[at + 3] = math.max(0, limit - used), retry, reset
      return false
    end
    local reset = 0
    if cost > 0 or used > 0 then reset = leaves(now_bucket) end
    rate[at + 1], rate[at + 2], rate[at + 3] = math.max(0, limit - used - cost), 0, reset
    return true
  end
  local rate_writes = {}
  local function record_rate(kind, amount, bucket_count)
    local w = rate_writes
    w[#w + 1], w[#w + 2] = kind .. now_bucket, (tonumber(bucket_count) or 0) + amount
    w[#w + 1], w[#w + 2] = kind .. 't', used_now[kind] + amount
    if not has_oldest[kind] then w[#w + 1], w[#w + 2] = kind .. 'o', now_bucket end
  end
  local function reply(status, ...)
    return { status, 0, rate[1], rate[2], rate[3], rate[4], rate[5], rate[6], rate[7], rate[8], ... }
  end

  if not check_rate(1, 'r', rpm_limit, 1, window[1], window[2]) then return reply('rpm') end
  if not check_rate(5, 't', tpm_limit, tpm_cost, window[3], window[4]) then return reply('tpm') end

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
    local v = redis.call('HMGET', key, 'settled', 'reserved')
    local settled, reserved = tonumber(v[1]), tonumber(v[2]) or 0
    if not settled then
      if loaded < 0 then return reply('reload', b) end
      settled, reserved = loaded, 0
      redis.call('HSET', key, 'settled', loaded, 'reserved', 0)
      redis.call('PEXPIREAT', key, end_ms + 86400000)
    end
    if settled + reserved + amount > limit then return reply('budget', b, limit, settled, reserved, end_ms - now) end
  end
  if credit_key ~= '' then
    local reserved = tonumber(redis.call('HGET', credit_key, 'reserved')) or 0
    if credit_amount > balance - reserved then return reply('credits', balance, reserved) end
  end
  -- Slots last, taken as they are checked (INCR answers the new count) and given back if one is full.
  for s, slot in ipairs(slots) do
    if redis.call('INCR', slot[1]) > slot[2] then
      for back = 1, s do redis.call('DECR', slots[back][1]) end
      return reply('slot', s)
    end
  end

  if rpm_limit > 0 then record_rate('r', 1, window[5]) end
  if tpm_limit > 0 and tpm_cost > 0 then record_rate('t', tpm_cost, window[6]) end
  if #rate_writes > 0 then
    redis.call('HSET', rate_key, unpack(rate_writes))
    -- Whoever first wrote the current bucket (here, or FINISH's tpm correction) set an expiry past the moment it
    -- leaves the window; only a new bucket needs a later one.
    if not (window[5] or window[6]) then redis.call('PEXPIRE', rate_key, window_ms + bucket_ms) end
  end
  -- What the request holds, in one write: b:<budget> / c:<credits> → µ$, s:<slot> → 1.
  local held = {}
  for _, budget in ipairs(budgets) do
    redis.call('HINCRBY', budget[1], 'reserved', budget[5])
    held[#held + 1] = 'b:' .. budget[1]
    held[#held + 1] = budget[5]
  end
  if credit_key ~= '' then
    redis.call('HINCRBY', credit_key, 'reserved', credit_amount)
    redis.call('PEXPIRE', credit_key, 604800000)
    held[#held + 1] = 'c:' .. credit_key
    held[#held + 1] = credit_amount
  end
  for _, slot in ipairs(slots) do
    held[#held + 1] = 's:' .. slot[1]
    held[#held + 1] = 1
  end
  if #held > 0 then redis.call('HSET', P .. 'r:' .. id, unpack(held)) end
  if #held > 0 then redis.call('ZADD', P .. 'leases', now + lease_ms, id) end
  return reply('ok')
end

local replies = {}
for at = 2, #ARGV do
  local block = split(ARGV[at])
  table.insert(block, 1, P)
  replies[#replies + 1] = admit_one(block)
end
return replies
`);

/**
 * ARGV: prefix, mode, then
 *   finish: bucket ms, buckets, most ledger rows the stream may hold, then per request (a batch) one argument, its
 *           fields joined by FIELD_SEPARATOR: request id ('' none: a ledger row alone), tpm key ('' none), tpm
 *           delta, cost µ$, keep credits (1/0), epoch, budget key count, budget keys (settled with the cost even
 *           when the record is gone after a Redis restart), then optionally the request's ledger row (JSON, which
 *           escapes the separator), added to the ledger stream unless it is full.
 *           Answers the positions (1-based) of the requests whose row was not added (the stream was full).
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

local bucket_ms, buckets = tonumber(ARGV[3]), tonumber(ARGV[4])
local now_bucket = math.floor(now / bucket_ms)
local current_epoch
local function correct(key, delta)
  if delta > 0 then
    redis.call('HINCRBY', key, 't' .. now_bucket, delta)
    redis.call('HINCRBY', key, 'tt', delta)
    redis.call('HSETNX', key, 'to', now_bucket)
    redis.call('PEXPIRE', key, bucket_ms * (buckets + 1))
    return
  end
  -- Newest first, as the estimate was counted recently: take it all from a bucket, give back what it did not have.
  local left, removed, oldest = -delta, 0, now_bucket
  for bucket = now_bucket, now_bucket - buckets + 1, -1 do
    if bucket < oldest then break end
    local field = 't' .. bucket
    local after = redis.call('HINCRBY', key, field, -left)
    if after >= 0 then
      removed = removed + left
      left = 0
    else
      local had = after + left
      if had > 0 then removed = removed + had; left = left - had end
      if had > 0 then redis.call('HSET', key, field, 0) else redis.call('HDEL', key, field) end
    end
    if left <= 0 then break end
    if bucket == now_bucket then oldest = tonumber(redis.call('HGET', key, 'to')) or now_bucket end
  end
  if removed > 0 then redis.call('HINCRBY', key, 'tt', -removed) end
end
local max_rows, stream_rows = tonumber(ARGV[5]), nil
local not_added = {}
for at = 6, #ARGV do
  local f = split(ARGV[at])
  local id, tpm_key, delta, cost, keep, epoch = f[1], f[2], tonumber(f[3]), tonumber(f[4]), f[5] == '1', f[6]
  if tpm_key ~= '' and delta ~= 0 then correct(tpm_key, delta) end
  local row = f[8 + tonumber(f[7])]
  if row and row ~= '' then
    stream_rows = stream_rows or redis.call('XLEN', P .. 'ledger')
    if stream_rows < max_rows then
      redis.call('XADD', P .. 'ledger', '*', 'row', row)
      stream_rows = stream_rows + 1
    else
      not_added[#not_added + 1] = at - 5
    end
  end
  if id ~= '' and not release_record(id, cost, keep) and epoch ~= '' then
    current_epoch = current_epoch or redis.call('GET', P .. 'epoch') or ''
    if current_epoch ~= epoch then
      for j = 8, 7 + tonumber(f[7]) do
        if redis.call('EXISTS', f[j]) == 1 then redis.call('HINCRBY', f[j], 'settled', cost) end
      end
    end
  end
end
return not_added
`);

/** KEYS: the ledger stream. ARGV: the group, then entry ids written to PostgreSQL: acked and deleted together. */
export const ACK_DELETE = script(`
for at = 2, #ARGV, 1000 do
  local ids = { unpack(ARGV, at, math.min(#ARGV, at + 999)) }
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
  redis.call('XDEL', KEYS[1], unpack(ids))
end
return 1
`);

/**
 * A gateway's periodic call. ARGV: prefix, lease ms, an epoch to set if there is none, request ids whose leases
 * run from now again (ids already swept stay gone). Gives back what expired leases hold; answers the epoch.
 */
export const RENEW = script(`${COMMON}
sweep()
local until_ms = now + tonumber(ARGV[2])
for j = 4, #ARGV do redis.call('ZADD', P .. 'leases', 'XX', until_ms, ARGV[j]) end
local epoch = redis.call('GET', P .. 'epoch')
if not epoch then
  epoch = ARGV[3]
  redis.call('SET', P .. 'epoch', epoch)
end
return epoch
`);
