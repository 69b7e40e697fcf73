// The write-behind ledger on PostgreSQL. Rows are queued in memory (append is O(1), no I/O) and written in
// batches: one INSERT per batch (a statement per batch, not per row), and in the same transaction the roll-up
// sums (usage/errors/latency, hourly and daily) of the rows it inserted, so the roll-ups are exact across any
// number of gateways with no watermark to repair. One batch is in flight at a time.
// Writes are idempotent: a row already there (same started_at and request id) is skipped, rows and sums alike,
// so a batch may be retried after any failure and the Redis stream's drain (ledger-stream.ts) may deliver a row
// twice.
// PostgreSQL away: rows stay queued (at most maxBuffered; past it new rows are dropped and counted), retried
// with backoff, and written when it returns. close() (SIGTERM) writes everything; a SIGKILL loses only the queue.
import type { LedgerRow } from "../ledger.ts";
import type { Ledger } from "../store.ts";
import { flattenRollups, PERIOD_MS, PERIODS, RollupAccumulator, type RollupPeriod } from "../rollups.ts";
import { log } from "../../observability/log.ts";
import { describe, type PgClient } from "./client.ts";

export interface PgLedgerOptions {
  /** Queue length that starts a write at once instead of at the end of the interval. Default 1024. */
  batchSize?: number;
  /** Longest a row waits in memory before it is written. Default 50. */
  flushIntervalMs?: number;
  /** Rows held while PostgreSQL is unreachable; past this new rows are dropped (sluice_ledger_dropped_total). */
  maxBuffered?: number;
  /** storage.retention_days, read when pruning; undefined keeps raw rows forever. */
  retentionDays?: () => number | undefined;
  /** How long close() keeps retrying a failing write before it gives up on the rows. Default 10 s. */
  closeTimeoutMs?: number;
  /** After each committed batch (the spend cache adds the rows' cost). */
  onWritten?: (rows: readonly LedgerRow[]) => void;
}

/** Rows per INSERT: large enough that per-statement costs vanish, small enough to keep a transaction short. */
const ROWS_PER_WRITE = 5_000;
const MAX_RETRY_DELAY_MS = 5_000;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;
const PRUNE_CHUNK = 5_000;

/** Whole numbers for the int columns (a fraction would make PostgreSQL refuse the whole batch); NaN never reaches a NOT NULL column. */
const int = (value: number) => (Number.isFinite(value) ? Math.round(value) : 0);
const float = (value: number | null) => (value === null || Number.isFinite(value) ? value : null);
/** PostgreSQL text cannot hold NUL (SQLite can), and a model name comes from the client: it becomes U+FFFD. */
const text = <T extends string | null>(value: T): T => (value !== null && value.includes("\0") ? (value.replaceAll("\0", "\uFFFD") as T) : value);

// A batch travels as one JSON text (rows as objects named like the columns) that PostgreSQL unpacks with
// json_populate_recordset: ~4x less gateway CPU per row than 25 bound arrays (measured: 0.8 vs 3.0 µs for 10 columns).
/** The row itself, or a copy whose text columns (the roll-ups' keys among them) hold no NUL. */
function withoutNul(r: LedgerRow): LedgerRow {
  const fields = [r.requestId, r.keyId, r.model, r.backend, r.route, r.errorCode, r.firewall];
  if (!fields.some((f) => f !== null && f.includes("\0"))) return r;
  return { ...r, requestId: text(r.requestId), keyId: text(r.keyId), model: text(r.model), backend: text(r.backend), route: text(r.route), errorCode: text(r.errorCode), firewall: text(r.firewall) };
}

