// Hourly and daily roll-ups of the ledger, so the dashboard's charts and totals read a few thousand summed rows
// instead of millions of raw ones (LiteLLM's spend pages stalled at a few hundred thousand rows until it added
// daily aggregates). The ledger writer adds each flushed batch to an in-memory accumulator (a few map updates per
// row) and writes the sums every few seconds, or when the dashboard reads: one upsert per distinct (bucket, key,
// model, backend) seen since the last write, not one per request. The upserts and a watermark (the last ledger
// rowid they include) commit together, so after a crash the rows past the watermark are summed again from the
// ledger at start-up and nothing is counted twice or lost.
import type { Database, Statement } from "bun:sqlite";
import type { LedgerRow } from "./ledger.ts";

export type RollupPeriod = "hourly" | "daily";
export const PERIODS: readonly RollupPeriod[] = ["hourly", "daily"];
export const PERIOD_MS: Record<RollupPeriod, number> = { hourly: 3_600_000, daily: 86_400_000 };

/**
 * Latency histogram bins: bin 0 holds values under 1 ms, bin i ≥ 1 values in [2^((i-1)/2), 2^(i/2)) ms (the last
 * bin everything from 2^23 ms up). A percentile reports its bin's geometric middle, within ±19 % of the value.
 */
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

/** The roll-up tables, the watermark and the time index (retention deletes, the request log's time filters). */
export function createRollupTables(db: Database): void {
  db.run("CREATE INDEX IF NOT EXISTS ledger_time ON ledger (started_at)");
  for (const period of PERIODS) db.run(tables(period));
  db.run("CREATE TABLE IF NOT EXISTS rollup_watermark (id INTEGER PRIMARY KEY CHECK (id = 1), ledger_rowid INTEGER NOT NULL)");
  db.run("INSERT OR IGNORE INTO rollup_watermark VALUES (1, 0)");
}

/**
 * Sums every ledger row past the watermark into the roll-ups: all rows for a store that predates the roll-ups,
 * the last few seconds' after a crash, none after a clean shutdown.
 */
export function catchUpRollups(db: Database): void {
  db.transaction(() => catchUp(db))();
}

/** Sums the ledger rows after the watermark into the roll-ups (SQL, in the caller's transaction). */
export function catchUp(db: Database): void {
  const after = (db.query("SELECT ledger_rowid FROM rollup_watermark").get() as { ledger_rowid: number }).ledger_rowid;
  const last = (db.query("SELECT COALESCE(MAX(rowid), 0) AS last FROM ledger").get() as { last: number }).last;
  if (last <= after) return;
  for (const period of PERIODS) {
    const ms = PERIOD_MS[period];
    const bucket = `(started_at / ${ms}) * ${ms}`;
    db.query(`INSERT INTO usage_${period}
      SELECT ${bucket}, COALESCE(key_id, ''), model, COALESCE(backend, ''), COUNT(*), SUM(status >= 400), SUM(prompt_tokens),
             SUM(completion_tokens), SUM(cost_micros), SUM(total_ms), COALESCE(SUM(ttft_ms), 0), COUNT(ttft_ms)
      FROM ledger WHERE rowid > $after GROUP BY 1, 2, 3, 4
      ON CONFLICT DO UPDATE SET ${USAGE_SUMS}`).run({ after });
    db.query(`INSERT INTO errors_${period}
      SELECT ${bucket}, COALESCE(key_id, ''), COALESCE(error_code, 'http_' || status), COUNT(*)
      FROM ledger WHERE rowid > $after AND status >= 400 GROUP BY 1, 2, 3
      ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`).run({ after });
    // binOf in SQL (bun:sqlite is built with the math functions).
    for (const [metric, column] of [["total", "total_ms"], ["ttft", "ttft_ms"]] as const) {
      db.query(`INSERT INTO latency_${period}
        SELECT ${bucket}, COALESCE(key_id, ''), '${metric}',
               CASE WHEN ${column} < 1 THEN 0 ELSE MIN(${LATENCY_BINS - 1}, CAST(floor(2 * log2(${column})) AS INTEGER) + 1) END, COUNT(*)
        FROM ledger WHERE rowid > $after AND ${column} IS NOT NULL GROUP BY 1, 2, 4
        ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`).run({ after });
    }
  }
  db.query("UPDATE rollup_watermark SET ledger_rowid = ?").run(last);
}

const USAGE_SUMS = `requests = requests + excluded.requests, errors = errors + excluded.errors,
  prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
  cost_micros = cost_micros + excluded.cost_micros, total_ms_sum = total_ms_sum + excluded.total_ms_sum,
  ttft_ms_sum = ttft_ms_sum + excluded.ttft_ms_sum, ttft_count = ttft_count + excluded.ttft_count`;

