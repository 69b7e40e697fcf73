// Accounts and credit transactions in PostgreSQL. Admission reads an account and its balance on every request
// of its keys, so every account is held in memory: loaded at start, reloaded when any gateway changes one
// (changes.ts), balances refreshed every second (other gateways' deductions). Deductions are queued and written in
// batches: per batch one UPDATE of the balances (accounts in id order, so concurrent gateways never deadlock) and
// one INSERT of the transaction rows, in one transaction; queued ones count against the balance until written.
import type { Account, AccountSettings } from "../../auth/account-record.ts";
import { DEFAULT_ACCOUNT, newAccountId } from "../../auth/account-record.ts";
import { randomBase62 } from "../../auth/key-record.ts";
import { ACCOUNT_COLUMNS, accountFromRow, accountToRow, type Deduction, type TransactionKind, type TransactionQuery, type TransactionRow } from "../accounts.ts";
import type { AccountDirectory } from "../store.ts";
import { log } from "../../observability/log.ts";
import { describe, type PgClient } from "./client.ts";
import type { ChangeAnnouncer } from "./changes.ts";
import type { SpendCache } from "./spend-cache.ts";

const WRITE_DELAY_MS = 20;
const MAX_RETRY_DELAY_MS = 5_000;

export class PgAccountStore implements AccountDirectory {
  private accounts = new Map<string, Account>();
  private balances = new Map<string, number>();
  private queue: Deduction[] = [];
  private readonly queuedByAccount = new Map<string, number>();
  private writing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failedWrites = 0;
  /** writeDeductions callers waiting for their batch (named by its last deduction) to be written. */
  private waiting: { until: Deduction | undefined; resolve: () => void }[] = [];
  /** Bumped by every write of balances, so a refresh read before it does not overwrite what it wrote. */
  private balanceWrites = 0;

  constructor(
    private readonly client: PgClient,
    private readonly spend: SpendCache,
    private readonly changes: ChangeAnnouncer,
  ) {}

  /** Every account and balance, read again (start-up, and whenever another gateway changed one). */
  async load(): Promise<void> {
    const writes = this.balanceWrites;
    const rows = await this.client.rows<Record<string, unknown>>("SELECT * FROM accounts");
    this.accounts = new Map(rows.map((row) => [row.id as string, accountFromRow(row)]));
    if (writes === this.balanceWrites) this.balances = new Map(rows.map((row) => [row.id as string, row.balance_micros as number]));
  }

  async refreshBalances(): Promise<void> {
    const writes = this.balanceWrites;
    const rows = await this.client.rows<{ id: string; balance_micros: number }>("SELECT id, balance_micros FROM accounts");
    if (writes === this.balanceWrites) this.balances = new Map(rows.map((row) => [row.id, row.balance_micros]));
  }

  async create(settings: Partial<AccountSettings> & { name: string }): Promise<Account> {
    const account: Account = { ...DEFAULT_ACCOUNT, ...settings, id: newAccountId(randomBase62), created_at: Math.floor(Date.now() / 1000), deactivated_at: null };
    if (account.status === "deactivated") account.deactivated_at = account.created_at;
    const row = accountToRow(account);
    const epoch = await this.client.transaction(async (tx) => {
      await this.client.rows(`INSERT INTO accounts (${ACCOUNT_COLUMNS.join(", ")}, balance_micros) VALUES (${ACCOUNT_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")}, 0)`, ACCOUNT_COLUMNS.map((c) => row[c]), tx);
      return this.changes.announce(tx);
    });
    this.changes.committed(epoch);
    this.accounts.set(account.id, account);
    this.balances.set(account.id, 0);
    return account;
  }

  get(id: string): Account | undefined {
    return this.accounts.get(id);
  }

  async find(id: string): Promise<Account | undefined> {
    const known = this.accounts.get(id);
    if (known) return known;
    const row = await this.client.one<Record<string, unknown>>("SELECT * FROM accounts WHERE id = $1", [id]);
    return row ? accountFromRow(row) : undefined;
  }

