// The roll-ups on a real SQLite file: what the ledger writer accumulates equals what a catch-up from the raw rows
// computes, a crash between the row insert and the roll-up write is repaired at the next open, and retention
// deletes raw rows while the roll-ups keep their sums.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "bun:sqlite";
import { openDatabase } from "../../src/store/database.ts";
import { LedgerWriter, type LedgerRow } from "../../src/store/ledger.ts";
import { binOf, binValueMs, catchUp, pruneLedger } from "../../src/store/rollups.ts";
import { histogramPercentiles } from "../../src/api/dashboard-overview.ts";
import { requestDetail } from "../../src/api/dashboard-requests.ts";
import { seededRandom } from "../support/random.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function storeFile(): string {
  const dir = mkdtempSync(join(tmpdir(), "sluice-rollups-"));
  dirs.push(dir);
  return join(dir, "sluice.db");
}

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);

function rows(count: number, seed = 7): LedgerRow[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const failed = random() < 0.1;
    const stream = random() < 0.5;
    const totalMs = 5 + random() * 3000;
    return {
      requestId: `req-${seed}-${i}`,
      keyId: random() < 0.1 ? null : `key_${Math.floor(random() * 4)}`,
      model: ["echo", "qwen", "public:deepseek"][Math.floor(random() * 3)]!,
      backend: failed && random() < 0.5 ? null : "echo",
      route: null,
      endpoint: "chat",
      status: failed ? 502 : 200,
      errorCode: failed ? (random() < 0.5 ? "upstream_error" : null) : null,
      promptTokens: Math.floor(random() * 500),
      completionTokens: Math.floor(random() * 300),
      tokensEstimated: false,
      costMicros: Math.floor(random() * 900),
      billingBasis: "tokens",
      stream,
      // 40 days back to now, in order, so rows fall into many hours and days.
      startedAt: Math.floor(NOW - 40 * DAY + (i / count) * 40 * DAY),
      totalMs,
      upstreamMs: totalMs * 0.9,
      queuedMs: null,
      ttftMs: stream ? totalMs * 0.2 : null,
      firewall: null,
      firewallVerdict: null,
      firewallRules: null,
      firewallMs: null,
      toolsMs: null,
    } satisfies LedgerRow;
  });
}

function rollupTables(db: Database) {
  const dump = (table: string) => db.query(`SELECT * FROM ${table} ORDER BY 1, 2, 3, 4`).all();
  return Object.fromEntries(["usage_hourly", "usage_daily", "errors_hourly", "errors_daily", "latency_hourly", "latency_daily"].map((t) => [t, dump(t)]));
}

function writeAll(db: Database, all: LedgerRow[], batch: number): void {
  const writer = new LedgerWriter(db, { batchSize: 1 << 30, flushIntervalMs: 1 << 30 });
  for (let i = 0; i < all.length; i += batch) {
    for (const row of all.slice(i, i + batch)) writer.append(row);
    writer.flush();
  }
  writer.close();
}

