// Versioned migrations of the SQLite store: a file from before schema_migrations existed (and before accounts,
// roll-ups, stored Responses and the later key and ledger columns) opens, gains all of it, and keeps its rows.
import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, SQLITE_MIGRATIONS } from "../../src/store/database.ts";
import { KeyStore } from "../../src/auth/key-store.ts";
import { hashSecret, newSecret } from "../../src/auth/key-record.ts";
import { queryUsage } from "../../src/store/usage.ts";

const dir = mkdtempSync(join(tmpdir(), "sluice-migrations-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The store as the first releases wrote it: keys and the ledger, nothing else. */
function oldStore(file: string, secret: string): void {
  const db = new Database(file, { create: true });
  db.run(`CREATE TABLE api_keys (id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, scopes TEXT NOT NULL,
    allowed_models TEXT, allowed_ips TEXT, rpm INTEGER, tpm INTEGER, max_concurrent INTEGER, queue_timeout_ms INTEGER, budget_usd_daily REAL,
    budget_usd_monthly REAL, routing TEXT, firewall TEXT, expires_at INTEGER, created_at INTEGER NOT NULL, revoked_at INTEGER)`);
  db.run(`CREATE TABLE ledger (request_id TEXT NOT NULL, key_id TEXT, model TEXT NOT NULL, backend TEXT, route TEXT, endpoint TEXT NOT NULL,
    status INTEGER NOT NULL, error_code TEXT, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, tokens_estimated INTEGER NOT NULL,
    cost_micros INTEGER NOT NULL, billing_basis TEXT NOT NULL, stream INTEGER NOT NULL, started_at INTEGER NOT NULL, total_ms REAL NOT NULL,
    upstream_ms REAL, queued_ms REAL, ttft_ms REAL)`);
  db.query("INSERT INTO api_keys (id, name, hash, prefix, scopes, created_at) VALUES ('key_old', 'old', ?, ?, '[\"chat\"]', 1700000000)").run(hashSecret(secret), secret.slice(0, 12));
  for (let i = 0; i < 3; i++) {
    db.query("INSERT INTO ledger VALUES (?, 'key_old', 'm', 'b', NULL, 'chat', 200, NULL, 10, 5, 0, 7, 'tokens', 0, ?, 12.5, 10, NULL, NULL)").run(`r${i}`, 1_700_000_000_000 + i);
  }
  db.close();
}

const columns = (db: Database, table: string) => (db.query(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);

describe("SQLite migrations", () => {
  test("a file from before versioned migrations reaches the latest version and keeps its keys and ledger", () => {
    const file = join(dir, "old.db");
    const secret = newSecret();
    oldStore(file, secret);
    const db = openDatabase(file);
    const versions = db.query("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[];
    expect(versions.map((v) => v.version)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
    expect(columns(db, "api_keys")).toEqual(expect.arrayContaining(["processors", "firewall_required", "tools", "account_id"]));
    expect(columns(db, "ledger")).toEqual(expect.arrayContaining(["firewall", "firewall_verdict", "firewall_rules", "firewall_ms", "tools_ms", "detail"]));
    for (const table of ["accounts", "credit_transactions", "stored_responses", "usage_hourly", "usage_daily", "rollup_watermark"]) expect(columns(db, table).length).toBeGreaterThan(0);
    // The old key still authenticates, with the new columns at their defaults.
    const key = new KeyStore(db).findBySecret(secret);
    expect(key).toMatchObject({ id: "key_old", firewall_required: 0, processors: null, account_id: null });
    // The old rows are in the usage report and in the roll-ups (summed on open).
    expect(queryUsage(db, {}).total).toMatchObject({ requests: 3, prompt_tokens: 30, completion_tokens: 15 });
    expect((db.query("SELECT SUM(requests) AS n FROM usage_daily").get() as { n: number }).n).toBe(3);
    db.close();
  });

  test("opening again applies nothing twice and counts nothing twice", () => {
    const file = join(dir, "twice.db");
    oldStore(file, newSecret());
    openDatabase(file).close();
    const db = openDatabase(file);
    expect((db.query("SELECT COUNT(*) AS n FROM schema_migrations").get() as { n: number }).n).toBe(SQLITE_MIGRATIONS.length);
    expect((db.query("SELECT SUM(requests) AS n FROM usage_daily").get() as { n: number }).n).toBe(3);
    db.close();
  });

  test("a new file starts at the latest version", () => {
    const db = openDatabase(join(dir, "new.db"));
    expect((db.query("SELECT MAX(version) AS v FROM schema_migrations").get() as { v: number }).v).toBe(SQLITE_MIGRATIONS.at(-1)!.version);
    db.close();
  });
});