  async list(): Promise<Account[]> {
    return (await this.client.rows<Record<string, unknown>>("SELECT * FROM accounts ORDER BY created_at, id")).map(accountFromRow);
  }

  async update(id: string, patch: Partial<AccountSettings>): Promise<Account | undefined> {
    const row = await this.client.one<Record<string, unknown>>("SELECT * FROM accounts WHERE id = $1", [id]);
    if (!row) return undefined;
    const current = accountFromRow(row);
    const next: Account = { ...current, ...patch };
    if (patch.status !== undefined && patch.status !== current.status) next.deactivated_at = patch.status === "deactivated" ? Math.floor(Date.now() / 1000) : null;
    const values = accountToRow(next);
    const columns = ACCOUNT_COLUMNS.filter((c) => c !== "id" && c !== "created_at");
    const epoch = await this.client.transaction(async (tx) => {
      await this.client.rows(`UPDATE accounts SET ${columns.map((c, i) => `${c} = $${i + 2}`).join(", ")} WHERE id = $1`, [id, ...columns.map((c) => values[c])], tx);
      return this.changes.announce(tx);
    });
    this.changes.committed(epoch);
    this.accounts.set(id, next);
    return next;
  }

  balanceMicros(id: string): number {
    return (this.balances.get(id) ?? 0) - (this.queuedByAccount.get(id) ?? 0);
  }

  async addTransaction(accountId: string, kind: TransactionKind, micros: number, note: string | null): Promise<TransactionRow> {
    const createdAt = Date.now();
    const row = await this.client.transaction(async (tx) => {
      const after = (await this.client.one<{ balance_micros: number }>("UPDATE accounts SET balance_micros = balance_micros + $1 WHERE id = $2 RETURNING balance_micros", [micros, accountId], tx))!.balance_micros;
      const { id } = (await this.client.one<{ id: number }>(
        "INSERT INTO credit_transactions (account_id, kind, amount_micros, balance_micros, note, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        [accountId, kind, micros, after, note, createdAt],
        tx,
      ))!;
      return { id, account_id: accountId, kind, amount_micros: micros, balance_micros: after, request_id: null, key_id: null, note, created_at: createdAt };
    });
    this.balanceWrites++;
    this.balances.set(accountId, row.balance_micros);
    return row;
  }

  writeDeductions(deductions: readonly Deduction[]): Promise<void> {
    if (!deductions.length) return Promise.resolve();
    for (const d of deductions) {
      this.queue.push(d);
      this.queuedByAccount.set(d.accountId, (this.queuedByAccount.get(d.accountId) ?? 0) + d.micros);
    }
    this.schedule(WRITE_DELAY_MS);
    return new Promise((resolve) => this.waiting.push({ until: deductions.at(-1), resolve }));
  }

  deductedSince(accountId: string, sinceMs: number): number {
    let queued = 0;
    for (const d of this.queue) if (d.accountId === accountId && d.atMs >= sinceMs) queued += d.micros;
    return this.spend.accountSpent(accountId, sinceMs) + queued;
  }

  async transactions(query: TransactionQuery): Promise<TransactionRow[]> {
    await this.flush();
    const before = query.beforeId ?? Number.MAX_SAFE_INTEGER;
    if (!query.hourly) {
      return this.client.rows<TransactionRow>("SELECT * FROM credit_transactions WHERE account_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3", [query.accountId, before, query.limit + 1]);
    }
    return this.client.rows<TransactionRow>(
      `SELECT * FROM (
         SELECT id, account_id, kind, amount_micros, balance_micros, request_id, key_id, note, created_at, NULL::int8 AS requests
           FROM credit_transactions WHERE account_id = $1 AND kind <> 'deduction'
         UNION ALL
         SELECT MAX(id), account_id, 'deduction', SUM(amount_micros)::int8, NULL, NULL, NULL, NULL, (created_at / 3600000) * 3600000, COUNT(*)
           FROM credit_transactions WHERE account_id = $1 AND kind = 'deduction' GROUP BY account_id, created_at / 3600000
       ) t WHERE id < $2 ORDER BY id DESC LIMIT $3`,
      [query.accountId, before, query.limit + 1],
    );
  }