export interface UsageSums {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  costMicros: number;
  totalMsSum: number;
  ttftMsSum: number;
  ttftCount: number;
}

/** One key's traffic in one hour: sums by model and backend, errors by code, latency histograms. */
export interface KeyHour {
  byModel: Map<string, Map<string, UsageSums>>;
  errors: Map<string, number>;
  totalBins: Uint32Array;
  ttftBins: Uint32Array;
}

interface Statements {
  usage: Statement<unknown, (string | number)[]>;
  errors: Statement<unknown, (string | number)[]>;
  latency: Statement<unknown, (string | number)[]>;
}

const statements = new WeakMap<Database, { periods: Record<RollupPeriod, Statements>; watermark: Statement<unknown, [number]> }>();

function prepared(db: Database) {
  let cached = statements.get(db);
  if (!cached) {
    const build = (period: RollupPeriod): Statements => ({
      usage: db.prepare(`INSERT INTO usage_${period} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET ${USAGE_SUMS}`),
      errors: db.prepare(`INSERT INTO errors_${period} VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`),
      latency: db.prepare(`INSERT INTO latency_${period} VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET requests = requests + excluded.requests`),
    });
    cached = { periods: { hourly: build("hourly"), daily: build("daily") }, watermark: db.prepare("UPDATE rollup_watermark SET ledger_rowid = ?") };
    statements.set(db, cached);
  }
  return cached;
}

/**
 * Sums of ledger rows not yet in the roll-up tables. Rows are summed by hour only (nested maps, no string keys
 * built per row); each hour's sums are written to the hourly table and added to their day's row in the daily one.
 */
export class RollupAccumulator {
  private hours = new Map<number, Map<string, KeyHour>>();
  private lastRowid = 0;
  private rows = 0;

  /** Rows waiting to be written. */
  get pending(): number {
    return this.rows;
  }

  /** The sums by UTC hour, then key (flattenRollups reads them). */
  entries(): IterableIterator<[number, Map<string, KeyHour>]> {
    return this.hours.entries();
  }

  /** Adds a batch of rows just committed to the ledger; `lastRowid` is the ledger rowid of the batch's last row. */
  add(rows: readonly LedgerRow[], lastRowid: number): void {
    const hourMs = PERIOD_MS.hourly;
    for (const row of rows) {
      const bucketMs = row.startedAt - (row.startedAt % hourMs);
      let keys = this.hours.get(bucketMs);
      if (!keys) this.hours.set(bucketMs, (keys = new Map()));
      const keyId = row.keyId ?? "";
      let group = keys.get(keyId);
      if (!group) keys.set(keyId, (group = { byModel: new Map(), errors: new Map(), totalBins: new Uint32Array(LATENCY_BINS), ttftBins: new Uint32Array(LATENCY_BINS) }));
      let backends = group.byModel.get(row.model);
      if (!backends) group.byModel.set(row.model, (backends = new Map()));
      const backend = row.backend ?? "";
      let sums = backends.get(backend);
      if (!sums) backends.set(backend, (sums = { requests: 0, errors: 0, promptTokens: 0, completionTokens: 0, costMicros: 0, totalMsSum: 0, ttftMsSum: 0, ttftCount: 0 }));
      sums.requests++;
      sums.promptTokens += row.promptTokens;
      sums.completionTokens += row.completionTokens;
      sums.costMicros += row.costMicros;
      sums.totalMsSum += row.totalMs;
      group.totalBins[binOf(row.totalMs)]!++;
      if (row.ttftMs !== null) {
        sums.ttftMsSum += row.ttftMs;
        sums.ttftCount++;
        group.ttftBins[binOf(row.ttftMs)]!++;
      }
      if (row.status >= 400) {
        sums.errors++;
        const code = row.errorCode ?? `http_${row.status}`;
        group.errors.set(code, (group.errors.get(code) ?? 0) + 1);
      }
    }
    this.rows += rows.length;
    this.lastRowid = Math.max(this.lastRowid, lastRowid);
  }

  /** Writes the sums and the watermark in one transaction; on failure they stay here for the next attempt. */
  write(db: Database): void {
    if (this.rows === 0) return;
    const { periods, watermark } = prepared(db);
    db.transaction(() => {
      for (const [hourMs, keys] of this.hours) {
        const buckets: [Statements, number][] = [
          [periods.hourly, hourMs],
          [periods.daily, hourMs - (hourMs % PERIOD_MS.daily)],
        ];
        for (const [keyId, group] of keys) {
          for (const [s, bucketMs] of buckets) {
            for (const [model, backends] of group.byModel) {
              for (const [backend, u] of backends) {
                s.usage.run(bucketMs, keyId, model, backend, u.requests, u.errors, u.promptTokens, u.completionTokens, u.costMicros, u.totalMsSum, u.ttftMsSum, u.ttftCount);
              }
            }
            for (const [code, requests] of group.errors) s.errors.run(bucketMs, keyId, code, requests);
            for (const [metric, bins] of [["total", group.totalBins], ["ttft", group.ttftBins]] as const) {
              for (let bin = 0; bin < LATENCY_BINS; bin++) if (bins[bin]! > 0) s.latency.run(bucketMs, keyId, metric, bin, bins[bin]!);
            }
          }
        }
      }
      watermark.run(this.lastRowid);
    })();
    this.hours = new Map();
    this.rows = 0;
  }
}

