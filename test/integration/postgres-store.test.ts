// The PostgreSQL store on a real server of the test's own (test/support/postgres.ts): what the SQLite store does,
// shared by two store instances as two gateways share it, and what happens while the server is away.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { startPostgres, postgresAvailable, type PostgresInstance } from "../support/postgres.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import { POSTGRES_MIGRATIONS } from "../../src/store/postgres/schema.ts";
import type { Store } from "../../src/store/store.ts";
import type { LedgerRow } from "../../src/store/ledger.ts";

let pg: PostgresInstance;
let url: string;
const stores: Store[] = [];

function open(): Store {
  const store = openPostgresStore(url, { retentionDays: () => undefined, ledger: { flushIntervalMs: 10 } });
  stores.push(store);
  return store;
}

function row(i: number, keyId: string | null, overrides: Partial<LedgerRow> = {}): LedgerRow {
  return {
    requestId: `req-${i}`, keyId, model: i % 2 ? "small" : "large", backend: "b1", route: null, endpoint: "chat", status: i % 10 === 0 ? 502 : 200,
    errorCode: i % 10 === 0 ? "upstream_error" : null, promptTokens: 10, completionTokens: 5, tokensEstimated: false, costMicros: 3, billingBasis: "tokens",
    stream: i % 3 === 0, startedAt: Date.now(), totalMs: 20 + (i % 7), upstreamMs: 15, queuedMs: null, ttftMs: i % 3 === 0 ? 4 : null, firewall: null,
    firewallVerdict: null, firewallRules: null, firewallMs: null, toolsMs: null, detail: { routing: { n: i } }, ...overrides,
  };
}

async function eventually<T>(read: () => T | Promise<T>, ok: (value: T) => boolean, deadlineMs = 3_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let value = await read();
  while (!ok(value) && Date.now() < deadline) {
    await Bun.sleep(20);
    value = await read();
  }
  return value;
}

