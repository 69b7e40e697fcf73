// The running gateway's shared state: the current config snapshot (swapped atomically on reload), metrics,
// backend health, and the services behind keys, limits and the ledger. Request handlers read
// `gateway.snapshot` once and keep that snapshot to the end.
import { Database } from "bun:sqlite";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Snapshot } from "./config/resolve.ts";
import { concurrencyMetrics, labels, Metrics } from "./observability/metrics.ts";
import { HealthMonitor } from "./upstream/health.ts";
import { openDatabase } from "./store/database.ts";
import { openSqliteStore } from "./store/sqlite-store.ts";
import { isPostgresUrl, openPostgresStore } from "./store/postgres/store.ts";
import type { AccountDirectory, KeyDirectory, Ledger, Store } from "./store/store.ts";
import { log } from "./observability/log.ts";
import { SessionSigner } from "./auth/session.ts";
import { ANONYMOUS, Authenticator, type Principal } from "./auth/authenticate.ts";
import { randomBase62 } from "./auth/key-record.ts";
import type { ClientAddress } from "./client-ip.ts";
import { Limits, type AccountLimits, type LimitService } from "./pipeline/admission.ts";
import { CreditBook } from "./billing/credits.ts";
import { BudgetBook } from "./limits/budget.ts";
import { limitServiceFor } from "./limits/from-config.ts";
import { RoutingState } from "./routing/routing-state.ts";
import { PluginHost } from "./plugins/host.ts";
import { JudgeCache } from "./firewall/judge.ts";
import { LocalSearchIndex } from "./tools/search.ts";
import { VectorDatabases } from "./vector/databases.ts";

export interface GatewayOptions {
  /** Folder for the SQLite store and the session secret; undefined = in memory (tests, `sluice openapi`). */
  dataDir?: string;
  /** The plugins folder (processors/, tools/, firewalls/); loaded by the caller with `plugins.loadAll()`. */
  pluginsDir?: string;
  /** Another limit service than this process's memory (a worker asking its supervisor: src/workers/ipc-limits.ts). */
  limits?: (accounts: AccountLimits) => LimitService;
}

export class Gateway {
  readonly metrics = new Metrics();
  readonly health: HealthMonitor;
  /** Keys, accounts, the ledger and stored Responses: SQLite (the default) or PostgreSQL (storage.url). */
  readonly store: Store;
  /** Resolves once the store is ready (PostgreSQL: migrated, caches loaded); serve after it. */
  readonly ready: Promise<void>;
  readonly keys: KeyDirectory;
  readonly accounts: AccountDirectory;
  readonly credits: CreditBook;
  readonly sessions: SessionSigner;
  readonly ledger: Ledger;
  readonly limits: LimitService;
  readonly routing = new RoutingState();
  readonly plugins: PluginHost;
  /** Firewall judges' verdicts by conversation, kept across reloads. */
  readonly judgeCache = new JudgeCache();
  /** The `local` search provider's documents (SQLite FTS5 in the store). */
  readonly localSearch: LocalSearchIndex;
  readonly vectors: VectorDatabases;
  private readonly authenticator: Authenticator;
  private current: Snapshot;

  constructor(snapshot: Snapshot, options: GatewayOptions = {}) {
    this.current = snapshot;
    this.plugins = new PluginHost(options.pluginsDir ?? "plugins");
    this.health = new HealthMonitor(() => this.current, this.metrics, this.routing.stats);
    const retentionDays = () => this.current.storage.retention_days;
    const url = snapshot.storage.url;
    this.store = isPostgresUrl(url)
      ? openPostgresStore(url, { retentionDays, maxBufferedRows: snapshot.storage.max_buffered_rows, ledgerStream: ledgerStreamOf(snapshot) })
      : openSqliteStore(storageFile(snapshot, options.dataDir), { retentionDays });
    this.ready = this.store.ready;
    this.keys = this.store.keys;
    this.accounts = this.store.accounts;
    this.credits = new CreditBook(this.accounts);
    this.sessions = new SessionSigner(snapshot.auth.session_secret ?? sessionSecret(options.dataDir));
    this.authenticator = new Authenticator(this.keys, this.sessions, this.accounts);
    this.ledger = this.store.ledger;
    this.localSearch = new LocalSearchIndex(this.store.sqlite ?? searchDatabase(options.dataDir));
    this.vectors = new VectorDatabases(options.dataDir);
    const accountLimits: AccountLimits = { store: this.accounts, credits: this.credits, budgets: new BudgetBook((accountId, sinceMs) => (this.credits.flush(), this.accounts.deductedSince(accountId, sinceMs))) };
    const keySpent = (keyId: string, sinceMs: number) => this.store.spentMicrosSince(keyId, sinceMs); // rows still queued count too
    const local = new Limits(keySpent, accountLimits);
    const loaders = { keySpent, accountSpent: (accountId: string, sinceMs: number) => (this.credits.flush(), this.accounts.deductedSince(accountId, sinceMs)) };
    const ledgerStream = snapshot.storage.ledger_via === "stream" ? { batched: this.ledger, maxRows: snapshot.storage.max_buffered_rows } : undefined;
    this.limits = options.limits?.(accountLimits) ?? limitServiceFor(snapshot.raw.limits, local, loaders, ledgerStream);
    this.metrics.addCollector(() => this.limits.metricLines?.() ?? []);
    this.metrics.addCollector(() => concurrencyMetrics(this.limits.concurrencyStats(), this.current.server.metrics_auth));
    this.metrics.addCollector(() => breakerMetrics(this.routing));
    this.metrics.addCollector(() => ["# HELP sluice_ledger_pending Ledger rows waiting to be written.", "# TYPE sluice_ledger_pending gauge", `sluice_ledger_pending ${this.ledger.pending}`]);
    this.metrics.addCollector(() => this.store.metrics());
  }

