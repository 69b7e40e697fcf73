// The write-behind ledger: one row per request, queued in memory and written in batches off the request path,
// so a slow disk or a locked database file never adds latency to a request.
import type { Database, Statement } from "bun:sqlite";
import type { BillingBasis } from "../billing/cost.ts";
import type { Endpoint } from "../pipeline/context.ts";
import { log } from "../observability/log.ts";
import { pruneLedger, RollupAccumulator } from "./rollups.ts";

export interface LedgerRow {
  requestId: string;
  keyId: string | null;
  /** What the client asked for. */
  model: string;
  /** The backend that served it. */
  backend: string | null;
  route: string | null;
  endpoint: Endpoint;
  status: number;
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  /** True when the engine reported no usage and the gateway counted. */
  tokensEstimated: boolean;
  costMicros: number;
  billingBasis: BillingBasis;
  stream: boolean;
  /** Unix milliseconds. */
  startedAt: number;
  totalMs: number;
  upstreamMs: number | null;
  queuedMs: number | null;
  ttftMs: number | null;
  firewall: string | null;
  firewallVerdict: string | null;
  /** JSON array of rule names. */
  firewallRules: string | null;
  firewallMs: number | null;
  toolsMs: number | null;
  /**
   * What the response reported beyond the columns, for the dashboard's request detail:
   * `{routing?, inferada?, tool_runs?}` as in the response body (decision and candidate scores, processors' reports,
   * platform tool runs). Optional: rows without it show the columns only.
   */
  detail?: Record<string, unknown> | null;
}

export interface LedgerWriterOptions {
  /**
   * Queue length that triggers a flush at once instead of at the end of the interval. Default 1024: under load a
   * bigger batch costs less per row (about 1 µs of CPU per request at 18k req/s in A/B runs, near their noise),
   * and a flush of 1024 rows holds the event loop for about 2 ms.
   */
  batchSize?: number;
  /** Longest a row waits in memory before it is written. Default 50. */
  flushIntervalMs?: number;
  /**
   * How long a background flush waits for another connection's write lock (e.g. `sluice keys`) before giving up
   * and retrying later. Short, because SQLite waits synchronously and would stall every request. Default 10.
   */
  lockWaitMs?: number;
  /** storage.retention_days, read at each flush (it follows reloads); undefined keeps raw rows forever. */
  retentionDays?: () => number | undefined;
}

/** How often a flush also deletes raw rows past the retention (the roll-ups keep their sums). */
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
/**
 * How often the roll-up sums are written (and whenever the dashboard reads). Under load a write covers many
 * flushes, so its upserts cost well under a microsecond per request; see test/bench/dashboard-bench.ts.
 */
const ROLLUP_INTERVAL_MS = 5_000;

const COLUMNS = `request_id, key_id, model, backend, route, endpoint, status, error_code, prompt_tokens, completion_tokens,
  tokens_estimated, cost_micros, billing_basis, stream, started_at, total_ms, upstream_ms, queued_ms, ttft_ms,
  firewall, firewall_verdict, firewall_rules, firewall_ms, tools_ms, detail`;
const ROW_PLACEHOLDERS = `(${COLUMNS.split(",").map(() => "?").join(", ")})`;
/** Rows per multi-row INSERT: one statement step for many rows costs less per row than a step each (~30 %). */
const ROWS_PER_INSERT = 32;
const insertSql = (rows: number) => `INSERT INTO ledger (${COLUMNS}) VALUES ${Array(rows).fill(ROW_PLACEHOLDERS).join(", ")}`;

type RowParams = (string | number | null)[];

// Retries of a failing flush back off to this, so a long-held lock costs one short wait every few seconds.
const MAX_RETRY_DELAY_MS = 5_000;