/** One period's sums as rows (primary key order, each key once): what PostgreSQL upserts with unnest arrays. */
export interface FlatRollups {
  usage: [bucketMs: number, keyId: string, model: string, backend: string, sums: UsageSums][];
  errors: [bucketMs: number, keyId: string, code: string, requests: number][];
  latency: [bucketMs: number, keyId: string, metric: LatencyMetric, bin: number, requests: number][];
}

/**
 * The accumulator's sums per period, each row once: an hour's sums are added to their day's row here, because one
 * PostgreSQL upsert may not touch a row twice. Sorted by primary key, so that gateways writing the same rows at
 * once take their row locks in the same order and never deadlock.
 */
export function flattenRollups(accumulator: RollupAccumulator): Record<RollupPeriod, FlatRollups> {
  const out = {} as Record<RollupPeriod, FlatRollups>;
  for (const period of PERIODS) {
    const usage = new Map<string, [number, string, string, string, UsageSums]>();
    const errors = new Map<string, [number, string, string, number]>();
    const latency = new Map<string, [number, string, LatencyMetric, number, number]>();
    for (const [hourMs, keys] of accumulator.entries()) {
      const bucketMs = period === "hourly" ? hourMs : hourMs - (hourMs % PERIOD_MS.daily);
      for (const [keyId, group] of keys) {
        for (const [model, backends] of group.byModel) {
          for (const [backend, u] of backends) {
            const id = JSON.stringify([bucketMs, keyId, model, backend]);
            const row = usage.get(id);
            if (!row) usage.set(id, [bucketMs, keyId, model, backend, { ...u }]);
            else addSums(row[4], u);
          }
        }
        for (const [code, requests] of group.errors) {
          const id = JSON.stringify([bucketMs, keyId, code]);
          const row = errors.get(id);
          if (row) row[3] += requests;
          else errors.set(id, [bucketMs, keyId, code, requests]);
        }
        for (const [metric, bins] of [["total", group.totalBins], ["ttft", group.ttftBins]] as const) {
          for (let bin = 0; bin < LATENCY_BINS; bin++) {
            if (bins[bin] === 0) continue;
            const id = JSON.stringify([bucketMs, keyId, metric, bin]);
            const row = latency.get(id);
            if (row) row[4] += bins[bin]!;
            else latency.set(id, [bucketMs, keyId, metric, bin, bins[bin]!]);
          }
        }
      }
    }
    out[period] = { usage: [...usage.values()].sort(byKey), errors: [...errors.values()].sort(byKey), latency: [...latency.values()].sort(byKey) };
  }
  return out;
}

function addSums(into: UsageSums, u: UsageSums): void {
  into.requests += u.requests;
  into.errors += u.errors;
  into.promptTokens += u.promptTokens;
  into.completionTokens += u.completionTokens;
  into.costMicros += u.costMicros;
  into.totalMsSum += u.totalMsSum;
  into.ttftMsSum += u.ttftMsSum;
  into.ttftCount += u.ttftCount;
}

/** Primary-key order: numbers numerically, text as PostgreSQL's "C" collation would (code units). */
function byKey(a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (typeof x === "object" || x === y) continue;
    return x! < y! ? -1 : 1;
  }
  return 0;
}

/** Rows deleted per statement: a long delete would hold the write lock (and the event loop) for too long. */
const PRUNE_CHUNK = 5_000;

/**
 * Deletes up to one chunk of raw ledger rows older than the retention; the roll-ups keep their sums. Returns how
 * many went, so a caller can come back for the rest on its next turn.
 */
export function pruneLedger(db: Database, retentionDays: number, nowMs: number): number {
  const cutoff = nowMs - retentionDays * PERIOD_MS.daily;
  // The newest row always stays: an empty table would hand out rowids from 1 again, below the roll-up watermark.
  return db
    .query("DELETE FROM ledger WHERE rowid IN (SELECT rowid FROM ledger WHERE started_at < ? LIMIT ?) AND rowid <> (SELECT MAX(rowid) FROM ledger)")
    .run(cutoff, PRUNE_CHUNK).changes;
}
