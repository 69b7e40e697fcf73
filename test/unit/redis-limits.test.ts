// The Redis limit service's Lua, through RedisLimits and its connection wrapper, against a real redis-server of
// the test's own: two RedisLimits instances stand for two gateways sharing one Redis.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Limits } from "../../src/pipeline/admission.ts";
import type { Admission } from "../../src/limits/limit-service.ts";
import { RedisLimits, type FailurePolicy } from "../../src/limits/redis-limits.ts";
import { RedisConnection, RedisUnavailable, script } from "../../src/limits/redis-connection.ts";
import { DEFAULT_SETTINGS, type ApiKey } from "../../src/auth/key-record.ts";
import type { Backend } from "../../src/config/resolve.ts";
import { GatewayError } from "../../src/errors.ts";
import { REDIS_SERVER, startRedis, type TestRedis } from "../support/redis-server.ts";
import { parseConfig } from "../../src/config/load.ts";
import { openDatabase } from "../../src/store/database.ts";
import { AccountStore } from "../../src/store/accounts.ts";
import { CreditBook } from "../../src/billing/credits.ts";
import { BudgetBook } from "../../src/limits/budget.ts";

let redis: TestRedis;
const services: RedisLimits[] = [];
let prefixes = 0;

beforeAll(async () => {
  if (REDIS_SERVER) redis = await startRedis();
});
afterAll(async () => {
  for (const service of services) service.close();
  await redis?.stop();
});

function key(settings: Partial<ApiKey>): ApiKey {
  return { ...DEFAULT_SETTINGS, name: "k", id: `key-${++prefixes}`, prefix: "inf_test", created_at: 0, revoked_at: null, ...settings };
}

const backend = { id: "priced", pricing: { outputPerMtokUsd: 1_000_000 }, defaultMaxTokens: 1, timeoutMs: 1_000, maxStreamMs: 1_000, queueTimeoutMs: 2_000 } as unknown as Backend;

/** Two gateways' limit services on one prefix (one Redis, one truth). */
function pair(options: { spent?: number; leaseMs?: number; onFailure?: Partial<FailurePolicy> } = {}): [RedisLimits, RedisLimits] {
  const prefix = `{t${++prefixes}}:`;
  const make = () => {
    const service = new RedisLimits(
      { url: redis.url, timeoutMs: 300, heartbeatMs: 50, leaseMs: options.leaseMs ?? 10_000, pollMs: 50, prefix, windowMs: 60_000, onFailure: { rate: "local", concurrency: "local", budget: "closed", ...options.onFailure } },
      new Limits(() => options.spent ?? 0),
      { keySpent: () => options.spent ?? 0, accountSpent: () => 0 },
    );
    services.push(service);
    return service;
  };
  return [make(), make()];
}

function request(apiKey: ApiKey | null, extra: Record<string, unknown> = {}) {
  return { key: apiKey, backend, promptTokensBound: 10, maxTokens: 1, signal: undefined, ...extra };
}

/** The rate hash's per-bucket fields (r<bucket>, t<bucket>) of a key. */
async function bucketFields(prefix: string, keyId: string): Promise<string[]> {
  const fields = (await redis.command("HKEYS", `${prefix}rate:${keyId}`)) as string[];
  return fields.filter((field) => /^[rt]\d+$/.test(field));
}

