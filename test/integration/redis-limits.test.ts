// Issue 18 item 2 and the Redis parts of item 4, through real processes: two gateways (`sluice serve`) on one
// redis-server of the test's own and one SQLite file (so one key), behind no balancer, in front of an engine in
// this process that counts what it serves and the most requests it had in flight at once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKey, eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { REDIS_SERVER, startRedis, type TestRedis } from "../support/redis-server.ts";
import { startCountingEngine, type CountingEngine } from "../support/counting-engine.ts";

const ADMIN = "inf_" + "R".repeat(20) + "adminadminadminadmin";
const WINDOW_MS = 3_000; // SLUICE_RATE_WINDOW_MS: rpm's window, short so the test sees it slide
const LEASE_MS = 1_500;

let redis: TestRedis;
let engine: CountingEngine;
let a: RunningGateway;
let b: RunningGateway;

function config(onFailure = "{}"): string {
  return `server: {host: 127.0.0.1, port: 0}
auth: {mode: keys, session_secret: "ssssssssssssssssssssssssssssssssssssssss"}
storage: {url: "sqlite:${join(shared, "sluice.db")}"}
limits: {url: "${redis.url}", lease_ms: ${LEASE_MS}, timeout_ms: 500, heartbeat_ms: 100, poll_ms: 100, on_failure: ${onFailure}}
health: {interval_ms: 60000}
backends:
  - name: engine
    url: http://127.0.0.1:${engine.port}/v1
    pricing: {output_per_mtok: 100000}   # $0.10 per completion token: $0.30 per answer, $1 worst case at max_tokens 10
`;
}

let shared: string;
async function startGateway(onFailure?: string): Promise<RunningGateway> {
  return spawnGateway(config(onFailure), { env: { SLUICE_ADMIN_KEY: ADMIN, SLUICE_RATE_WINDOW_MS: String(WINDOW_MS) } });
}

beforeAll(async () => {
  if (!REDIS_SERVER) return;
  shared = mkdtempSync(join(tmpdir(), "sluice-redis-"));
  redis = await startRedis();
  engine = startCountingEngine();
  a = await startGateway();
  b = await startGateway('{rate: open}');
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  engine?.stop();
  await redis?.stop();
});

function chat(gateway: RunningGateway, key: string, content = "hi", maxTokens = 10) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "engine", max_tokens: maxTokens, messages: [{ role: "user", content }] }),
  });
}

/**
 * A key made on A, once B can see it too (the shared SQLite file). The probe asks max_tokens 3, what the engine
 * answers: it reserves what it costs, so a budget test never depends on whether its settle reached Redis yet.
 */
async function keyOnBoth(settings: Record<string, unknown>): Promise<string> {
  const { key } = await createKey(a, ADMIN, { name: "redis-test", ...settings });
  await eventually(async () => ((await chat(b, key, "hi", 3)).status !== 401 ? true : undefined));
  return key;
}

async function codeOf(response: Response): Promise<string> {
  if (response.status === 200) return "200";
  return ((await response.json()) as { error: { code: string } }).error.code;
}

