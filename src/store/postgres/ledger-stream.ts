// storage.ledger_via: stream — the PostgreSQL side of the ledger stream. The Redis side is FINISH
// (limits/redis-scripts.ts), which adds each request's row in the same script call that settles the request.
// Every gateway runs one drain: it reads entries through the consumer group (each entry goes to one gateway),
// writes them to PostgreSQL (idempotent: the ledger skips a row already there), and only then acks and deletes
// them, so the stream holds just the rows not yet in PostgreSQL. Entries a gateway read and never acked (it was
// killed mid-write) are taken over by any gateway once they have waited claimIdleMs (XAUTOCLAIM); after a failed
// write the drain reads its own unacked entries again first. A row is lost only if Redis loses it (run Redis with
// appendonly for that).
import { randomBase62 } from "../../auth/key-record.ts";
import { RedisConnection } from "../../limits/redis-connection.ts";
import { ACK_DELETE } from "../../limits/redis-scripts.ts";
import { maskUrl } from "../../config/mask-url.ts";
import { log } from "../../observability/log.ts";
import type { LedgerRow } from "../ledger.ts";
import { describe } from "./client.ts";
import type { PgLedgerWriter } from "./ledger.ts";

export interface LedgerStreamSettings {
  /** limits.url, limits.prefix, limits.timeout_ms, limits.heartbeat_ms. */
  url: string;
  prefix: string;
  timeoutMs: number;
  heartbeatMs: number;
  /** Entries read and not acked for this long are another gateway's to take over (limits.lease_ms). */
  claimIdleMs: number;
  /** How often an idle drain looks for new entries. */
  pollMs: number;
}

export const LEDGER_GROUP = "ledger";
export const ledgerStreamKey = (prefix: string) => `${prefix}ledger`;

/** Entries per read: one PostgreSQL transaction each (2,000 drained about 7 % fewer rows/s here). */
const ROWS_PER_READ = 5_000;
const MAX_RETRY_DELAY_MS = 5_000;
/** How often the backlog gauges are read from Redis. */
const SAMPLE_MS = 1_000;

type Entry = [id: string, fields: string[] | null];

export class LedgerStreamDrain {
  private readonly connection: RedisConnection;
  private readonly key: string;
  private readonly consumer = `gw-${randomBase62(8)}`;
  private readonly loop: Promise<void>;
  private stopped = false;
  private wake: (() => void) | undefined;
  /** After a failed write: this consumer's unacked entries are read again before new ones. */
  private rereadOwn = false;
  private claimCursor = "0-0";
  private nextClaimAt = 0;
  private sampledAt = 0;
  private failures = 0;
  private rowsWritten = 0;
  private rowsClaimed = 0;
  private backlog = 0;
  private unacked = 0;

  constructor(
    private readonly settings: LedgerStreamSettings,
    private readonly writer: PgLedgerWriter,
  ) {
    this.key = ledgerStreamKey(settings.prefix);
    // A connection of its own: a read of thousands of rows must not delay the limits' calls.
    this.connection = new RedisConnection(settings.url, { timeoutMs: settings.timeoutMs, heartbeatMs: settings.heartbeatMs });
    this.nextClaimAt = Date.now() + settings.claimIdleMs;
    this.loop = this.run();
  }

  /** Drains what the stream holds, then stops (at most `deadlineMs`); what is left stays in Redis for the others. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await Promise.race([this.loop, Bun.sleep(deadlineMs)]);
    this.connection.close();
  }

  metrics(): string[] {
    return [
      "# HELP sluice_ledger_stream_backlog Ledger rows in the Redis stream not yet written to PostgreSQL (storage.ledger_via: stream), as last read.",
      "# TYPE sluice_ledger_stream_backlog gauge",
      `sluice_ledger_stream_backlog ${this.backlog}`,
      "# HELP sluice_ledger_stream_unacked Of those, rows a gateway has read and not yet written (taken over after limits.lease_ms).",
      "# TYPE sluice_ledger_stream_unacked gauge",
      `sluice_ledger_stream_unacked ${this.unacked}`,
      "# HELP sluice_ledger_stream_written_total Rows this gateway wrote from the stream to PostgreSQL.",
      "# TYPE sluice_ledger_stream_written_total counter",
      `sluice_ledger_stream_written_total ${this.rowsWritten}`,
      "# HELP sluice_ledger_stream_claimed_total Rows this gateway took over from a gateway that read them and stopped.",
      "# TYPE sluice_ledger_stream_claimed_total counter",
      `sluice_ledger_stream_claimed_total ${this.rowsClaimed}`,
      "# HELP sluice_ledger_stream_bypassed_total Rows this gateway wrote in batches instead: their limits were decided without Redis, the call failed, or the stream held storage.max_buffered_rows.",
      "# TYPE sluice_ledger_stream_bypassed_total counter",
      `sluice_ledger_stream_bypassed_total ${this.writer.appended}`,
    ];
  }

  private async run(): Promise<void> {
    await this.connection.first;
    await this.createGroup().catch(() => {});
    for (;;) {
      let idle = false;
      try {
        if (!this.connection.healthy) idle = true;
        else {
          const entries = await this.next();
          if (entries.length) await this.write(entries);
          else idle = true;
          if (idle && Date.now() - this.sampledAt >= SAMPLE_MS) await this.sample();
        }
        if (this.failures > 0 && this.connection.healthy) log.info(`ledger: moving rows from the Redis stream to PostgreSQL again after ${this.failures} failed attempts`);
        if (this.connection.healthy) this.failures = 0;
      } catch (error) {
        if (String((error as Error).message).startsWith("NOGROUP")) {
          // Redis restarted or was flushed: the group is made again, from the stream's first entry.
          await this.createGroup().catch(() => {});
          continue;
        }
        if (this.stopped) return;
        this.rereadOwn = true;
        if (this.failures++ === 0) log.warn(`ledger: could not move rows from the Redis stream at ${maskUrl(this.settings.url)} to PostgreSQL (${describe(error)}); they stay in Redis, retrying`);
        await this.pause(Math.min(this.settings.pollMs * 2 ** this.failures, MAX_RETRY_DELAY_MS));
        continue;
      }
      if (idle && this.stopped) return;
      if (idle) await this.pause(this.settings.pollMs);
    }
  }

  /** This consumer's unacked entries after a failure, else entries of stopped gateways when due, else new ones. */
  private async next(): Promise<Entry[]> {
    if (this.rereadOwn) {
      const own = await this.read("0");
      if (own.length) return own;
      this.rereadOwn = false;
    }
    if (Date.now() >= this.nextClaimAt) {
      const reply = (await this.connection.send("XAUTOCLAIM", [this.key, LEDGER_GROUP, this.consumer, String(this.settings.claimIdleMs), this.claimCursor, "COUNT", String(ROWS_PER_READ)])) as [string, (Entry | null)[], string[]];
      this.claimCursor = reply[0];
      if (this.claimCursor === "0-0") {
        this.nextClaimAt = Date.now() + Math.max(100, this.settings.claimIdleMs / 2);
        await this.forgetStoppedConsumers();
      }
      const claimed = reply[1].filter((entry): entry is Entry => entry !== null);
      if (claimed.length) {
        this.rowsClaimed += claimed.length;
        return claimed;
      }
    }
    return this.read(">");
  }

