// storage.ledger_via: stream (issue 18 item 1) through real processes: two gateways (`sluice serve`) on one
// redis-server and one PostgreSQL of the test's own. Each ledger row goes into a Redis stream in the call that
// settles its request, so a gateway SIGKILLed right after answering loses none: the other drains them, each once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { createKey, eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { REDIS_SERVER, startRedis, type TestRedis } from "../support/redis-server.ts";
import { postgresAvailable, startPostgres, type PostgresInstance } from "../support/postgres.ts";
import { startCountingEngine, type CountingEngine } from "../support/counting-engine.ts";

const ADMIN = "inf_" + "L".repeat(20) + "adminadminadminadmin";
const LEASE_MS = 1_500; // also how long a killed gateway's unacked stream entries wait before another takes them

let redis: TestRedis;
let pg: PostgresInstance;
let db: SQL;
let dbUrl: string;
let engine: CountingEngine;
let b: RunningGateway;

function config(ledgerVia: string): string {
  return `server: {host: 127.0.0.1, port: 0}
auth: {mode: keys, session_secret: "ssssssssssssssssssssssssssssssssssssssss"}
storage: {url: "${dbUrl}", ledger_via: ${ledgerVia}}
limits: {url: "${redis.url}", lease_ms: ${LEASE_MS}, timeout_ms: 500, heartbeat_ms: 100}
health: {interval_ms: 60000}
backends:
  - name: engine
    url: http://127.0.0.1:${engine.port}/v1
    pricing: {output_per_mtok: 1000}
`;
}

const startGateway = (ledgerVia = "stream") => spawnGateway(config(ledgerVia), { env: { SLUICE_ADMIN_KEY: ADMIN } });

function chat(gateway: RunningGateway, key: string) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "engine", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }),
  });
}

/** Ledger rows per request id of a key, as PostgreSQL has them; and the key's requests in the hourly roll-up. */
async function ledgered(keyId: string): Promise<{ rows: Map<string, number>; rolledUp: number }> {
  const rows = new Map<string, number>();
  for (const { request_id, n } of await db`SELECT request_id, count(*)::int AS n FROM ledger WHERE key_id = ${keyId} GROUP BY 1`) rows.set(request_id, n);
  const [{ requests }] = await db`SELECT COALESCE(sum(requests), 0)::int AS requests FROM usage_hourly WHERE key_id = ${keyId}`;
  return { rows, rolledUp: requests };
}

/** Rows the stream has taken since it was made (XINFO STREAM's entries-added). */
async function entriesAdded(): Promise<number> {
  try {
    return Number(((await redis.command("XINFO", "STREAM", "{sluice}:ledger")) as Record<string, unknown>)["entries-added"]);
  } catch {
    return 0;
  }
}

/** The processes serving a port (`sluice serve` relaunches itself: the one listening is the one to kill). */
function listeningPids(port: number): number[] {
  const out = Bun.spawnSync(["ss", "-Hltnp", `sport = :${port}`]).stdout.toString();
  const pids = [...out.matchAll(/pid=(\d+)/g)].map((match) => Number(match[1]));
  if (!pids.length) throw new Error(`nothing listens on port ${port}: ${out}`);
  return [...new Set(pids)];
}

