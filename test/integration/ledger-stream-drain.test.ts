// The two halves of storage.ledger_via: stream in this process, on a redis-server and a PostgreSQL of the test's
// own: FINISH adding rows to the stream (and leaving them to the batched ledger when it is full or Redis is down),
// and the drain (src/store/postgres/ledger-stream.ts) writing them once, taking over a stopped gateway's entries.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { Limits } from "../../src/pipeline/admission.ts";
import { RedisLimits } from "../../src/limits/redis-limits.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import { LEDGER_GROUP } from "../../src/store/postgres/ledger-stream.ts";
import type { LedgerRow } from "../../src/store/ledger.ts";
import type { Ledger, Store } from "../../src/store/store.ts";
import { REDIS_SERVER, startRedis, type TestRedis } from "../support/redis-server.ts";
import { postgresAvailable, startPostgres, type PostgresInstance } from "../support/postgres.ts";
import { eventually } from "../support/gateway.ts";

let redis: TestRedis;
let pg: PostgresInstance;
let url: string;
let db: SQL;
let prefixes = 0;
const closing: (() => unknown)[] = [];

beforeAll(async () => {
  if (!REDIS_SERVER || !postgresAvailable) return;
  [redis, pg] = await Promise.all([startRedis(), startPostgres()]);
  url = await pg.createDatabase("drain");
  db = new SQL(url);
});
afterAll(async () => {
  for (const close of closing.reverse()) await Promise.resolve(close()).catch(() => {});
  await db?.close();
  await redis?.stop();
  await pg?.destroy();
});

function row(requestId: string, keyId: string): LedgerRow {
  return {
    requestId, keyId, model: "m", backend: "b", route: null, endpoint: "chat", status: 200, errorCode: null, promptTokens: 5, completionTokens: 3,
    tokensEstimated: false, costMicros: 7, billingBasis: "tokens", stream: false, startedAt: Date.now(), totalMs: 12.5, upstreamMs: 10, queuedMs: null,
    ttftMs: null, firewall: null, firewallVerdict: null, firewallRules: null, firewallMs: null, toolsMs: null, detail: { routing: { decision: "direct" } },
  };
}

class ArrayLedger implements Ledger {
  readonly rows: LedgerRow[] = [];
  pending = 0;
  append(row: LedgerRow): void {
    this.rows.push(row);
  }
  flush(): void {}
  close(): void {}
}

function limitsWithStream(prefix: string, maxRows: number, batched: Ledger): RedisLimits {
  const service = new RedisLimits(
    { url: redis.url, timeoutMs: 300, heartbeatMs: 50, leaseMs: 10_000, pollMs: 50, prefix, windowMs: 60_000, onFailure: { rate: "local", concurrency: "local", budget: "closed" }, ledgerStream: { batched, maxRows } },
    new Limits(() => 0),
    { keySpent: () => 0, accountSpent: () => 0 },
  );
  closing.push(() => service.close());
  return service;
}

function drainingStore(prefix: string): Store {
  const store = openPostgresStore(url, { retentionDays: () => undefined, ledger: { flushIntervalMs: 10 }, ledgerStream: { url: redis.url, prefix, timeoutMs: 500, heartbeatMs: 50, claimIdleMs: 300 } });
  closing.push(() => store.close());
  return store;
}

async function rowsOf(keyId: string): Promise<{ ids: string[]; rolledUp: number }> {
  const ids = (await db`SELECT request_id FROM ledger WHERE key_id = ${keyId} ORDER BY request_id`).map((r: { request_id: string }) => r.request_id);
  const [{ requests }] = await db`SELECT COALESCE(sum(requests), 0)::int AS requests FROM usage_hourly WHERE key_id = ${keyId}`;
  return { ids, rolledUp: requests };
}

const metric = (store: Store, name: string) => Number(store.metrics().find((line) => line.startsWith(`${name} `))?.split(" ")[1]);