describe.skipIf(!postgresAvailable)("PostgreSQL store", () => {
  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase("store_test");
  });
  afterAll(async () => {
    for (const store of stores) await Promise.resolve(store.close()).catch(() => {});
    await pg?.destroy();
  });

  test("two gateways starting together migrate once, to the latest version", async () => {
    const [a, b] = [open(), open()];
    await Promise.all([a.ready, b.ready]);
    const sql = new SQL(url);
    const versions = await sql`SELECT version FROM schema_migrations ORDER BY version`;
    await sql.close();
    expect(versions.map((v: { version: number }) => v.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
  });

  test("keys: create, find by secret, update, revoke, list; unknown secrets find nothing", async () => {
    const store = open();
    await store.ready;
    const { key, secret } = await store.keys.create({ name: "app", firewall_required: true, allowed_models: ["small"], rpm: 60 });
    expect(await store.keys.findBySecret(secret)).toMatchObject({ id: key.id, name: "app", allowed_models: ["small"], rpm: 60, firewall_required: 1 });
    expect(await store.keys.findBySecret("inf_unknownunknownunknownunknownunknown00")).toBeUndefined();
    expect(await store.keys.update(key.id, { rpm: 120 })).toMatchObject({ rpm: 120 });
    expect((await store.keys.findBySecret(secret))!.rpm).toBe(120);
    const revoked = await store.keys.revoke(key.id);
    expect(revoked!.revoked_at).toBeNumber();
    expect((await store.keys.findBySecret(secret))!.revoked_at).toBe(revoked!.revoked_at);
    expect((await store.keys.list()).map((k) => k.id)).toContain(key.id);
    expect(await store.keys.get("key_nope")).toBeUndefined();
  });

  test("a key changed on one gateway is seen changed on the other (LISTEN/NOTIFY, epoch)", async () => {
    const [a, b] = [open(), open()];
    await Promise.all([a.ready, b.ready]);
    const { key, secret } = await a.keys.create({ name: "shared" });
    expect((await b.keys.findBySecret(secret))?.id).toBe(key.id); // cached on B now
    await a.keys.revoke(key.id);
    const seen = await eventually(() => b.keys.findBySecret(secret), (k) => k?.revoked_at != null);
    expect(seen?.revoked_at).toBeNumber();
    // An account deactivated on A is deactivated on B (accounts are held in memory).
    const account = await a.accounts.create({ name: "team" });
    expect((await b.accounts.find(account.id))?.name).toBe("team"); // an admin check on B finds it before B reloads
    expect(await eventually(() => b.accounts.get(account.id), (found) => found !== undefined)).toBeDefined();
    await a.accounts.update(account.id, { status: "deactivated" });
    expect((await eventually(() => b.accounts.get(account.id), (found) => found?.status === "deactivated"))?.status).toBe("deactivated");
  });

  test("ledger: rows from two gateways are all written; usage, roll-ups and the request log agree", async () => {
    const [a, b] = [open(), open()];
    await Promise.all([a.ready, b.ready]);
    const { key } = await a.keys.create({ name: "ledger" });
    for (let i = 0; i < 3000; i++) (i % 2 ? a : b).ledger.append(row(i, key.id));
    await Promise.all([a.ledger.flush(), b.ledger.flush()]);
    const usage = await a.reads.usage({ keyId: key.id });
    expect(usage.total).toEqual({ requests: 3000, prompt_tokens: 30_000, completion_tokens: 15_000, cost_usd: 0.009 });
    const byModel = await b.reads.usage({ keyId: key.id, groupBy: "model" });
    expect(byModel.data.map((r) => [r.model, r.requests])).toEqual([["large", 1500], ["small", 1500]]);
    const daily = await a.reads.dashboardUsage({ groupBy: "key", fromMs: 0, toMs: Date.now() + 86_400_000, keyId: key.id });
    expect(daily.total.requests).toBe(3000);
    const day = await a.reads.overview("day", key.id, Date.now());
    expect(day.totals).toMatchObject({ requests: 3000, errors: 300 });
    expect(day.errors_by_code).toEqual([{ code: "upstream_error", requests: 300 }]);
    const hour = await b.reads.overview("hour", key.id, Date.now());
    expect(hour.totals.requests).toBe(3000);
    expect(hour.latency_ms.total.p50).toBeNumber();
    const page = (await a.reads.requests({ keyId: key.id, limit: 2 })) as { data: { request_id: string; stream: boolean }[]; next_before: string };
    expect(page.data).toHaveLength(2);
    const [startedAt, rowid] = page.next_before.split(".").map(Number);
    const next = (await a.reads.requests({ keyId: key.id, limit: 2, before: { startedAt: startedAt!, rowid: rowid! } })) as { data: { request_id: string }[] };
    expect(next.data.map((r) => r.request_id)).not.toContain(page.data[1]!.request_id);
    const detail = (await a.reads.requestDetail(page.data[0]!.request_id, undefined, key.id)) as { routing: unknown; stream: boolean };
    expect(detail.routing).toMatchObject({ n: expect.any(Number) });
    const keys = (await a.reads.keysWithUse([key], Date.now())) as { data: { use: { spend_today_usd: number; requests_last_minute: number } }[] };
    expect(keys.data[0]!.use).toMatchObject({ spend_today_usd: 0.009, requests_last_minute: 3000 });
    // The budget figure: what was spent today, read back from the daily roll-up.
    expect(a.spentMicrosSince(key.id, Math.floor(Date.now() / 86_400_000) * 86_400_000)).toBeGreaterThanOrEqual(3000 * 3 / 2);
  });

  test("ledger: a NUL in a client's model name is kept (as U+FFFD); a row PostgreSQL refuses is dropped alone, not its batch", async () => {
    const store = open();
    await store.ready;
    const { key } = await store.keys.create({ name: "odd rows" });
    for (let i = 0; i < 100; i++) store.ledger.append(row(i, key.id, i === 7 ? { model: "evil\u0000model" } : i === 42 ? { startedAt: 1e300 } : {}));
    for (let attempt = 0; attempt < 20 && store.ledger.pending > 0; attempt++) await store.ledger.flush();
    const byModel = await store.reads.usage({ keyId: key.id, groupBy: "model" });
    expect(byModel.total.requests).toBe(99);
    expect(byModel.data.map((r) => r.model)).toContain("evil\uFFFDmodel");
    expect(store.metrics().join("\n")).toContain("sluice_ledger_dropped_total 1");
  });

  test("ledger: a row written twice is stored and rolled up once; version 2 removes the twins a version 1 ledger had", async () => {
    const store = open();
    await store.ready;
    const { key } = await store.keys.create({ name: "twice" });
    const rows = Array.from({ length: 10 }, (_, i) => row(1000 + i, key.id));
    for (const r of rows) store.ledger.append(r);
    await store.ledger.flush();
    for (const r of [...rows.slice(5), ...rows.slice(5), row(2000, key.id)]) store.ledger.append(r); // written before, and twice in one batch
    await store.ledger.flush();
    expect((await store.reads.usage({ keyId: key.id })).total.requests).toBe(11);
    const rolledUp = await store.reads.dashboardUsage({ groupBy: "key", fromMs: 0, toMs: Date.now() + 86_400_000, keyId: key.id });
    expect(rolledUp.total.requests).toBe(11);

    const oldUrl = await pg.createDatabase("version_1");
    const sql = new SQL(oldUrl);
    await sql.unsafe(POSTGRES_MIGRATIONS[0]!.sql);
    await sql`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`;
    await sql`INSERT INTO schema_migrations VALUES (1, 'v1', 0)`;
    const insert = (id: string, at: number) => sql`INSERT INTO ledger (request_id, model, endpoint, status, prompt_tokens, completion_tokens, tokens_estimated, cost_micros, billing_basis, stream, started_at, total_ms)
      VALUES (${id}, 'm', 'chat', 200, 1, 1, 0, 1, 'tokens', 0, ${at}, 1)`;
    await insert("same", 5);
    await insert("same", 5);
    await insert("same", 6); // another instant: another row
    const migrated = openPostgresStore(oldUrl, { retentionDays: () => undefined });
    stores.push(migrated);
    await migrated.ready;
    expect((await sql`SELECT started_at FROM ledger ORDER BY started_at`).map((r: { started_at: string }) => Number(r.started_at))).toEqual([5, 6]);
    await sql.close();
  });

  test("accounts and credits: deposits, batched deductions with the balance after each, hourly roll-up", async () => {
    const store = open();
    await store.ready;
    const account = await store.accounts.create({ name: "acme", budget_usd_daily: 5 });
    expect(store.accounts.get(account.id)).toMatchObject({ name: "acme", budget_usd_daily: 5, status: "active" });
    const deposit = await store.accounts.addTransaction(account.id, "deposit", 1_000_000, "first");
    expect(deposit).toMatchObject({ kind: "deposit", amount_micros: 1_000_000, balance_micros: 1_000_000 });
    const now = Date.now();
    store.accounts.writeDeductions([
      { accountId: account.id, micros: 100, requestId: "r1", keyId: null, note: null, atMs: now },
      { accountId: account.id, micros: 50, requestId: "r2", keyId: null, note: null, atMs: now },
    ]);
    expect(store.accounts.balanceMicros(account.id)).toBe(999_850); // queued deductions count at once
    const rows = await store.accounts.transactions({ accountId: account.id, limit: 10 });
    expect(rows.map((r) => [r.kind, r.amount_micros, r.balance_micros])).toEqual([["deduction", -50, 999_850], ["deduction", -100, 999_900], ["deposit", 1_000_000, 1_000_000]]);
    const hourly = await store.accounts.transactions({ accountId: account.id, limit: 10, hourly: true });
    expect(hourly[0]).toMatchObject({ kind: "deduction", amount_micros: -150, requests: 2 });
    expect(store.accounts.balanceMicros(account.id)).toBe(999_850);
    expect(store.accounts.deductedSince(account.id, Math.floor(now / 86_400_000) * 86_400_000)).toBe(150);
    expect((await store.accounts.list()).map((a) => a.id)).toContain(account.id);
  });

  test("stored Responses belong to their key and can be deleted", async () => {
    const [a, b] = [open(), open()];
    await Promise.all([a.ready, b.ready]);
    await a.responses.save("resp_1", "key_a", { response: { id: "resp_1", output: [] }, messages: [{ role: "user", content: "hi" }] });
    expect(await b.responses.get("resp_1", "key_a")).toEqual({ response: { id: "resp_1", output: [] }, messages: [{ role: "user", content: "hi" }] });
    expect(await b.responses.get("resp_1", "key_b")).toBeUndefined();
    expect(await b.responses.delete("resp_1", "key_b")).toBe(false);
    expect(await b.responses.delete("resp_1", "key_a")).toBe(true);
    expect(await a.responses.get("resp_1", "key_a")).toBeUndefined();
  });

  test("PostgreSQL hung (SIGSTOP): a cached key answers at once, an unknown one gets a 503 (then at once), rows wait", async () => {
    const store = open();
    await store.ready;
    const { key, secret } = await store.keys.create({ name: "frozen" });
    expect((await store.keys.findBySecret(secret))?.id).toBe(key.id);
    pg.freeze();
    try {
      expect((await store.keys.findBySecret(secret))?.id).toBe(key.id);
      const code = (secret: string) => Promise.resolve(store.keys.findBySecret(secret)).then(() => "found", (error: { code?: string }) => error.code);
      expect(await code("inf_frozenfrozenfrozenfrozenfrozenfrozen01")).toBe("store_unavailable"); // after the 2 s deadline
      expect(await code("inf_frozenfrozenfrozenfrozenfrozenfrozen02")).toBe("store_unavailable"); // known down: no wait
      for (let i = 0; i < 100; i++) store.ledger.append(row(i, key.id));
      expect(store.ledger.pending).toBe(100);
    } finally {
      pg.thaw();
    }
    const usage = await eventually(() => Promise.resolve(store.reads.usage({ keyId: key.id })).catch(() => undefined), (u) => u?.total.requests === 100, 15_000);
    expect(usage?.total.requests).toBe(100);
  }, 30_000);

  // Last: it stops the server.
  test("PostgreSQL away: cached keys still work, unknown ones get a 503, rows wait and are written when it returns", async () => {
    const store = open();
    await store.ready;
    const { key, secret } = await store.keys.create({ name: "outage" });
    expect((await store.keys.findBySecret(secret))?.id).toBe(key.id);
    await pg.stop();
    try {
      expect((await store.keys.findBySecret(secret))?.id).toBe(key.id);
      const unknown = await Promise.resolve(store.keys.findBySecret("inf_notcachednotcachednotcachednotcached0")).then(
        () => "found",
        (error: { code?: string }) => error.code,
      );
      expect(unknown).toBe("store_unavailable");
      for (let i = 0; i < 500; i++) store.ledger.append(row(i, key.id));
      await store.ledger.flush(); // fails and keeps them; never throws
      expect(store.ledger.pending).toBe(500);
      expect(store.metrics().join("\n")).toContain("sluice_store_up 0");
    } finally {
      await pg.start();
    }
    const usage = await eventually(() => Promise.resolve(store.reads.usage({ keyId: key.id })).catch(() => undefined), (u) => u?.total.requests === 500, 15_000);
    expect(usage?.total.requests).toBe(500);
    expect(store.ledger.pending).toBe(0);
  }, 30_000);
});