describe("roll-ups", () => {
  test("the writer's accumulated sums equal a catch-up computed from the raw rows", () => {
    const all = rows(3000);
    const live = openDatabase(storeFile());
    writeAll(live, all, 97);
    const fromWriter = rollupTables(live);
    expect((fromWriter.usage_hourly as unknown[]).length).toBeGreaterThan(100);

    // The same rows in other batches, the roll-ups emptied, then summed again by the start-up catch-up.
    const rebuilt = openDatabase(storeFile());
    writeAll(rebuilt, all, 500);
    for (const table of Object.keys(fromWriter)) rebuilt.run(`DELETE FROM ${table}`);
    rebuilt.run("UPDATE rollup_watermark SET ledger_rowid = 0");
    rebuilt.transaction(() => catchUp(rebuilt))();
    expect(rollupTables(rebuilt)).toEqual(fromWriter);

    const total = live.query("SELECT SUM(requests) AS n, SUM(cost_micros) AS c FROM usage_daily").get();
    expect(total).toEqual(live.query("SELECT COUNT(*) AS n, SUM(cost_micros) AS c FROM ledger").get());
    live.close();
    rebuilt.close();
  });

  test("rows written but not yet rolled up (a crash) are summed at the next open, and only once", () => {
    const file = storeFile();
    const db = openDatabase(file);
    const all = rows(800, 11);
    const writer = new LedgerWriter(db, { batchSize: 1 << 30, flushIntervalMs: 1 << 30 });
    for (const row of all.slice(0, 400)) writer.append(row);
    writer.flush(true); // rows and roll-ups written
    for (const row of all.slice(400)) writer.append(row);
    writer.flush(); // rows written; the sums stay in memory (the interval has not passed) — then the process dies
    expect((db.query("SELECT SUM(requests) AS n FROM usage_daily").get() as { n: number }).n).toBe(400);
    db.close();

    const reopened = openDatabase(file);
    expect((reopened.query("SELECT SUM(requests) AS n FROM usage_daily").get() as { n: number }).n).toBe(800);
    reopened.close();
    const again = openDatabase(file);
    expect((again.query("SELECT SUM(requests) AS n FROM usage_hourly").get() as { n: number }).n).toBe(800);
    again.close();
  });

  test("a store with ledger rows from before the roll-ups gets them filled on open", () => {
    const file = storeFile();
    const db = openDatabase(file);
    writeAll(db, rows(500, 3), 100);
    for (const table of ["usage_hourly", "usage_daily", "errors_hourly", "errors_daily", "latency_hourly", "latency_daily", "rollup_watermark", "schema_migrations"]) db.run(`DROP TABLE ${table}`); // as a file from then: no versions either
    db.close();
    const reopened = openDatabase(file);
    expect((reopened.query("SELECT SUM(requests) AS n FROM usage_hourly").get() as { n: number }).n).toBe(500);
    reopened.close();
  });

  test("retention deletes raw rows past storage.retention_days in chunks; the roll-ups keep their sums", () => {
    const db = openDatabase(storeFile());
    const all = rows(2000, 5);
    writeAll(db, all, 250);
    const before = db.query("SELECT SUM(requests) AS n FROM usage_daily").get();
    let deleted = 0;
    for (let turn = 0; turn < 10; turn++) deleted += pruneLedger(db, 30, NOW);
    const cutoff = NOW - 30 * DAY;
    expect(deleted).toBe(all.filter((r) => r.startedAt < cutoff).length);
    expect((db.query("SELECT COUNT(*) AS n FROM ledger WHERE started_at < ?").get(cutoff) as { n: number }).n).toBe(0);
    expect(db.query("SELECT SUM(requests) AS n FROM usage_daily").get()).toEqual(before);
    db.close();
  });

  test("the writer prunes by itself when a retention is set", () => {
    const db = openDatabase(storeFile());
    const old = rows(300, 9).map((r) => ({ ...r, startedAt: Date.now() - 90 * DAY }));
    const fresh = rows(10, 10).map((r) => ({ ...r, startedAt: Date.now() }));
    const writer = new LedgerWriter(db, { retentionDays: () => 30, batchSize: 1 << 30, flushIntervalMs: 1 << 30 });
    for (const row of [...old, ...fresh]) writer.append(row);
    writer.flush();
    writer.close();
    expect((db.query("SELECT COUNT(*) AS n FROM ledger").get() as { n: number }).n).toBe(10);
    expect((db.query("SELECT SUM(requests) AS n FROM usage_daily").get() as { n: number }).n).toBe(310);
    db.close();
  });

  test("latency bins put a value within ±19 % of the percentile they report", () => {
    for (const ms of [0.2, 1, 3, 17, 250, 1234, 9000, 60000]) {
      const reported = binValueMs(binOf(ms));
      if (ms >= 1) expect(Math.abs(reported - ms) / ms).toBeLessThan(0.19);
    }
    const bins = [{ bin: binOf(100), requests: 90 }, { bin: binOf(2000), requests: 10 }];
    const p = histogramPercentiles(bins);
    expect(p.p50).toBeCloseTo(binValueMs(binOf(100)), 1);
    expect(p.p95).toBeCloseTo(binValueMs(binOf(2000)), 1);
    expect(histogramPercentiles([])).toEqual({ p50: null, p95: null });
  });
});

test("a request's detail carries the routing, processor and tool reports its row recorded", () => {
  const db = openDatabase(storeFile());
  const [plain, reported] = rows(2, 21);
  const detail = { routing: { task: "code_generation", model: "echo", scores: [{ model: "echo", score: 0.8 }] }, inferada: { processors: [{ name: "redact" }] }, tool_runs: [{ type: "search", name: "search", ms: 12 }] };
  const writer = new LedgerWriter(db);
  writer.append(plain!);
  writer.append({ ...reported!, detail });
  writer.close();
  expect(requestDetail(db, plain!.requestId, plain!.startedAt, undefined)).toMatchObject({ routing: null, inferada: null, tool_runs: null });
  expect(requestDetail(db, reported!.requestId, reported!.startedAt, undefined)).toMatchObject(detail);
  db.close();
});