describe.skipIf(!REDIS_SERVER)("two gateways, one Redis", () => {
  test("rpm is exact across both gateways, and the window slides", async () => {
    const key = await keyOnBoth({ rpm: 1_000 }); // keyOnBoth's probe must not count against the limit under test
    const limited = await createKey(a, ADMIN, { name: "rpm", rpm: 6 });
    await eventually(async () => ((await fetch(`${b.url}/v1/models`, { headers: { authorization: `Bearer ${limited.key}` } })).status === 200 ? true : undefined));
    expect(key).toBeTruthy();
    const codes = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(i % 2 ? a : b, limited.key).then(codeOf)));
    expect(codes.filter((code) => code === "200").length).toBe(6);
    expect(codes.filter((code) => code === "rate_limited").length).toBe(4);
    await Bun.sleep(WINDOW_MS + 200);
    const again = await Promise.all(Array.from({ length: 8 }, (_, i) => chat(i % 2 ? a : b, limited.key).then(codeOf)));
    expect(again.filter((code) => code === "200").length).toBe(6);
  });

  test("a budget is never overspent by 50 concurrent requests across both gateways", async () => {
    const key = await keyOnBoth({ budget_usd_daily: 5 });
    const before = engine.served.count;
    // max_tokens 3: each request reserves $0.30 and costs exactly that, so the budget is spent to the last cent;
    // with a budget per gateway, both would let $5 through.
    const codes = await Promise.all(Array.from({ length: 50 }, (_, i) => chat(i % 2 ? a : b, key, "wait:150", 3).then(codeOf)));
    const answered = engine.served.count - before;
    expect((answered + 1) * 0.3).toBeLessThanOrEqual(5); // + keyOnBoth's probe, $0.30 too
    expect(answered).toBe(15);
    expect(codes.filter((code) => code === "200").length).toBe(answered);
    expect(codes.filter((code) => code === "budget_exceeded").length).toBe(50 - answered);
    expect(answered).toBeGreaterThan(0);
  });

  test("max_concurrent is never exceeded across both gateways; the excess queues and is served", async () => {
    const key = await keyOnBoth({ max_concurrent: 3, queue_timeout_ms: 20_000 });
    engine.served.peak = 0;
    const codes = await Promise.all(Array.from({ length: 24 }, (_, i) => chat(i % 2 ? a : b, key, "wait:100").then(codeOf)));
    expect(codes.every((code) => code === "200")).toBe(true);
    expect(engine.served.peak).toBeLessThanOrEqual(3);
    expect(engine.served.peak).toBe(3); // it did fill them (from both gateways)
  });

  test("a SIGKILLed gateway's slots come back within the lease", async () => {
    const key = await keyOnBoth({ max_concurrent: 2, queue_timeout_ms: 10_000 });
    const victim = await startGateway();
    const held = [chat(victim, key, "wait:20000").catch(() => undefined), chat(victim, key, "wait:20000").catch(() => undefined)];
    await eventually(() => (engine.served.inFlight >= 2 ? true : undefined));
    for (const pid of listeningPids(victim.port)) process.kill(pid, "SIGKILL");
    // B queues behind the dead gateway's two slots until their lease runs out, then gets one.
    const response = await chat(b, key);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { timings: { queued_ms?: number } }).timings.queued_ms).toBeGreaterThan(0);
    void Promise.all(held);
    await victim.stop();
  });
});

describe.skipIf(!REDIS_SERVER)("Redis frozen, stopped, restarted", () => {
  test("each limit kind as limits.on_failure says, answered at once, and back without a restart", async () => {
    const budgeted = await keyOnBoth({ budget_usd_daily: 100 });
    const rated = await keyOnBoth({ rpm: 2 });
    for (const outage of ["freeze", "kill"] as const) {
      if (outage === "freeze") redis.freeze();
      else await redis.kill();
      try {
        const started = Date.now();
        const refused = await chat(a, budgeted);
        expect(Date.now() - started).toBeLessThan(2_000); // no hang: the call timeout is 500 ms
        expect(refused.status).toBe(503);
        const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
        expect(error.code).toBe("limits_unavailable");
        expect(error.message).toContain("limits.on_failure.budget: closed");
        // rpm 2: A falls back to its own window (local), B lets everything through (open).
        const onA = await Promise.all([1, 2, 3].map(() => chat(a, rated).then(codeOf)));
        expect(onA.filter((code) => code === "rate_limited").length).toBeGreaterThan(0);
        const onB = await Promise.all([1, 2, 3].map(() => chat(b, rated).then(codeOf)));
        expect(onB).toEqual(["200", "200", "200"]);
        const metrics = await (await fetch(`${a.url}/metrics`)).text();
        expect(metrics).toContain("sluice_limits_redis_up 0");
        expect(metrics).toMatch(/sluice_limits_fallbacks_total\{kind="budget"\} [1-9]/);
      } finally {
        if (outage === "freeze") redis.thaw();
        else await redis.start();
      }
      // Recovered by itself: the budgeted key is served through Redis again on both.
      await eventually(async () => ((await chat(a, budgeted)).status === 200 && (await chat(b, budgeted)).status === 200 ? true : undefined), 10_000);
      expect(await (await fetch(`${a.url}/metrics`)).text()).toContain("sluice_limits_redis_up 1");
    }
  });
});

/** The processes serving a port (`sluice serve` relaunches itself: the one listening is the one holding slots). */
function listeningPids(port: number): number[] {
  const out = Bun.spawnSync(["ss", "-Hltnp", `sport = :${port}`]).stdout.toString();
  const pids = [...out.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1]));
  if (!pids.length) throw new Error(`nothing listens on port ${port}: ${out}`);
  return [...new Set(pids)];
}
