// Hourly and daily roll-ups of the ledger, so the dashboard's charts and totals read a few thousand summed rows
// instead of millions of raw ones (LiteLLM's spend pages stalled at a few hundred thousand rows until it added
// daily aggregates). They are kept up to date inside the ledger writer's flush transaction: a batch is summed in
// memory first, then each distinct (bucket, key, model, backend) is one upsert, so a flush of 1024 rows from a
// handful of keys costs a handful of statements, never one per request.
import type { Database, Statement } from "bun:sqlite";
import type { LedgerRow } from "./ledger.ts";

export type RollupPeriod = "hourly" | "daily";
export const PERIODS: readonly RollupPeriod[] = ["hourly", "daily"];
export const PERIOD_MS: Record<RollupPeriod, number> = { hourly: 3_600_000, daily: 86_400_000 };

/** Latency histogram bins: bin i holds values in [2^(i/2), 2^((i+1)/2)) ms, so a percentile is good to ±19 %. */
export const LATENCY_BINS = 48;
export const binOf = (ms: number): number => (ms < 1 ? 0 : Math.min(LATENCY_BINS - 1, Math.floor(2 * Math.log2(ms)) + 1));
/** The geometric middle of a bin, the value a percentile inside it reports. */
export const binValueMs = (bin: number): number => (bin === 0 ? 0.5 : 2 ** ((bin - 0.5) / 2));

export type LatencyMetric = "total" | "ttft";

// '' stands for "no key" / "no backend": primary-key columns must not be NULL (SQLite treats NULLs as distinct).
function tables(period: RollupPeriod): string {
  return `
CREATE TABLE IF NOT EXISTS usage_${period} (
  bucket_ms         INTEGER NOT NULL,        -- start of the UTC hour or day, unix ms
  key_id            TEXT NOT NULL,
  model             TEXT NOT NULL,
  backend           TEXT NOT NULL,
  requests          INTEGER NOT NULL,
  errors            INTEGER NOT NULL,        -- status >= 400
  prompt_tokens     INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost_micros       INTEGER NOT NULL,
  total_ms_sum      REAL NOT NULL,
  ttft_ms_sum       REAL NOT NULL,
  ttft_count        INTEGER NOT NULL,
  PRIMARY KEY (bucket_ms, key_id, model, backend)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_${period}_key ON usage_${period} (key_id, bucket_ms);
CREATE TABLE IF NOT EXISTS errors_${period} (
  bucket_ms  INTEGER NOT NULL,
  key_id     TEXT NOT NULL,
  error_code TEXT NOT NULL,
  requests   INTEGER NOT NULL,
  PRIMARY KEY (bucket_ms, key_id, error_code)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latency_${period} (
  bucket_ms INTEGER NOT NULL,
  key_id    TEXT NOT NULL,
  metric    TEXT NOT NULL,                   -- total | ttft
  bin       INTEGER NOT NULL,                -- see LATENCY_BINS
  requests  INTEGER NOT NULL,
  PRIMARY KEY (bucket_ms, key_id, metric, bin)
) WITHOUT ROWID;`;
}

/**
 * Creates the roll-up tables and, for a store that had ledger rows before they existed, fills them from the
 * ledger once (in one transaction). The time index serves retention deletes and the request log's time filters.
 */
export function migrateRollups(db: Database): void {
  const existed = db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'usage_daily'").get() !== null;
  db.run("CREATE INDEX IF NOT EXISTS ledger_time ON ledger (started_at)");
  for (const period of PERIODS) db.run(tables(period));
  if (!existed) db.transaction(() => backfill(db))();
}

/** Rebuilds every roll-up from the raw ledger rows (a store that predates them, and the benchmark). */
export function backfill(db: Database): void {
  for (const period of PERIODS) {
    const ms = PERIOD_MS[period];
    const bucket = `(started_at / ${ms}) * ${ms}`;
    db.run(`DELETE FROM usage_${period}`);
    db.run(`DELETE FROM errors_${period}`);
    db.run(`DELETE FROM latency_${period}`);
    db.run(`INSERT INTO usage_${period}
      SELECT ${bucket}, COALESCE(key_id, ''), model, COALESCE(backend, ''), COUNT(*), SUM(status >= 400), SUM(prompt_tokens),
             SUM(completion_tokens), SUM(cost_micros), SUM(total_ms), COALESCE(SUM(ttft_ms), 0), COUNT(ttft_ms)
      FROM ledger GROUP BY 1, 2, 3, 4`);
    db.run(`INSERT INTO errors_${period}
      SELECT ${bucket}, COALESCE(key_id, ''), COALESCE(error_code, 'http_' || status), COUNT(*)
      FROM ledger WHERE status >= 400 GROUP BY 1, 2, 3`);
    // The bin formula of binOf in SQL: SQLite has log2 when built with math functions, which bun:sqlite is.
    for (const [metric, column] of [["total", "total_ms"], ["ttft", "ttft_ms"]] as const) {
      db.run(`INSERT INTO latency_${period}
        SELECT ${bucket}, COALESCE(key_id, ''), '${metric}',
               CASE WHEN ${column} < 1 THEN 0 ELSE MIN(${LATENCY_BINS - 1}, CAST(floor(2 * log2(${column})) AS INTEGER) + 1) END, COUNT(*)
        FROM ledger WHERE ${column} IS NOT NULL GROUP BY 1, 2, 4`);
    }
  }
}