export class LedgerWriter {
  private queue: LedgerRow[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDueAt = 0;
  private failedFlushes = 0;
  private closed = false;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly lockWaitMs: number;
  private readonly insertOne: Statement<unknown, RowParams>;
  private readonly insertMany: Statement<unknown, RowParams>;
  private readonly insertAll: (rows: LedgerRow[]) => number;
  private readonly rollups = new RollupAccumulator();
  private rollupsWrittenAt = Date.now();
  private readonly retentionDays: () => number | undefined;
  private nextPruneAt = 0;

  constructor(
    private readonly db: Database,
    options: LedgerWriterOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1024;
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.lockWaitMs = options.lockWaitMs ?? 10;
    this.retentionDays = options.retentionDays ?? (() => undefined);
    this.insertOne = db.prepare<unknown, RowParams>(insertSql(1));
    this.insertMany = db.prepare<unknown, RowParams>(insertSql(ROWS_PER_INSERT));
    // One transaction per flush: one fsync for the whole batch, and a failed batch leaves nothing half-written.
    this.insertAll = db.transaction((rows: LedgerRow[]) => {
      let i = 0;
      for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
        const params: RowParams = [];
        for (let j = i; j < i + ROWS_PER_INSERT; j++) appendParams(params, rows[j]!);
        this.insertMany.run(...params);
      }
      for (; i < rows.length; i++) this.insertOne.run(...appendParams([], rows[i]!));
      return (db.query("SELECT last_insert_rowid() AS id").get() as { id: number }).id;
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** O(1) and no I/O while open; after `close()` it writes at once so rows logged during shutdown are kept. */
  append(row: LedgerRow): void {
    this.queue.push(row);
    if (this.closed) {
      this.flush();
      return;
    }
    this.schedule(this.queue.length >= this.batchSize ? 0 : this.flushIntervalMs);
  }

  /**
   * Writes everything queued in one transaction. On failure the rows stay queued for the next attempt.
   * `withRollups` also writes the roll-up sums now (the dashboard, before it reads them).
   */
  flush(withRollups = false): void {
    this.clearTimer();
    if (this.queue.length === 0) {
      if (withRollups) this.writeRollups();
      return;
    }
    const rows = this.queue;
    try {
      // A shutdown flush may wait the connection's full busy timeout: nothing is waiting on the event loop then.
      const lastRowid = this.closed ? this.insertAll(rows) : this.withLockWait(() => this.insertAll(rows));
      this.rollups.add(rows, lastRowid);
    } catch (error) {
      this.failedFlushes++;
      if (this.failedFlushes === 1) log.warn(`ledger: could not write ${rows.length} rows (${describe(error)}); keeping them queued and retrying`);
      if (!this.closed) this.schedule(Math.min(this.flushIntervalMs * 2 ** this.failedFlushes, MAX_RETRY_DELAY_MS));
      return;
    }
    // Flushing is synchronous, so nothing was appended meanwhile: every queued row is now written.
    this.queue = [];
    if (this.failedFlushes > 0) log.info(`ledger: writing again after ${this.failedFlushes} failed flushes`);
    this.failedFlushes = 0;
    if (withRollups || this.closed || Date.now() - this.rollupsWrittenAt >= ROLLUP_INTERVAL_MS) this.writeRollups();
    this.pruneIfDue();
  }

  // A failed write keeps the sums in memory; a crash before the next one is repaired at start-up from the ledger.
  private writeRollups(): void {
    this.rollupsWrittenAt = Date.now();
    try {
      if (this.closed) this.rollups.write(this.db);
      else this.withLockWait(() => this.rollups.write(this.db));
    } catch (error) {
      log.warn(`ledger: could not write roll-ups (${describe(error)}); keeping the sums and retrying`);
    }
  }

  // One chunk per flush while old rows remain, then nothing for an hour: a flush never stalls on a big delete.
  private pruneIfDue(now = Date.now()): void {
    const days = this.retentionDays();
    if (days === undefined || now < this.nextPruneAt) return;
    try {
      const deleted = this.withLockWait(() => pruneLedger(this.db, days, now));
      if (deleted === 0) this.nextPruneAt = now + PRUNE_INTERVAL_MS;
    } catch (error) {
      this.nextPruneAt = now + PRUNE_INTERVAL_MS / 60;
      log.warn(`ledger: could not delete rows past storage.retention_days (${describe(error)}); retrying later`);
    }
  }

  /** Final flush; stops the timer. Does not close the database, which the writer does not own. */
  close(): void {
    this.closed = true;
    this.flush(true);
    if (this.queue.length > 0) log.error(`ledger: ${this.queue.length} rows are still unwritten at shutdown`);
  }

  private schedule(delayMs: number): void {
    const dueAt = Date.now() + delayMs;
    if (this.timer !== undefined && this.timerDueAt <= dueAt) return;
    this.clearTimer();
    this.timerDueAt = dueAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delayMs);
    // Pending ledger rows must not keep the process alive; shutdown calls close() to write them.
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  // The connection is shared, so its busy timeout is lowered only for this write and restored after.
  private withLockWait<T>(write: () => T): T {
    const previous = (this.db.query("PRAGMA busy_timeout").get() as { timeout: number }).timeout;
    this.db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(this.lockWaitMs))}`);
    try {
      return write();
    } finally {
      this.db.run(`PRAGMA busy_timeout = ${previous}`);
    }
  }
}

// Positional parameters in the column order of COLUMNS (binding by name costs more per row), appended to `params`.
function appendParams(params: RowParams, r: LedgerRow): RowParams {
  params.push(
    r.requestId, r.keyId, r.model, r.backend, r.route, r.endpoint, r.status, r.errorCode, r.promptTokens, r.completionTokens,
    r.tokensEstimated ? 1 : 0, r.costMicros, r.billingBasis, r.stream ? 1 : 0, r.startedAt, r.totalMs, r.upstreamMs, r.queuedMs, r.ttftMs,
    r.firewall, r.firewallVerdict, r.firewallRules, r.firewallMs, r.toolsMs, r.detail ? JSON.stringify(r.detail) : null, // serialised in the flush, off the request path
  );
  return params;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as Error & { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
