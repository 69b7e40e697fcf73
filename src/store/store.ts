// What the gateway needs from a store, met by the embedded SQLite one (sqlite-store.ts, synchronous) and by
// PostgreSQL (postgres/store.ts, shared by any number of gateways). The request path never waits on the database:
// key lookups are cached (a PostgreSQL miss returns a promise, a SQLite one a value), accounts and their balances
// are held in memory, ledger rows and credit deductions are queued and written in batches. Admin and dashboard
// calls return `Maybe`: a value from SQLite, a promise from PostgreSQL; their handlers await either.
import type { Database } from "bun:sqlite";
import type { ApiKey, KeySettings } from "../auth/key-record.ts";
import type { Account, AccountSettings } from "../auth/account-record.ts";
import type { LedgerRow } from "./ledger.ts";
import type { Deduction, TransactionKind, TransactionQuery, TransactionRow } from "./accounts.ts";
import type { StoredResponse } from "./responses.ts";
import type { UsageQuery, UsageReport } from "./usage.ts";
import type { Overview, OverviewWindow } from "../api/dashboard-overview.ts";
import type { DashboardUsageQuery } from "../api/dashboard-usage.ts";
import type { RequestFilters } from "../api/dashboard-requests.ts";

export type Maybe<T> = T | Promise<T>;

export interface KeyDirectory {
  create(settings: Partial<KeySettings> & { name: string }, secret?: string): Maybe<{ key: ApiKey; secret: string }>;
  /** The request path: cached. Revoked and expired keys are returned; the caller says why it refuses. */
  findBySecret(secret: string, now?: number): ApiKey | undefined | Promise<ApiKey | undefined>;
  get(id: string): Maybe<ApiKey | undefined>;
  list(): Maybe<ApiKey[]>;
  update(id: string, patch: Partial<KeySettings>): Maybe<ApiKey | undefined>;
  revoke(id: string): Maybe<ApiKey | undefined>;
  ensure(secret: string, settings: Partial<KeySettings> & { name: string }): Maybe<ApiKey>;
}

export interface AccountDirectory {
  create(settings: Partial<AccountSettings> & { name: string }): Maybe<Account>;
  /** The request path (every request of a key with an account): always from memory. */
  get(id: string, now?: number): Account | undefined;
  /** Admin checks: like get, and on PostgreSQL also one created on another gateway a moment ago. */
  find(id: string): Maybe<Account | undefined>;
  list(): Maybe<Account[]>;
  update(id: string, patch: Partial<AccountSettings>): Maybe<Account | undefined>;
  /** Admission: the stored balance less deductions handed to the store and not yet written. */
  balanceMicros(id: string): number;
  addTransaction(accountId: string, kind: TransactionKind, micros: number, note: string | null): Maybe<TransactionRow>;
  /**
   * Takes the batch over: written at once (SQLite, throws on failure) or queued and retried (PostgreSQL: the
   * promise resolves once the batch is in the database; it never rejects).
   */
  writeDeductions(deductions: readonly Deduction[]): void | Promise<void>;
  /** Micro-dollars deducted since an instant: a budget's starting figure. */
  deductedSince(accountId: string, sinceMs: number): number;
  transactions(query: TransactionQuery): Maybe<TransactionRow[]>;
}

export interface Ledger {
  /** Rows waiting to be written. */
  readonly pending: number;
  /** O(1), no I/O. */
  append(row: LedgerRow): void;
  /** Writes what is queued (`withRollups`: the roll-up sums too, for a dashboard read). */
  flush(withRollups?: boolean): Maybe<void>;
  /** Writes everything and stops (SIGTERM); rows appended afterwards are still written. */
  close(): Maybe<void>;
}

export interface ResponseDirectory {
  save(id: string, keyId: string | null, stored: StoredResponse, retentionDays?: number): Maybe<void>;
  get(id: string, keyId: string | null, retentionDays?: number): Maybe<StoredResponse | undefined>;
  delete(id: string, keyId: string | null): Maybe<boolean>;
}

/** Reports over the ledger and its roll-ups; each includes rows queued in this gateway (it flushes first). */
export interface StoreReads {
  usage(query: UsageQuery): Maybe<UsageReport>;
  overview(window: OverviewWindow, keyId: string | undefined, nowMs: number): Maybe<Overview>;
  dashboardUsage(query: DashboardUsageQuery): Maybe<UsageReport>;
  requests(filters: RequestFilters): Maybe<unknown>;
  requestDetail(requestId: string, atMs: number | undefined, keyId: string | undefined): Maybe<unknown>;
  keysWithUse(keys: readonly ApiKey[], nowMs: number): Maybe<unknown>;
}

export interface Store {
  readonly kind: "sqlite" | "postgres";
  readonly keys: KeyDirectory;
  readonly accounts: AccountDirectory;
  readonly ledger: Ledger;
  readonly responses: ResponseDirectory;
  readonly reads: StoreReads;
  /** The SQLite database when the store is one (the local search index and tests read it); undefined on PostgreSQL. */
  readonly sqlite: Database | undefined;
  /** A key's spend since an instant, for its budgets (synchronous: admission opens a budget period with it). */
  spentMicrosSince(keyId: string, sinceMs: number): number;
  /** Resolves when the store can serve: migrated, caches loaded. Rejects with a message for the operator. */
  readonly ready: Promise<void>;
  /** Prometheus lines about the store. */
  metrics(): string[];
  /** Writes everything queued and closes the connection(s). */
  close(): Maybe<void>;
}
