// The shared store: keys, accounts and credits, the ledger and its roll-ups, stored Responses in one PostgreSQL
// database that any number of gateways use at once. Opening migrates the schema (versioned, under an advisory
// lock), loads accounts and this period's spend into memory and starts watching for changes (changes.ts).
import type { Store } from "../store.ts";
import type { StoreOptions } from "../sqlite-store.ts";
import { log } from "../../observability/log.ts";
import { GatewayError } from "../../errors.ts";
import { maskUrl } from "../../config/mask-url.ts";
import { describe, PgClient } from "./client.ts";
import { migratePostgres } from "./schema.ts";
import { PgKeyStore } from "./key-store.ts";
import { PgAccountStore } from "./account-store.ts";
import { PgLedgerWriter } from "./ledger.ts";
import { LedgerStreamDrain, type LedgerStreamSettings } from "./ledger-stream.ts";
import { PgResponseStore } from "./responses.ts";
import { PgReads } from "./reads.ts";
import { ChangeWatcher } from "./changes.ts";
import { SPEND_REFRESH_MS, SpendCache } from "./spend-cache.ts";

export interface PgStoreOptions extends StoreOptions {
  /** storage.max_buffered_rows: ledger rows held while PostgreSQL is away. */
  maxBufferedRows?: number;
  /** Tests: smaller batches and intervals. */
  ledger?: { batchSize?: number; flushIntervalMs?: number };
  /** storage.ledger_via: stream — this gateway also drains the limits' Redis stream of ledger rows. */
  ledgerStream?: Omit<LedgerStreamSettings, "pollMs">;
}

const BALANCE_REFRESH_EVERY = 2; // polls (of 500 ms)

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

export function openPostgresStore(url: string, options: PgStoreOptions): Store {
  const client = new PgClient(url);
  const spend = new SpendCache(client);
  let ticks = 0;
  let spendAt = Date.now();
  // The watcher drops the caches on other gateways' changes (the stores below exist by the time it first calls);
  // the stores announce their own changes through it.
  const watcher: ChangeWatcher = new ChangeWatcher(
    client,
    () => {
      keys.clearCache();
      void accounts.load().catch(() => {});
    },
    async () => {
      if (++ticks % BALANCE_REFRESH_EVERY === 0) await accounts.refreshBalances();
      if (Date.now() - spendAt >= SPEND_REFRESH_MS) {
        spendAt = Date.now();
        await spend.refresh();
      }
    },
  );
  const keys = new PgKeyStore(client, watcher);
  const accounts = new PgAccountStore(client, spend, watcher);
  const ledger = new PgLedgerWriter(client, {
    retentionDays: options.retentionDays,
    maxBuffered: options.maxBufferedRows,
    ...options.ledger,
    onWritten: (rows) => {
      for (const row of rows) if (row.keyId !== null && row.costMicros > 0) spend.addKeySpend(row.keyId, row.startedAt, row.costMicros);
    },
  });
  let drain: LedgerStreamDrain | undefined;
  const ready = (async () => {
    try {
      const version = await migratePostgres(client);
      // Started once the schema is there: the stream's rows need its unique index to be written once.
      if (options.ledgerStream) drain = new LedgerStreamDrain({ ...options.ledgerStream, pollMs: options.ledger?.flushIntervalMs ?? 50 }, ledger);
      await accounts.load();
      await spend.refresh();
      await watcher.start();
      client.serving = true;
      log.info(`storage: PostgreSQL at ${maskUrl(url)} (schema version ${version})`);
    } catch (error) {
      await drain?.stop(0);
      await client.close().catch(() => {});
      throw new Error(`storage.url: cannot use PostgreSQL at ${maskUrl(url)}: ${error instanceof GatewayError ? error.message : describe(error)}`);
    }
  })();
  ready.catch(() => {}); // the caller awaits it; this keeps an early failure from being reported as unhandled first

  return {
    kind: "postgres",
    keys,
    accounts,
    ledger,
    responses: new PgResponseStore(client),
    reads: new PgReads(client, ledger),
    sqlite: undefined,
    spentMicrosSince(keyId, sinceMs) {
      return spend.keySpent(keyId, sinceMs) + ledger.queuedCostSince(keyId, sinceMs);
    },
    ready,
    metrics: () => [
      "# HELP sluice_store_up 1 while the shared store (PostgreSQL) answered its last query.",
      "# TYPE sluice_store_up gauge",
      `sluice_store_up ${client.up ? 1 : 0}`,
      "# HELP sluice_ledger_dropped_total Ledger rows dropped: the buffer was full while PostgreSQL was unreachable, or PostgreSQL refused the row.",
      "# TYPE sluice_ledger_dropped_total counter",
      `sluice_ledger_dropped_total ${ledger.dropped}`,
      ...(drain?.metrics() ?? []),
    ],
    async close() {
      await watcher.stop();
      await drain?.stop(5_000);
      await Promise.all([ledger.close(), accounts.close()]);
      await client.close().catch(() => {});
    },
  };
}