const jsonRow = (r: LedgerRow) => ({
  request_id: r.requestId, key_id: r.keyId, model: r.model, backend: r.backend, route: r.route, endpoint: r.endpoint,
  status: int(r.status), error_code: r.errorCode, prompt_tokens: int(r.promptTokens), completion_tokens: int(r.completionTokens),
  tokens_estimated: r.tokensEstimated ? 1 : 0, cost_micros: int(r.costMicros), billing_basis: r.billingBasis, stream: r.stream ? 1 : 0,
  started_at: int(r.startedAt), total_ms: float(r.totalMs) ?? 0, upstream_ms: float(r.upstreamMs), queued_ms: float(r.queuedMs), ttft_ms: float(r.ttftMs),
  firewall: r.firewall, firewall_verdict: r.firewallVerdict, firewall_rules: text(r.firewallRules), firewall_ms: float(r.firewallMs),
  tools_ms: float(r.toolsMs),
  detail: r.detail ? text(JSON.stringify(r.detail)) : null, // serialised here, off the request path
});
const COLUMNS = `request_id, key_id, model, backend, route, endpoint, status, error_code, prompt_tokens, completion_tokens, tokens_estimated,
  cost_micros, billing_basis, stream, started_at, total_ms, upstream_ms, queued_ms, ttft_ms, firewall, firewall_verdict, firewall_rules,
  firewall_ms, tools_ms, detail`;
const INSERT_LEDGER = `INSERT INTO ledger (${COLUMNS}) SELECT ${COLUMNS} FROM json_populate_recordset(NULL::ledger, $1::text::json)
  ON CONFLICT (started_at, request_id) DO NOTHING`;
// Only when some rows were there already: which ones went in. (Counting them with a WITH … RETURNING on every
// batch made the insert alone 2.4x slower in a probe here; in test/bench/postgres-ledger.ts the two were within noise.)
const INSERT_LEDGER_RETURNING = `${INSERT_LEDGER} RETURNING request_id`;
/** Thrown inside a batch's transaction to roll it back when some of its rows were in the ledger already. */
const SOME_WRITTEN_BEFORE = Symbol("some rows were in the ledger already");

const upsertUsage = (p: RollupPeriod) => `INSERT INTO usage_${p} AS t
  SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::float8[], $11::float8[], $12::int8[])
  ON CONFLICT (bucket_ms, key_id, model, backend) DO UPDATE SET requests = t.requests + excluded.requests, errors = t.errors + excluded.errors,
    prompt_tokens = t.prompt_tokens + excluded.prompt_tokens, completion_tokens = t.completion_tokens + excluded.completion_tokens,
    cost_micros = t.cost_micros + excluded.cost_micros, total_ms_sum = t.total_ms_sum + excluded.total_ms_sum,
    ttft_ms_sum = t.ttft_ms_sum + excluded.ttft_ms_sum, ttft_count = t.ttft_count + excluded.ttft_count`;
const upsertErrors = (p: RollupPeriod) => `INSERT INTO errors_${p} AS t SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[])
  ON CONFLICT (bucket_ms, key_id, error_code) DO UPDATE SET requests = t.requests + excluded.requests`;
const upsertLatency = (p: RollupPeriod) => `INSERT INTO latency_${p} AS t SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $5::int8[])
  ON CONFLICT (bucket_ms, key_id, metric, bin) DO UPDATE SET requests = t.requests + excluded.requests`;

export class PgLedgerWriter implements Ledger {
  private queue: LedgerRow[] = [];
  private inFlight = 0;
  private writing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerDueAt = 0;
  private failedWrites = 0;
  private closed = false;
  private droppedRows = 0;
  private appendedRows = 0;
  private droppedSinceLog = 0;
  private nextPruneAt = 0;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly retentionDays: () => number | undefined;
  private readonly closeTimeoutMs: number;
  private readonly onWritten: (rows: readonly LedgerRow[]) => void;

  constructor(
    private readonly client: PgClient,
    options: PgLedgerOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1024;
    this.flushIntervalMs = options.flushIntervalMs ?? 50;
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.retentionDays = options.retentionDays ?? (() => undefined);
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
    this.onWritten = options.onWritten ?? (() => {});
  }

  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Cost of a key's rows queued here since an instant (not yet in the spend figures read from the database). */
  queuedCostSince(keyId: string, sinceMs: number): number {
    let micros = 0;
    for (const row of this.queue) if (row.keyId === keyId && row.startedAt >= sinceMs) micros += row.costMicros;
    return micros;
  }

