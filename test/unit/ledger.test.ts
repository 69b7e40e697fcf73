import { afterAll, afterEach, describe, expect, spyOn, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openDatabase } from "../../src/store/database.ts";
import { LedgerWriter, type LedgerRow } from "../../src/store/ledger.ts";

const dir = mkdtempSync(join(tmpdir(), "sluice-ledger-"));
const opened: Database[] = [];
let fileCount = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

function freshFile(): string {
  return join(dir, `ledger-${++fileCount}.db`);
}

function open(file: string): Database {
  const db = openDatabase(file);
  opened.push(db);
  return db;
}

function row(requestId: string, overrides: Partial<LedgerRow> = {}): LedgerRow {
  return {
    requestId,
    keyId: "key_a",
    model: "qwen",
    backend: "qwen",
    route: null,
    endpoint: "chat",
    status: 200,
    errorCode: null,
    promptTokens: 10,
    completionTokens: 20,
    tokensEstimated: false,
    costMicros: 123,
    billingBasis: "gpu_time",
    stream: true,
    startedAt: 1_750_000_000_000,
    totalMs: 12.5,
    upstreamMs: 11,
    queuedMs: 0.25,
    ttftMs: null,
    firewall: null,
    firewallVerdict: null,
    firewallRules: null,
    firewallMs: null,
    toolsMs: null,
    ...overrides,
  };
}

function count(db: Database): number {
  return (db.query("SELECT COUNT(*) AS n FROM ledger").get() as { n: number }).n;
}

async function until(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(2);
  }
}

// A long interval and batch keep the timer out of the way in tests that flush by hand.
const MANUAL = { batchSize: 10_000, flushIntervalMs: 60_000 };