describe.skipIf(!REDIS_SERVER || !postgresAvailable)("ledger stream", () => {
  test("FINISH adds a request's row with its settle; past maxRows, and while Redis is down, rows go to the batched ledger", async () => {
    const prefix = `{s${++prefixes}}:`;
    const batched = new ArrayLedger();
    const limits = limitsWithStream(prefix, 3, batched);
    const rows = ["r1", "r2", "r3", "r4"].map((id) => row(id, "k-finish"));
    for (const r of rows) {
      const admission = await limits.admit({ key: null, backend: undefined, promptTokensBound: 1, maxTokens: 1, signal: undefined });
      const handoff = admission.finish(8, 7, r.requestId, r); // taken: it goes with the settle
      expect(handoff).toBeInstanceOf(Promise);
      await handoff; // settles once the row is in the stream (or, past maxRows, in the batched ledger)
    }
    const alone = limits.appendLedgerRow(row("alone", "k-finish")); // refused before admission: a row alone
    expect(alone).toBeInstanceOf(Promise);
    await alone;
    await eventually(() => (batched.rows.length === 2 ? true : undefined));
    expect(Number(await redis.command("XLEN", `${prefix}ledger`))).toBe(3);
    expect(batched.rows.map((r) => r.requestId).sort()).toEqual(["alone", "r4"]);
    const entries = (await redis.command("XRANGE", `${prefix}ledger`, "-", "+")) as [string, string[]][];
    expect(entries.map(([, fields]) => (JSON.parse(fields[1]!) as LedgerRow).requestId)).toEqual(["r1", "r2", "r3"]);
    expect(JSON.parse(entries[0]![1][1]!)).toEqual(rows[0]);

    await redis.kill();
    try {
      await eventually(() => (limits.connection.healthy ? undefined : true));
      const admission = await limits.admit({ key: null, backend: undefined, promptTokensBound: 1, maxTokens: 1, signal: undefined });
      expect(admission.finish(8, 7, "local", row("local", "k-finish"))).toBe(false); // admitted locally: the caller appends it
      expect(limits.appendLedgerRow(row("alone-down", "k-finish"))).toBe(false);
    } finally {
      await redis.start();
    }
  });

  test("the drain writes each row once, takes over what a stopped gateway read, and drops what is not a row", async () => {
    const prefix = `{s${++prefixes}}:`;
    const stream = `${prefix}ledger`;
    const keyId = "k-drain";
    const rows = Array.from({ length: 20 }, (_, i) => row(`d${String(i).padStart(2, "0")}`, keyId));
    await redis.command("XGROUP", "CREATE", stream, LEDGER_GROUP, "0", "MKSTREAM");
    for (const r of rows.slice(0, 12)) await redis.command("XADD", stream, "*", "row", JSON.stringify(r));
    // A gateway read the first 5 and was killed before writing them: they wait in its pending list.
    await redis.command("XREADGROUP", "GROUP", LEDGER_GROUP, "dead-gateway", "COUNT", "5", "STREAMS", stream, ">");
    await redis.command("XADD", stream, "*", "row", "{not json");
    // Rows that reached PostgreSQL by the batched path too (a call that timed out but ran) count once.
    for (const r of rows.slice(12)) await redis.command("XADD", stream, "*", "row", JSON.stringify(r));
    const store = drainingStore(prefix);
    await store.ready;
    for (const r of rows.slice(15)) store.ledger.append(r);
    await store.ledger.flush();

    const written = await eventually(async () => {
      const seen = await rowsOf(keyId);
      return seen.ids.length === 20 && Number(await redis.command("XLEN", stream)) === 0 ? seen : undefined;
    }, 5_000);
    expect(written.ids).toEqual(rows.map((r) => r.requestId));
    expect(written.rolledUp).toBe(20);
    expect(metric(store, "sluice_ledger_stream_claimed_total")).toBe(5);
    expect(metric(store, "sluice_ledger_stream_written_total")).toBe(20);
    expect(metric(store, "sluice_ledger_stream_bypassed_total")).toBe(5);
    const [, , , consumers] = (await redis.command("XPENDING", stream, LEDGER_GROUP)) as [number, unknown, unknown, unknown];
    expect(consumers).toBeNull(); // nothing left unacked
    // The stopped gateway's consumer, holding nothing now, is removed from the group after a while.
    const names = async () => ((await redis.command("XINFO", "CONSUMERS", stream, LEDGER_GROUP)) as { name: string }[]).map((c) => c.name);
    await eventually(async () => (!(await names()).includes("dead-gateway") ? true : undefined), 3_000);
  });
});