  /** Writes the queued deductions now (before a read of transactions, and on shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.writing) await this.writing;
    if (!this.queue.length) return;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.write(batch).catch((error) => {
      this.queue = batch.concat(this.queue);
      this.failedWrites++;
      if (this.failedWrites === 1) log.warn(`credits: could not write ${batch.length} deductions to PostgreSQL (${describe(error)}); keeping them queued and retrying`);
      this.schedule(Math.min(WRITE_DELAY_MS * 2 ** this.failedWrites, MAX_RETRY_DELAY_MS));
    });
    await this.writing;
    this.writing = undefined;
  }

  /** Shutdown: keeps trying for a while, since every queued deduction is money. */
  async close(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 && Date.now() < deadline) {
      await this.flush();
      if (this.queue.length > 0) await Bun.sleep(200);
    }
    clearTimeout(this.timer);
    if (this.queue.length > 0) log.warn(`credits: ${this.queue.length} deductions could not be written to PostgreSQL before shutdown`);
  }

  private async write(batch: Deduction[]): Promise<void> {
    const totals = new Map<string, number>();
    for (const d of batch) totals.set(d.accountId, (totals.get(d.accountId) ?? 0) + d.micros);
    const ids = [...totals.keys()].sort();
    const after = await this.client.transaction(async (tx) => {
      const rows = await this.client.rows<{ id: string; balance_micros: number }>(
        `UPDATE accounts a SET balance_micros = a.balance_micros - d.micros
           FROM (SELECT * FROM unnest($1::text[], $2::int8[]) AS d(id, micros) ORDER BY id) d WHERE a.id = d.id RETURNING a.id, a.balance_micros`,
        [ids, ids.map((id) => totals.get(id)!)],
        tx,
      );
      const balance = new Map(rows.map((row) => [row.id, row.balance_micros]));
      // Each row records the balance after it: walk each account's rows from its balance before the batch.
      const running = new Map(rows.map((row) => [row.id, row.balance_micros + totals.get(row.id)!]));
      const kept = batch.filter((d) => running.has(d.accountId));
      const balances = kept.map((d) => {
        const value = running.get(d.accountId)! - d.micros;
        running.set(d.accountId, value);
        return value;
      });
      await this.client.rows(
        `INSERT INTO credit_transactions (account_id, kind, amount_micros, balance_micros, request_id, key_id, note, created_at)
           SELECT account_id, 'deduction', -micros, balance, request_id, key_id, note, created_at
           FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[]) AS d(account_id, micros, balance, request_id, key_id, note, created_at)`,
        [kept.map((d) => d.accountId), kept.map((d) => d.micros), balances, kept.map((d) => d.requestId), kept.map((d) => d.keyId), kept.map((d) => d.note), kept.map((d) => d.atMs)],
        tx,
      );
      return balance;
    });
    this.balanceWrites++;
    for (const d of batch) {
      const left = (this.queuedByAccount.get(d.accountId) ?? 0) - d.micros;
      if (left > 0) this.queuedByAccount.set(d.accountId, left);
      else this.queuedByAccount.delete(d.accountId);
    }
    for (const [id, micros] of after) this.balances.set(id, micros);
    for (const d of batch) this.spend.addAccountSpend(d.accountId, d.atMs, d.micros);
    // Batches are written in order, so a caller whose last deduction is now written has all of its own written.
    const written = new Set(batch);
    const still: typeof this.waiting = [];
    for (const wait of this.waiting) (wait.until === undefined || written.has(wait.until) ? wait.resolve() : still.push(wait));
    this.waiting = still;
    if (this.failedWrites > 0) log.info("credits: writing deductions to PostgreSQL again");
    this.failedWrites = 0;
  }

  private schedule(delayMs: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delayMs);
    this.timer.unref();
  }
}