describe.skipIf(!REDIS_SERVER || !postgresAvailable)("ledger_via: stream, two gateways on one Redis and one PostgreSQL", () => {
  beforeAll(async () => {
    [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
    dbUrl = await pg.createDatabase("ledger_stream");
    db = new SQL(dbUrl);
    engine = startCountingEngine();
    b = await startGateway();
  }, 60_000);
  afterAll(async () => {
    await b?.stop();
    engine?.stop();
    await db?.close();
    await redis?.stop();
    await pg?.destroy();
  });

  // PostgreSQL is frozen (SIGSTOP) while A answers, so no gateway can write a row then: whatever A held in memory
  // dies with it. B is frozen too until A's drain has read rows from the stream (it then hangs writing them; they
  // wait, unacked, in A's pending list), so B has to take those over from the dead A. Answers how many A held.
  async function killedWhilePostgresHangs(ledgerVia: string): Promise<{ keyId: string; requestIds: string[]; heldByA: number }> {
    const a = await startGateway(ledgerVia);
    const { id, key } = await createKey(a, ADMIN, { name: `killed-${ledgerVia}`, rpm: 100_000 });
    const probe = await chat(a, key); // A has the key cached now
    const requestIds = [probe.headers.get("x-request-id")!];
    await eventually(async () => ((await ledgered(id)).rows.size === 1 ? true : undefined));
    const pids = listeningPids(a.port);
    const bPids = listeningPids(b.port);
    const before = await entriesAdded();
    pg.freeze();
    for (const pid of bPids) process.kill(pid, "SIGSTOP");
    let heldByA = 0;
    try {
      const answers = await Promise.all(Array.from({ length: N }, () => chat(a, key)));
      expect(answers.map((r) => r.status)).toEqual(Array(N).fill(200));
      requestIds.push(...answers.map((r) => r.headers.get("x-request-id")!));
      if (ledgerVia === "stream") {
        // each answer waited for its row to be in the stream: all N are there the moment the answers are
        expect(await entriesAdded()).toBeGreaterThanOrEqual(before + N);
        heldByA = await eventually(async () => Number(((await redis.command("XPENDING", "{sluice}:ledger", "ledger")) as [number])[0]) || undefined, 2_000);
      }
    } finally {
      for (const pid of pids) process.kill(pid, "SIGKILL");
      await a.stop();
      for (const pid of bPids) process.kill(pid, "SIGCONT");
      pg.thaw();
    }
    return { keyId: id, requestIds, heldByA };
  }
  const N = 60;

  test("a gateway SIGKILLed right after answering loses no row: the other writes each one once", async () => {
    const { keyId, requestIds, heldByA } = await killedWhilePostgresHangs("stream");
    expect(heldByA).toBeGreaterThan(0);
    const written = await eventually(async () => {
      const seen = await ledgered(keyId);
      return seen.rows.size === N + 1 && seen.rolledUp === N + 1 ? seen : undefined;
    }, 15_000);
    expect([...written.rows.keys()].sort()).toEqual([...requestIds].sort());
    expect([...written.rows.values()].every((n) => n === 1)).toBe(true);
    expect(written.rolledUp).toBe(N + 1); // the roll-ups count each row once too
    const metrics = await (await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    expect(Number(/sluice_ledger_stream_claimed_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(heldByA); // taken over from A
    // Nothing is left in the stream: written rows are acked and deleted.
    await eventually(async () => (Number(await redis.command("XLEN", "{sluice}:ledger")) === 0 ? true : undefined), 5_000);
  }, 30_000);

  test("the same kill with the batched path (the default) loses the rows A held", async () => {
    const { keyId } = await killedWhilePostgresHangs("batch");
    await Bun.sleep(500);
    expect((await ledgered(keyId)).rows.size).toBe(1); // the probe, written before PostgreSQL hung
  }, 30_000);

  test("while Redis is down rows take the batched path, and none is lost", async () => {
    const { id, key } = await createKey(b, ADMIN, { name: "redis-down", rpm: 100_000 });
    expect((await chat(b, key)).status).toBe(200);
    // the answer waited for its row to be in the stream; this Redis keeps no journal, so the row must reach
    // PostgreSQL before Redis is killed (an operator who needs rows to outlive Redis itself turns on appendonly)
    await eventually(async () => ((await ledgered(id)).rows.size === 1 ? true : undefined), 10_000);
    await redis.kill();
    let statuses: number[];
    try {
      statuses = [];
      for (let i = 0; i < 10; i++) statuses.push((await chat(b, key)).status);
      const metrics = await (await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
      expect(metrics).toMatch(/sluice_ledger_stream_bypassed_total [1-9]/);
    } finally {
      await redis.start();
    }
    expect(statuses).toEqual(Array(10).fill(200)); // rate limits fall back to local (on_failure's default)
    const redisUp = async () => (await (await fetch(`${b.url}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } })).text()).includes("sluice_limits_redis_up 1");
    await eventually(async () => ((await redisUp()) ? true : undefined), 10_000);
    expect((await chat(b, key)).status).toBe(200); // through the stream again (made anew in the restarted Redis)
    await eventually(async () => ((await ledgered(id)).rows.size === 12 ? true : undefined), 10_000);
    const seen = await ledgered(id);
    expect([...seen.rows.values()].every((n) => n === 1)).toBe(true);
    expect(seen.rolledUp).toBe(12);
  }, 30_000);
});