describe("LedgerWriter", () => {
  test("append only queues (no I/O); rows appear after flush, with every column", () => {
    const db = open(freshFile());
    const writer = new LedgerWriter(db, MANUAL);
    for (let i = 0; i < 500; i++) writer.append(row(`r${i}`));
    expect(writer.pending).toBe(500);
    expect(count(db)).toBe(0);
    writer.flush();
    expect(writer.pending).toBe(0);
    expect(count(db)).toBe(500);
    expect(db.query("SELECT * FROM ledger WHERE request_id = 'r7'").get()).toEqual({
      request_id: "r7",
      key_id: "key_a",
      model: "qwen",
      backend: "qwen",
      route: null,
      endpoint: "chat",
      status: 200,
      error_code: null,
      prompt_tokens: 10,
      completion_tokens: 20,
      tokens_estimated: 0,
      cost_micros: 123,
      billing_basis: "gpu_time",
      stream: 1,
      started_at: 1_750_000_000_000,
      total_ms: 12.5,
      upstream_ms: 11,
      queued_ms: 0.25,
      ttft_ms: null,
      firewall: null,
      firewall_verdict: null,
      firewall_rules: null,
      firewall_ms: null,
      tools_ms: null,
      detail: null,
    });
    writer.close();
  });

  test("append does no I/O even while another connection holds the write lock", () => {
    const file = freshFile();
    const db = open(file);
    const other = open(file);
    other.run("BEGIN IMMEDIATE");
    const writer = new LedgerWriter(db, MANUAL);
    // A write here would wait for the lock and then throw SQLITE_BUSY; appends only queue.
    for (let i = 0; i < 1000; i++) writer.append(row(`r${i}`));
    expect(writer.pending).toBe(1000);
    other.run("ROLLBACK");
    writer.close();
    expect(count(db)).toBe(1000);
  });

  test("the interval timer flushes without being asked", async () => {
    const db = open(freshFile());
    const writer = new LedgerWriter(db, { flushIntervalMs: 5 });
    writer.append(row("a"));
    writer.append(row("b"));
    expect(count(db)).toBe(0);
    await until(() => writer.pending === 0);
    expect(count(db)).toBe(2);
    writer.close();
  });

  test("reaching batchSize flushes at once instead of waiting for the interval", async () => {
    const db = open(freshFile());
    const writer = new LedgerWriter(db, { batchSize: 3, flushIntervalMs: 60_000 });
    writer.append(row("a"));
    writer.append(row("b"));
    await Bun.sleep(20);
    expect(writer.pending).toBe(2);
    writer.append(row("c"));
    expect(count(db)).toBe(0); // still off the caller's path: the flush runs on the next turn of the event loop
    await until(() => writer.pending === 0);
    expect(count(db)).toBe(3);
    writer.close();
  });

  test("a batch is one transaction: a row that fails leaves none of its batch written, and the batch is retried", () => {
    const db = open(freshFile());
    const writer = new LedgerWriter(db, MANUAL);
    const errors = spyOn(console, "error").mockImplementation(() => {});
    db.run("CREATE TEMP TRIGGER poison BEFORE INSERT ON main.ledger WHEN NEW.request_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poison row'); END");
    try {
      writer.append(row("a"));
      writer.append(row("b"));
      writer.append(row("poison"));
      writer.flush();
      expect(count(db)).toBe(0);
      expect(writer.pending).toBe(3);
      db.run("DROP TRIGGER poison");
      writer.flush();
      expect(count(db)).toBe(3);
      expect(writer.pending).toBe(0);
    } finally {
      errors.mockRestore();
      writer.close();
    }
  });

  test("a flush writes each queued row once; the next flush writes only what came after", () => {
    const db = open(freshFile());
    const writer = new LedgerWriter(db, MANUAL);
    writer.append(row("first"));
    writer.flush();
    writer.flush();
    writer.append(row("second"));
    writer.flush();
    expect(db.query("SELECT request_id FROM ledger ORDER BY rowid").all()).toEqual([{ request_id: "first" }, { request_id: "second" }]);
    writer.close();
  });

  test("a locked database keeps rows queued, logs once, restores the busy timeout, and the retry writes them", async () => {
    const file = freshFile();
    const db = open(file);
    const other = open(file);
    const errors = spyOn(console, "error").mockImplementation(() => {});
    const writer = new LedgerWriter(db, { batchSize: 10_000, flushIntervalMs: 5, lockWaitMs: 0 });
    try {
      other.run("BEGIN IMMEDIATE");
      writer.append(row("a"));
      writer.append(row("b"));
      writer.flush();
      writer.flush();
      expect(writer.pending).toBe(2);
      expect(count(db)).toBe(0);
      expect(errors).toHaveBeenCalledTimes(1);
      expect(String(errors.mock.calls[0]?.[0])).toContain("SQLITE_BUSY");
      expect(db.query("PRAGMA busy_timeout").get()).toEqual({ timeout: 5000 });

      other.run("COMMIT");
      await until(() => writer.pending === 0); // the retry timer, not another append, writes them
      expect(count(db)).toBe(2);
    } finally {
      errors.mockRestore();
      writer.close();
    }
  });

  test("close flushes what is queued, and appends after close are written at once", () => {
    const db = open(freshFile());
    const writer = new LedgerWriter(db, MANUAL);
    writer.append(row("before"));
    writer.close();
    expect(count(db)).toBe(1);
    writer.append(row("after"));
    expect(writer.pending).toBe(0);
    expect(count(db)).toBe(2);
  });

  test("queued rows never keep the process alive", () => {
    const file = freshFile();
    open(file);
    const script = `
      import { openDatabase } from ${JSON.stringify(resolve(import.meta.dir, "../../src/store/database.ts"))};
      import { LedgerWriter } from ${JSON.stringify(resolve(import.meta.dir, "../../src/store/ledger.ts"))};
      const writer = new LedgerWriter(openDatabase(${JSON.stringify(file)}), { flushIntervalMs: 60_000 });
      writer.append(${JSON.stringify(row("x"))});
    `;
    // A process kept alive by the 60 s timer would be killed at the timeout and not exit with 0.
    const result = Bun.spawnSync([process.execPath, "-e", script], { timeout: 4_000 });
    expect(result.exitCode).toBe(0);
  });
});

test("a large flush (multi-row inserts plus a remainder) writes every row with its own values, in order", () => {
  const db = open(freshFile());
  const writer = new LedgerWriter(db, { batchSize: 1_000, flushIntervalMs: 60_000 });
  for (let i = 0; i < 75; i++) writer.append(row(`bulk-${i}`, { status: 200 + (i % 3), promptTokens: i, firewall: i % 2 ? "fw" : null }));
  writer.flush();
  const rows = db.query("SELECT request_id, status, prompt_tokens, firewall FROM ledger ORDER BY rowid").all() as { request_id: string; status: number; prompt_tokens: number; firewall: string | null }[];
  expect(rows.length).toBe(75);
  rows.forEach((r, i) => expect(r).toEqual({ request_id: `bulk-${i}`, status: 200 + (i % 3), prompt_tokens: i, firewall: i % 2 ? "fw" : null }));
});