  get snapshot(): Snapshot {
    return this.current;
  }

  /** Who is calling: the key behind the bearer token or session cookie; everyone when auth.mode is none. */
  principal(req: Request, clientIp: ClientAddress, snapshot = this.current): Principal | Promise<Principal> {
    return snapshot.auth.mode === "none" ? ANONYMOUS : this.authenticator.authenticate(req, clientIp);
  }

  /** Swaps in a new snapshot; requests already running finish on the one they started with. */
  replaceSnapshot(next: Snapshot): void {
    const intervalChanged = next.health.interval_ms !== this.current.health.interval_ms;
    this.current = next;
    if (intervalChanged) this.health.start();
    else void this.health.checkAll();
  }

  /** The SQLite store's database (tests read it); a PostgreSQL store has none. */
  get db(): Database {
    if (!this.store.sqlite) throw new Error("the store is PostgreSQL (storage.url): there is no SQLite database");
    return this.store.sqlite;
  }

  /** Flushes the ledger and credit deductions and closes the store (SIGTERM); a promise on PostgreSQL. */
  close(): void | Promise<void> {
    this.health.stop();
    this.plugins.close();
    this.vectors.close();
    this.credits.flush();
    // Redis limits send the ends of requests (with ledger_via: stream, their rows) before the store drains and closes.
    const limitsClosed = this.limits.close();
    if (limitsClosed instanceof Promise) return limitsClosed.then(() => this.store.close());
    return this.store.close();
  }
}

function breakerMetrics(routing: RoutingState): string[] {
  const now = Date.now();
  const out = ["# HELP sluice_backend_ejected 1 while the circuit breaker keeps a backend out of balancers (open or half-open).", "# TYPE sluice_backend_ejected gauge"];
  const load = ["# HELP sluice_backend_load Requests in flight to a backend plus the engine's own queue (least_busy).", "# TYPE sluice_backend_load gauge"];
  for (const [id, stat] of routing.stats.entries()) {
    out.push(`sluice_backend_ejected{${labels({ backend: id })}} ${stat.state(now) === "closed" ? 0 : 1}`);
    load.push(`sluice_backend_load{${labels({ backend: id })}} ${stat.load}`);
  }
  return [...out, ...load];
}

/** storage.ledger_via: stream — where the stream is (the limits' Redis) and when a stopped gateway's rows are taken over. */
function ledgerStreamOf(snapshot: Snapshot) {
  if (snapshot.storage.ledger_via !== "stream") return undefined;
  const limits = snapshot.raw.limits;
  return { url: limits.url, prefix: limits.prefix, timeoutMs: limits.timeout_ms, heartbeatMs: limits.heartbeat_ms, claimIdleMs: limits.lease_ms };
}

export function storageFile(snapshot: Snapshot, dataDir: string | undefined): string {
  const url = snapshot.storage.url;
  if (url) return resolve(url.slice("sqlite:".length));
  return dataDir ? join(dataDir, "sluice.db") : ":memory:";
}

/**
 * The `local` search provider's documents when the store is PostgreSQL: they stay in SQLite (FTS5 has no
 * PostgreSQL twin here), in the data dir, one copy per gateway.
 */
function searchDatabase(dataDir: string | undefined): Database {
  const file = dataDir ? join(dataDir, "search.db") : ":memory:";
  log.info(`storage: the local search documents stay in SQLite (${file}) on each gateway; the rest is in PostgreSQL`);
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = new Database(file, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  return db;
}

/** A random HS256 secret kept in the data dir, so sessions survive restarts without any configuration. */
function sessionSecret(dataDir: string | undefined): string {
  if (!dataDir) return randomBase62(48);
  const file = join(dataDir, "session.secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBase62(48);
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}