/** The refusal of an admit (thrown at once or as a rejection, as the gateway sees both). */
async function refusal(admit: () => Admission | Promise<Admission>): Promise<GatewayError> {
  try {
    (await admit()).finish(0, 0);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error("admitted, expected a refusal");
}

describe.skipIf(!REDIS_SERVER)("Redis limits", () => {
  test("rpm is one window for both gateways, with the rate-limit headers", async () => {
    const [a, b] = pair();
    const apiKey = key({ rpm: 3 });
    const first = await a.admit(request(apiKey));
    expect(first.headers).toEqual(["x-ratelimit-limit-requests", "3", "x-ratelimit-remaining-requests", "2", "x-ratelimit-reset-requests", "60s"]);
    await b.admit(request(apiKey));
    await a.admit(request(apiKey));
    const refused = await refusal(() => b.admit(request(apiKey)));
    expect(refused.code).toBe("rate_limited");
    expect(refused.message).toContain("rpm limit of 3");
    expect(refused.headers?.["x-ratelimit-remaining-requests"]).toBe("0");
    expect(Number(refused.headers?.["retry-after"])).toBeGreaterThan(0);
  });

  test("the rate windows expire once idle for a window: set by the first request of a bucket, kept by the next", async () => {
    const [a, b] = pair();
    const apiKey = key({ rpm: 100, tpm: 1_000 });
    // Both admits in one 1 s bucket (Redis's clock): not in the last 200 ms of a second.
    const [, micros] = (await redis.command("TIME")) as [string, string];
    if (Number(micros) > 800_000) await Bun.sleep(250);
    (await a.admit(request(apiKey))).finish(5, 0);
    await redis.command("PEXPIRE", `${a.settings.prefix}rate:${apiKey.id}`, "5000"); // an expiry set earlier in this bucket
    (await b.admit(request(apiKey))).finish(5, 0);
    const ttlMs = Number(await redis.command("PTTL", `${a.settings.prefix}rate:${apiKey.id}`));
    expect(ttlMs).toBeGreaterThan(0);
    expect(ttlMs).toBeLessThanOrEqual(5_000);
    await redis.command("PERSIST", `${a.settings.prefix}rate:${apiKey.id}`);
    await redis.command("HDEL", `${a.settings.prefix}rate:${apiKey.id}`, ...(await bucketFields(a.settings.prefix, apiKey.id))); // a new bucket
    await a.admit(request(apiKey));
    const renewedMs = Number(await redis.command("PTTL", `${a.settings.prefix}rate:${apiKey.id}`));
    expect(renewedMs).toBeGreaterThan(60_000);
    expect(renewedMs).toBeLessThanOrEqual(61_000);
  });

  test("tpm counts the prompt bound and max_tokens, and the real usage corrects it", async () => {
    const [a, b] = pair();
    const apiKey = key({ tpm: 100 });
    const first = await a.admit(request(apiKey, { promptTokensBound: 40, maxTokens: 40 }));
    expect(await refusal(() => b.admit(request(apiKey, { promptTokensBound: 40, maxTokens: 40 })))).toMatchObject({ code: "rate_limited" });
    first.finish(10, 0); // used 10 of the 80 it counted
    await Bun.sleep(50);
    const second = await b.admit(request(apiKey, { promptTokensBound: 40, maxTokens: 40 }));
    expect(second.headers).toContain("x-ratelimit-remaining-tokens");
    expect(second.headers![second.headers!.indexOf("x-ratelimit-remaining-tokens") + 1]).toBe("10");
  });

  test("a budget is reserved at its worst case across both gateways, settled to the real cost, loaded once", async () => {
    // Each request may cost $1 (1 output token at $1M/Mtok); the key has $2.50 a day, $0.50 already spent.
    const [a, b] = pair({ spent: 500_000 });
    const apiKey = key({ budget_usd_daily: 2.5 });
    const one = await a.admit(request(apiKey));
    const two = await b.admit(request(apiKey));
    const refused = await refusal(() => a.admit(request(apiKey)));
    expect(refused.code).toBe("budget_exceeded");
    expect(refused.message).toContain("daily budget of $2.5: $0.000000 left");
    one.finish(1, 100_000);
    two.finish(1, 100_000);
    await Bun.sleep(50);
    // Settled: 0.5 + 0.1 + 0.1 = 0.7 → 1.8 left: one more $1 request fits, a second does not.
    const three = await b.admit(request(apiKey));
    expect((await refusal(() => a.admit(request(apiKey)))).code).toBe("budget_exceeded");
    three.finish(1, 0);
  });

  test("max_concurrent is shared: a third request queues and gets the slot another gateway gives back", async () => {
    const [a, b] = pair();
    const apiKey = key({ max_concurrent: 2, queue_timeout_ms: 3_000 });
    const one = await a.admit(request(apiKey));
    await b.admit(request(apiKey));
    const waiting = b.admit(request(apiKey));
    let admitted = false;
    void Promise.resolve(waiting).then(() => (admitted = true));
    await Bun.sleep(100);
    expect(admitted).toBe(false);
    one.finish(1, 0); // released on gateway A: B hears it by pub/sub
    const third = await waiting;
    expect(third.queuedMs).toBeGreaterThan(0);
  });

  test("a queued request past its queue timeout gets 429 concurrency_limited", async () => {
    const [a, b] = pair();
    const apiKey = key({ max_concurrent: 1, queue_timeout_ms: 200 });
    await a.admit(request(apiKey));
    const refused = await refusal(() => b.admit(request(apiKey)));
    expect(refused.code).toBe("concurrency_limited");
    expect(refused.message).toContain("max_concurrent 1");
  });

  test("a gateway that stops renewing (killed) loses its slots after the lease; its reservation counts as spent", async () => {
    const [a, b] = pair({ leaseMs: 300 });
    const apiKey = key({ max_concurrent: 1, queue_timeout_ms: 5_000, budget_usd_daily: 2.5 });
    await a.admit(request(apiKey)); // holds the slot and $1 of the budget
    a.close(); // no finish, no renewals
    const started = performance.now();
    const next = await b.admit(request(apiKey));
    expect(performance.now() - started).toBeGreaterThan(200); // it had to wait for the lease
    next.finish(1, 0);
    await Bun.sleep(50);
    // $1 counted as spent from the dead gateway: $1.50 left, so one more $1 request fits and not two.
    const last = await b.admit(request(apiKey));
    last.finish(1, 1_000_000);
    await Bun.sleep(50);
    expect((await refusal(() => b.admit(request(apiKey)))).code).toBe("budget_exceeded");
  });

  test("a balancer's retry takes the next backend's slot and gives the first one back", async () => {
    const [a, b] = pair();
    const first = { ...backend, id: "one", maxConcurrent: 1 } as Backend;
    const second = { ...backend, id: "two", maxConcurrent: 1 } as Backend;
    const admission = await a.admit({ ...request(null), backend: first });
    admission.releaseBackend();
    await a.takeBackendSlot(admission, null, second, undefined);
    await Bun.sleep(50);
    // free again: the release may wait for a recovery on a loaded host (once in CI, not seen since), so the wait is
    // bounded by 4 s (under the test's own 5 s), well inside the 10 s lease that would free the slot anyway
    const other = await b.admit({ ...request(null), backend: { ...first, queueTimeoutMs: 4_000 } as Backend });
    expect((await refusal(() => b.takeBackendSlot(undefined, null, { ...second, queueTimeoutMs: 100 } as Backend, undefined))).code).toBe("concurrency_limited");
    other.finish(0, 0);
    admission.finish(0, 0);
  });

  test("a release Redis refuses while up (out of memory) is sent again after poll_ms, not left to the lease", async () => {
    const [a, b] = pair();
    const first = { ...backend, id: "one", maxConcurrent: 1, queueTimeoutMs: 1_500 } as Backend;
    const admission = await a.admit({ ...request(null), backend: first });
    await redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction");
    await redis.command("CONFIG", "SET", "maxmemory", "1"); // every write now answers OOM; PING still works
    admission.releaseBackend();
    await Bun.sleep(20);
    await redis.command("CONFIG", "SET", "maxmemory", "0");
    const other = await b.admit({ ...request(null), backend: first }); // within 1.5 s, not the 10 s lease
    other.finish(0, 0);
    admission.finish(0, 0);
  });

  test("the Redis data is flushed under a budget: the spend is loaded again from the store", async () => {
    const [a] = pair({ spent: 2_000_000 });
    const apiKey = key({ budget_usd_daily: 3.5 });
    (await a.admit(request(apiKey))).finish(1, 0);
    await redis.command("FLUSHALL");
    (await a.admit(request(apiKey))).finish(1, 1_000_000); // reloaded $2 spent; now $3
    await Bun.sleep(50);
    expect((await refusal(() => a.admit(request(apiKey)))).code).toBe("budget_exceeded");
  });
});

describe.skipIf(!REDIS_SERVER)("Redis credits", () => {
  test("an account's credit is held across gateways until each deduction is in the store", async () => {
    // One store, two gateways (each its own CreditBook, as two processes would have); $10 of credit.
    const store = new AccountStore(openDatabase(":memory:"));
    const account = store.create({ name: "team" });
    store.addTransaction(account.id, "deposit", 10_000_000, null);
    const prefix = `{c${++prefixes}}:`;
    const gateway = () => {
      const credits = new CreditBook(store);
      const local = new Limits(() => 0, { store, credits, budgets: new BudgetBook(() => 0) });
      const service = new RedisLimits({ url: redis.url, timeoutMs: 300, heartbeatMs: 50, leaseMs: 10_000, pollMs: 50, prefix, windowMs: 60_000, onFailure: { rate: "local", concurrency: "local", budget: "closed" } }, local, { keySpent: () => 0, accountSpent: () => 0 });
      services.push(service);
      return { service, credits };
    };
    const [a, b] = [gateway(), gateway()];
    const apiKey = key({ account_id: account.id });
    const fourDollars = request(apiKey, { maxTokens: 4 }); // $1 per output token
    const one = await a.service.admit(fourDollars);
    const two = await b.service.admit(fourDollars);
    const refused = await refusal(() => a.service.admit(fourDollars));
    expect([refused.code, refused.status]).toEqual(["insufficient_credits", 402]);
    expect(refused.message).toContain("$10.000000 of credit, $8.000000 held by requests in flight"); // both gateways' holds
    one.finish(1, 1_000_000, "req-1"); // cost $1: the deduction is queued on A, its $4 hold stays until written
    await Bun.sleep(100); // A's deductions are flushed within 20 ms, then the hold goes
    expect(store.balanceMicros(account.id)).toBe(9_000_000);
    const three = await b.service.admit(fourDollars); // $9 − $4 held by two = $5 available
    two.finish(1, 1_000_000, "req-2");
    three.finish(1, 1_000_000, "req-3");
    await Bun.sleep(100);
    expect(store.balanceMicros(account.id)).toBe(7_000_000);
    const rows = store.transactions({ accountId: account.id, limit: 10 });
    expect(rows.filter((row) => row.kind === "deduction").map((row) => row.request_id).sort()).toEqual(["req-1", "req-2", "req-3"]);
  });
});

describe.skipIf(!REDIS_SERVER)("Redis down", () => {
  test("frozen: calls fail within the timeout; budgets 503, rates fall back to local; back by itself when thawed", async () => {
    const [a] = pair({ onFailure: { rate: "local" } });
    const rated = key({ rpm: 1 });
    const budgeted = key({ budget_usd_daily: 10 });
    await a.admit(request(budgeted)); // up
    redis.freeze();
    try {
      const started = performance.now();
      const first = await refusal(() => a.admit(request(budgeted)));
      expect(first.code).toBe("limits_unavailable");
      expect(first.status).toBe(503);
      expect(first.message).toContain("limits.on_failure.budget: closed");
      expect(performance.now() - started).toBeLessThan(2_000); // no hang: the call timeout is 300 ms
      // Known down now: no wait at all, and rates are this gateway's own.
      await a.admit(request(rated));
      expect((await refusal(() => a.admit(request(rated)))).code).toBe("rate_limited");
      expect(a.metricLines()).toContain("sluice_limits_redis_up 0");
    } finally {
      redis.thaw();
    }
    for (let i = 0; i < 100 && !a.connection.healthy; i++) await Bun.sleep(20);
    expect(a.metricLines()).toContain("sluice_limits_redis_up 1");
    (await a.admit(request(budgeted))).finish(1, 0);
  });

  test("killed and restarted: rate open lets requests through meanwhile; reconnects, scripts and pub/sub come back", async () => {
    const [a, b] = pair({ onFailure: { rate: "open" } });
    const rated = key({ rpm: 1, max_concurrent: 1, queue_timeout_ms: 3_000 });
    (await a.admit(request(rated))).finish(0, 0);
    await redis.kill();
    for (let i = 0; i < 100 && a.connection.healthy; i++) await Bun.sleep(20);
    // rpm 1 is not checked while down (open); max_concurrent is this gateway's own.
    (await a.admit(request(rated))).finish(0, 0);
    (await a.admit(request(rated))).finish(0, 0);
    expect(a.metricLines().find((line) => line.includes('kind="rate"'))).toMatch(/ [1-9]\d*$/);
    await redis.start();
    for (let i = 0; i < 150 && !(a.connection.healthy && b.connection.healthy); i++) await Bun.sleep(20);
    expect(a.connection.healthy && b.connection.healthy).toBe(true);
    await Bun.sleep(300); // the subscriber reconnects on its own
    // A fresh Redis (no scripts loaded): the slot is shared again, and a release on B wakes A's waiter.
    const fresh = key({ max_concurrent: 1, queue_timeout_ms: 3_000 });
    const held = await b.admit(request(fresh));
    const waiting = a.admit(request(fresh));
    await Bun.sleep(100);
    held.finish(0, 0);
    (await waiting).finish(0, 0);
  });

  test("the wrapper: a NOSCRIPT reply loads the script; a refused connection fails at once, not after 31 s", async () => {
    const connection = new RedisConnection(redis.url, { timeoutMs: 300, heartbeatMs: 50 });
    await connection.first;
    const echo = script("return ARGV[1]");
    await redis.command("SCRIPT", "FLUSH");
    expect(await connection.evalScript(echo, [], ["hello"])).toBe("hello");
    const nowhere = new RedisConnection("redis://127.0.0.1:1", { timeoutMs: 300, heartbeatMs: 50 });
    await nowhere.first;
    const started = performance.now();
    await expect(nowhere.send("PING", [])).rejects.toBeInstanceOf(RedisUnavailable);
    expect(performance.now() - started).toBeLessThan(1_000); // not the offline queue's stall
    connection.close();
    nowhere.close();
  });
});

describe("limits config", () => {
  const yaml = (limits: string) => `auth: {mode: none, session_secret: "${"s".repeat(40)}"}\nlimits: ${limits}\nbackends:\n  - {name: echo, url: "http://127.0.0.1:9/v1"}\n`;

  test("limits.url takes memory, redis:// and rediss://; anything else is a clear error with the password masked", () => {
    expect(parseConfig(yaml('{url: "redis://127.0.0.1:6379/0"}'), "a.yaml").raw.limits.on_failure).toEqual({ rate: "local", concurrency: "local", budget: "closed" });
    expect(parseConfig(yaml('{url: "rediss://user:pw@cache.internal:6380"}'), "a.yaml").raw.limits.timeout_ms).toBe(1_000);
    let message = "";
    try {
      parseConfig(yaml('{url: "http://admin:hunter2@cache:6379"}'), "a.yaml");
    } catch (error) {
      message = String(error);
    }
    expect(message).toContain("limits.url: expected memory or redis://host:port");
    expect(message).not.toContain("hunter2");
  });

  test("on_failure is checked per kind", () => {
    expect(() => parseConfig(yaml('{url: "redis://h:1", on_failure: {budget: open}}'), "a.yaml")).toThrow(/on_failure/);
    expect(parseConfig(yaml('{url: "redis://h:1", on_failure: {rate: open, budget: local}}'), "a.yaml").raw.limits.on_failure).toEqual({ rate: "open", concurrency: "local", budget: "local" });
  });
});