interface UsageSums {
  bucketMs: number;
  keyId: string;
  model: string;
  backend: string;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
  totalMsSum: number;
  ttftMsSum: number;
  ttftCount: number;
}

interface Statements {
  usage: Statement<unknown, (string | number)[]>;
  errors: Statement<unknown, (string | number)[]>;
  latency: Statement<unknown, (string | number)[]>;
}

const statements = new WeakMap<Database, Record<RollupPeriod, Statements>>();

function prepared(db: Database): Record<RollupPeriod, Statements> {
  let cached = statements.get(db);
  if (!cached) {
    const build = (period: RollupPeriod): Statements => ({
      usage: db.prepare(`INSERT INTO usage_${period} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT DO UPDATE SET requests = requests + excluded.requests, errors = errors + excluded.errors,
          prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
          cost_micros = cost_micros + excluded.cost_micros, total_ms_sum = total_ms_sum + excluded.total_ms_sum,
          ttft_ms_sum = ttft_ms_sum + excluded.ttft_ms_sum, ttft_count = ttft_count + excluded.ttft_count`),
      errors: db.prepare(`INSERT INTO errors_${period} VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`),
      latency: db.prepare(`INSERT INTO latency_${period} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`),
    });
    statements.set(db, (cached = { hourly: build("hourly"), daily: build("daily") }));
  }
  return cached;
}

/** Adds a batch of ledger rows to every roll-up. Call inside the transaction that inserts the rows. */
export function rollUp(db: Database, rows: readonly LedgerRow[]): void {
  if (rows.length === 0) return;
  const all = prepared(db);
  for (const period of PERIODS) {
    const ms = PERIOD_MS[period];
    const usage = new Map<string, UsageSums>();
    const counts = new Map<string, [bucketMs: number, keyId: string, label: string, extra: number | null, requests: number]>();
    const count = (kind: string, bucketMs: number, keyId: string, label: string, bin: number | null) => {
      const id = `${kind}\u0000${bucketMs}\u0000${keyId}\u0000${label}\u0000${bin}`;
      const entry = counts.get(id);
      if (entry) entry[4]++;
      else counts.set(id, [bucketMs, keyId, label, bin, 1]);
    };
    for (const row of rows) {
      const bucketMs = Math.floor(row.startedAt / ms) * ms;
      const keyId = row.keyId ?? "";
      const backend = row.backend ?? "";
      const id = `${bucketMs}\u0000${keyId}\u0000${row.model}\u0000${backend}`;
      let sums = usage.get(id);
      if (!sums) {
        sums = { bucketMs, keyId, model: row.model, backend, requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, costMicros: 0, totalMsSum: 0, ttftMsSum: 0, ttftCount: 0 };
        usage.set(id, sums);
      }
      sums.requests++;
      if (row.status >= 400) {
        sums.errors++;
        count("e", bucketMs, keyId, row.errorCode ?? `http_${row.status}`, null);
      }
      sums.promptTokens += row.promptTokens;
      sums.completionTokens += row.completionTokens;
      sums.costMicros += row.costMicros;
      sums.totalMsSum += row.totalMs;
      count("l", bucketMs, keyId, "total", binOf(row.totalMs));
      if (row.ttftMs !== null) {
        sums.ttftMsSum += row.ttftMs;
        sums.ttftCount++;
        count("l", bucketMs, keyId, "ttft", binOf(row.ttftMs));
      }
    }
    const s = all[period];
    for (const u of usage.values()) {
      s.usage.run(u.bucketMs, u.keyId, u.model, u.backend, u.requests, u.errors, u.promptTokens, u.completionTokens, u.costMicros, u.totalMsSum, u.ttftMsSum, u.ttftCount);
    }
    for (const [bucketMs, keyId, label, bin, requests] of counts.values()) {
      if (bin === null) s.errors.run(bucketMs, keyId, label, requests);
      else s.latency.run(bucketMs, keyId, label, bin, requests);
    }
  }
}

/** Rows deleted per statement: a long delete would hold the write lock (and the event loop) for too long. */
const PRUNE_CHUNK = 5_000;

/**
 * Deletes up to one chunk of raw ledger rows older than the retention; the roll-ups keep their sums. Returns how
 * many went, so a caller can come back for the rest on its next turn.
 */
export function pruneLedger(db: Database, retentionDays: number, nowMs: number): number {
  const cutoff = nowMs - retentionDays * PERIOD_MS.daily;
  return db.query("DELETE FROM ledger WHERE rowid IN (SELECT rowid FROM ledger WHERE started_at < ? LIMIT ?)").run(cutoff, PRUNE_CHUNK).changes;
}