  private async read(from: ">" | "0"): Promise<Entry[]> {
    const reply = (await this.connection.send("XREADGROUP", ["GROUP", LEDGER_GROUP, this.consumer, "COUNT", String(ROWS_PER_READ), "STREAMS", this.key, from])) as Record<string, Entry[]> | [string, Entry[]][] | null;
    if (!reply) return [];
    // RESP3 answers a map of stream → entries; RESP2 a list of [stream, entries].
    const entries = Array.isArray(reply) ? reply[0]?.[1] : reply[this.key];
    return entries ?? [];
  }

  /** Into PostgreSQL, then acked and deleted. A row that is not a ledger row (never written by sluice) is dropped. */
  private async write(entries: Entry[]): Promise<void> {
    const rows: LedgerRow[] = [];
    for (const [id, fields] of entries) {
      const row = parseRow(fields);
      if (row) rows.push(row);
      else log.warn(`ledger: entry ${id} of the Redis stream ${this.key} is not a ledger row; dropped it`);
    }
    await this.writer.writeRows(rows);
    await this.connection.evalScript(ACK_DELETE, [this.key], [LEDGER_GROUP, ...entries.map(([id]) => id)]);
    this.rowsWritten += rows.length;
  }

  /**
   * Every gateway that ever read is a consumer of the group: those that hold nothing and were silent for twice the
   * takeover time (stopped gateways: a live drain reads every poll) are removed, so restarts do not pile them up.
   * Removing a live one would do no harm either: its next read makes it again.
   */
  private async forgetStoppedConsumers(): Promise<void> {
    const consumers = (await this.connection.send("XINFO", ["CONSUMERS", this.key, LEDGER_GROUP])) as ({ name: string; pending: number; idle: number } | unknown[])[];
    for (const raw of consumers) {
      const consumer = Array.isArray(raw) ? (Object.fromEntries(pairs(raw)) as { name: string; pending: number; idle: number }) : raw;
      if (consumer.name === this.consumer || Number(consumer.pending) > 0 || Number(consumer.idle) < this.settings.claimIdleMs * 2) continue;
      await this.connection.send("XGROUP", ["DELCONSUMER", this.key, LEDGER_GROUP, consumer.name]);
    }
  }

  private async sample(): Promise<void> {
    this.sampledAt = Date.now();
    this.backlog = Number(await this.connection.send("XLEN", [this.key]));
    const summary = (await this.connection.send("XPENDING", [this.key, LEDGER_GROUP])) as [number, ...unknown[]];
    this.unacked = Number(summary[0]);
  }

  /** From the stream's first entry, so rows added before any gateway made the group are drained too. */
  private async createGroup(): Promise<void> {
    try {
      await this.connection.send("XGROUP", ["CREATE", this.key, LEDGER_GROUP, "0", "MKSTREAM"]);
    } catch (error) {
      if (!String((error as Error).message).startsWith("BUSYGROUP")) throw error;
    }
  }

  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** [k1, v1, k2, v2…] (a RESP2 reply) as [key, value] pairs. */
function pairs(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let at = 0; at + 1 < flat.length; at += 2) out.push([String(flat[at]), flat[at + 1]]);
  return out;
}

/** An entry's row; undefined for anything else (an entry deleted while pending comes back without fields). */
function parseRow(fields: string[] | null): LedgerRow | undefined {
  if (!Array.isArray(fields)) return undefined;
  const at = fields.indexOf("row");
  if (at < 0 || at % 2 !== 0) return undefined;
  try {
    const row = JSON.parse(fields[at + 1]!) as LedgerRow;
    return typeof row?.requestId === "string" && typeof row.startedAt === "number" ? row : undefined;
  } catch {
    return undefined;
  }
}