  /** Rows dropped because the buffer was full while PostgreSQL was away, or because PostgreSQL refused them. */
  get dropped(): number {
    return this.droppedRows;
  }

  /** Rows appended since start (with ledger_via: stream, the rows that took the batch path instead). */
  get appended(): number {
    return this.appendedRows;
  }

  append(row: LedgerRow): void {
    this.appendedRows++;
    if (this.pending >= this.maxBuffered) {
      this.droppedRows++;
      if (this.droppedSinceLog++ === 0) log.warn(`ledger: ${this.maxBuffered} rows are waiting for PostgreSQL (storage.max_buffered_rows); dropping new rows until it answers`);
      return;
    }
    this.queue.push(row);
    this.schedule(this.queue.length >= this.batchSize || this.closed ? 0 : this.flushIntervalMs);
  }

  /** Writes what is queued now; resolves when done or when a write failed (the rows stay queued and are retried). */
  async flush(): Promise<void> {
    this.clearTimer();
    await this.drain();
  }

  async close(): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + this.closeTimeoutMs;
    for (let delay = 50; this.pending > 0; delay = Math.min(delay * 2, 1_000)) {
      // A hung server (not refusing, just silent) must not hold the shutdown past the deadline.
      await Promise.race([this.flush(), Bun.sleep(Math.max(0, deadline - Date.now()))]);
      if (this.pending === 0) break;
      if (Date.now() >= deadline) {
        log.warn(`ledger: PostgreSQL did not take ${this.pending} rows within ${this.closeTimeoutMs} ms of shutdown; they are lost`);
        break;
      }
      await Bun.sleep(delay);
    }
    this.clearTimer();
  }

  /** Writes batch after batch until the queue is empty or a write fails. One drain at a time. */
  private async drain(): Promise<void> {
    while (this.writing) await this.writing;
    while (this.queue.length > 0) {
      const rows = this.queue.length <= ROWS_PER_WRITE ? this.queue : this.queue.slice(0, ROWS_PER_WRITE);
      this.queue = rows === this.queue ? [] : this.queue.slice(ROWS_PER_WRITE);
      this.inFlight = rows.length;
      let ok = false;
      this.writing = this.write(rows).then(
        () => void (ok = true),
        (error) => this.failed(rows, error),
      );
      await this.writing;
      this.writing = undefined;
      this.inFlight = 0;
      if (!ok) return;
    }
    void this.pruneIfDue();
  }

  private async write(rows: LedgerRow[]): Promise<void> {
    await this.writeRows(rows);
    if (this.failedWrites > 0) log.info(`ledger: writing to PostgreSQL again after ${this.failedWrites} failed attempts (${this.pending} rows were waiting)`);
    this.failedWrites = 0;
    this.droppedSinceLog = 0;
  }

  /**
   * Writes rows now, each once (rows already in the ledger are skipped). A row PostgreSQL refuses (a data or
   * constraint error) would fail its batch forever: the batch is halved until that row is alone, which is dropped
   * (counted, logged with its request id), so one bad row never holds up the rest. Rejects when PostgreSQL cannot
   * be reached; the rows written before that stay written, and a retry of the same rows skips them.
   */
  async writeRows(rows: readonly LedgerRow[]): Promise<void> {
    try {
      await this.commit(rows);
    } catch (error) {
      if (!isRowError(error)) throw error;
      if (rows.length === 1) {
        this.droppedRows++;
        log.warn(`ledger: PostgreSQL refused the row of request ${rows[0]!.requestId} (${describe(error)}); dropped it`);
        return;
      }
      const half = Math.ceil(rows.length / 2);
      await this.writeRows(rows.slice(0, half));
      await this.writeRows(rows.slice(half));
    }
  }

  /**
   * One transaction: the rows not yet in the ledger, and those rows' roll-up sums. Usually every row is new; when
   * the insert counts fewer, it is rolled back and done again naming the rows it inserts (`exact`).
   */
  private async commit(rows: readonly LedgerRow[], exact = false): Promise<void> {
    const clean = rows.map(withoutNul);
    const batch = JSON.stringify(clean.map(jsonRow));
    const written = await this.client.transaction(async (tx) => {
      let fresh = clean;
      if (exact) fresh = onlyInserted(clean, (await this.client.rows<{ request_id: string }>(INSERT_LEDGER_RETURNING, [batch], tx)).map((r) => r.request_id));
      else if ((await this.client.affected(INSERT_LEDGER, [batch], tx)) < clean.length) throw SOME_WRITTEN_BEFORE;
      const accumulator = new RollupAccumulator();
      accumulator.add(fresh, 0);
      const flat = flattenRollups(accumulator);
      for (const period of PERIODS) {
        const { usage, errors, latency } = flat[period];
        await this.client.rows(upsertUsage(period), [
          usage.map((u) => u[0]), usage.map((u) => u[1]), usage.map((u) => u[2]), usage.map((u) => u[3]),
          usage.map((u) => u[4].requests), usage.map((u) => u[4].errors), usage.map((u) => u[4].promptTokens), usage.map((u) => u[4].completionTokens),
          usage.map((u) => u[4].costMicros), usage.map((u) => u[4].totalMsSum), usage.map((u) => u[4].ttftMsSum), usage.map((u) => u[4].ttftCount),
        ], tx);
        if (errors.length) await this.client.rows(upsertErrors(period), [errors.map((e) => e[0]), errors.map((e) => e[1]), errors.map((e) => e[2]), errors.map((e) => e[3])], tx);
        await this.client.rows(upsertLatency(period), [latency.map((l) => l[0]), latency.map((l) => l[1]), latency.map((l) => l[2]), latency.map((l) => l[3]), latency.map((l) => l[4])], tx);
      }
      return fresh;
    }).catch((error: unknown) => {
      if (error === SOME_WRITTEN_BEFORE) return undefined;
      throw error;
    });
    if (written) this.onWritten(written);
    else await this.commit(rows, true);
  }

  // The batch goes back to the front of the queue and is retried later (what of it was written is skipped then).
  private failed(rows: LedgerRow[], error: unknown): void {
    this.queue = rows.concat(this.queue);
    this.failedWrites++;
    if (this.failedWrites === 1) log.warn(`ledger: could not write ${rows.length} rows to PostgreSQL (${describe(error)}); keeping them queued (${this.queue.length}) and retrying`);
    this.schedule(Math.min(this.flushIntervalMs * 2 ** this.failedWrites, MAX_RETRY_DELAY_MS));
  }

  private schedule(delayMs: number): void {
    const dueAt = Date.now() + delayMs;
    if (this.timer !== undefined && this.timerDueAt <= dueAt) return;
    this.clearTimer();
    this.timerDueAt = dueAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delayMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  // One chunk per drain while old rows remain, then nothing for an hour. Roll-ups keep their sums.
  private async pruneIfDue(now = Date.now()): Promise<void> {
    const days = this.retentionDays();
    if (days === undefined || now < this.nextPruneAt) return;
    this.nextPruneAt = now + PRUNE_INTERVAL_MS / 60;
    try {
      const deleted = await this.client.rows("DELETE FROM ledger WHERE id IN (SELECT id FROM ledger WHERE started_at < $1 LIMIT $2) RETURNING 1", [now - days * PERIOD_MS.daily, PRUNE_CHUNK]);
      if (deleted.length < PRUNE_CHUNK) this.nextPruneAt = now + PRUNE_INTERVAL_MS;
    } catch (error) {
      log.warn(`ledger: could not delete rows past storage.retention_days (${describe(error)}); retrying later`);
    }
  }
}

/** The rows INSERT_LEDGER inserted, by their ids; a row twice in the batch counts once. */
function onlyInserted(rows: readonly LedgerRow[], ids: readonly string[]): LedgerRow[] {
  const left = new Set(ids);
  return rows.filter((row) => left.delete(row.requestId));
}

/** SQLSTATE classes 22 (data exception) and 23 (integrity): the rows are wrong, not the connection. */
function isRowError(error: unknown): boolean {
  return /^2[23]/.test(String((error as { errno?: unknown })?.errno ?? ""));
}
