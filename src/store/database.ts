// The embedded store: one SQLite file in the data dir (WAL, so the CLI and the gateway can share it).
// Holds API keys, accounts, the usage ledger and its roll-ups, and stored Responses. Money is integer micro-dollars.
// The schema is versioned (schema_migrations); PostgreSQL's twin is postgres/schema.ts.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { catchUpRollups, createRollupTables } from "./rollups.ts";
import { RESPONSES_TABLE } from "./responses.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_keys (
  id                 TEXT PRIMARY KEY,
  name               TEXT NOT NULL,
  hash               TEXT NOT NULL UNIQUE,   -- sha256 hex of the secret; the secret itself is never stored
  prefix             TEXT NOT NULL,          -- first characters of the secret, safe to show
  scopes             TEXT NOT NULL,          -- JSON array
  allowed_models     TEXT,                   -- JSON array of names and globs, NULL = all
  allowed_ips        TEXT,                   -- JSON array of CIDRs, NULL = any
  rpm                INTEGER,
  tpm                INTEGER,
  max_concurrent     INTEGER,
  queue_timeout_ms   INTEGER,
  budget_usd_daily   REAL,
  budget_usd_monthly REAL,
  routing            TEXT,                   -- JSON {model_pool, optimize}
  firewall           TEXT,
  processors         TEXT,                   -- JSON array of processor names, NULL = all
  firewall_required  INTEGER NOT NULL DEFAULT 0,
  tools              TEXT,                   -- JSON array of platform tool names, NULL = all
  expires_at         INTEGER,                -- unix seconds
  created_at         INTEGER NOT NULL,       -- unix seconds
  revoked_at         INTEGER,
  account_id         TEXT                    -- the account whose credits and budgets it spends, NULL = none
);
CREATE TABLE IF NOT EXISTS ledger (
  request_id        TEXT NOT NULL,           -- not a key: random ids make B-tree inserts ~5x slower; a flush is one
                                             -- transaction, so a retried flush cannot write a row twice
  key_id            TEXT,
  model             TEXT NOT NULL,           -- what the client asked for
  backend           TEXT,                    -- the backend that served it
  route             TEXT,                    -- balancer route, when one matched
  endpoint          TEXT NOT NULL,           -- the API called: chat, embeddings, responses, messages, completions, rerank, …
  status            INTEGER NOT NULL,
  error_code        TEXT,
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  tokens_estimated  INTEGER NOT NULL,        -- 1 when the engine reported no usage
  cost_micros       INTEGER NOT NULL,
  billing_basis     TEXT NOT NULL,           -- tokens | gpu_time | none
  stream            INTEGER NOT NULL,
  started_at        INTEGER NOT NULL,        -- unix milliseconds
  total_ms          REAL NOT NULL,
  upstream_ms       REAL,
  queued_ms         REAL,
  ttft_ms           REAL,
  firewall          TEXT,                    -- the firewall's slug, when one screened the request
  firewall_verdict  TEXT,                    -- allowed | flagged | redacted | blocked
  firewall_rules    TEXT,                    -- JSON array of the rules that matched (names, never the text)
  firewall_ms       REAL,
  tools_ms          REAL,                    -- time the platform tools ran
  detail            TEXT                     -- JSON {routing?, inferada?, tool_runs?} for the dashboard's request detail
);
-- One index: budgets and per-key usage read a key's rows since an instant. Every index costs each insert on the
-- hot path (~1 µs per row), so admin reports over all keys scan the table instead.
CREATE INDEX IF NOT EXISTS ledger_key_time ON ledger (key_id, started_at);
-- Accounts own keys and a prepaid credit balance (seed 003). The balance is the sum of the account's transactions,
-- kept on the row so admission reads one integer.
CREATE TABLE IF NOT EXISTS accounts (
  id                 TEXT PRIMARY KEY,
  name               TEXT NOT NULL,
  status             TEXT NOT NULL,          -- active | deactivated
  balance_micros     INTEGER NOT NULL DEFAULT 0,
  budget_usd_daily   REAL,
  budget_usd_monthly REAL,
  allowed_models     TEXT,                   -- JSON array of names and globs, NULL = all
  routing            TEXT,                   -- JSON {model_pool, optimize}: defaults for its keys
  created_at         INTEGER NOT NULL,       -- unix seconds
  deactivated_at     INTEGER
);
CREATE TABLE IF NOT EXISTS credit_transactions (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id     TEXT NOT NULL,
  kind           TEXT NOT NULL,              -- deposit | adjustment | deduction
  amount_micros  INTEGER NOT NULL,           -- signed: deposits add, deductions subtract
  balance_micros INTEGER NOT NULL,           -- the balance after it
  request_id     TEXT,                       -- deductions: the ledger row they pay for
  key_id         TEXT,
  note           TEXT,
  created_at     INTEGER NOT NULL            -- unix milliseconds
);
CREATE INDEX IF NOT EXISTS credit_transactions_account ON credit_transactions (account_id, id);
`;

export function openDatabase(file: string): Database {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("PRAGMA busy_timeout = 5000");
  migrateSqlite(db);
  catchUpRollups(db);
  return db;
}

/** Columns added to the base schema before versioned migrations existed: a file from then gains them in version 1. */
const ADDED_COLUMNS: [table: string, column: string, type: string][] = [
  ["api_keys", "processors", "TEXT"],
  ["api_keys", "firewall_required", "INTEGER NOT NULL DEFAULT 0"],
  ["ledger", "firewall", "TEXT"],
  ["ledger", "firewall_verdict", "TEXT"],
  ["ledger", "firewall_rules", "TEXT"],
  ["ledger", "firewall_ms", "REAL"],
  ["api_keys", "tools", "TEXT"],
  ["ledger", "tools_ms", "REAL"],
  ["ledger", "detail", "TEXT"],
  ["api_keys", "account_id", "TEXT"],
];

function addMissingColumns(db: Database): void {
  for (const [table, column, type] of ADDED_COLUMNS) {
    const columns = db.query(`PRAGMA table_info(${table})`).all() as { name: string }[];
    if (!columns.some((c) => c.name === column)) db.run(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

/**
 * The SQLite store's schema versions, applied in order, each once (schema_migrations remembers them). Version 1 is
 * everything up to versioned migrations, written so that any older file (whatever tables and columns it had)
 * reaches it too. A later change is a new entry at the end, never an edit of an old one; the PostgreSQL store keeps
 * the same numbering (postgres/schema.ts).
 */
export const SQLITE_MIGRATIONS: readonly { version: number; name: string; up: (db: Database) => void }[] = [
  {
    version: 1,
    name: "keys, ledger, accounts and credits, roll-ups, stored responses",
    up(db) {
      db.run(SCHEMA);
      db.run(RESPONSES_TABLE);
      addMissingColumns(db);
      createRollupTables(db);
    },
  },
];

/** Applies the versions this file lacks, in one write transaction, so two processes opening it never both run one. */
export function migrateSqlite(db: Database): void {
  db.run("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const applied = () => (db.query("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations").get() as { v: number }).v;
  if (applied() >= SQLITE_MIGRATIONS.at(-1)!.version) return;
  db.transaction(() => {
    const current = applied();
    for (const migration of SQLITE_MIGRATIONS) {
      if (migration.version <= current) continue;
      migration.up(db);
      db.query("INSERT INTO schema_migrations VALUES (?, ?, ?)").run(migration.version, migration.name, Date.now());
    }
  }).immediate();
}

/** Changes whenever another connection (e.g. `sluice keys revoke`) writes to the file. */
export function dataVersion(db: Database): number {
  return (db.query("PRAGMA data_version").get() as { data_version: number }).data_version;
}
