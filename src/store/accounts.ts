// Accounts and their credit transactions in the store. Settings are cached in memory (the key check reads them on
// every request) and the cache is dropped when another process writes the file (SQLite's data_version), as keys
// do. The balance is never cached: it is one indexed integer, read when a request reserves against it.
import type { Database } from "bun:sqlite";
import type { AccountDirectory } from "./store.ts";
import { dataVersion } from "./database.ts";
import { randomBase62 } from "../auth/key-record.ts";
import { DEFAULT_ACCOUNT, newAccountId, type Account, type AccountSettings } from "../auth/account-record.ts";

const JSON_COLUMNS = ["allowed_models", "routing"] as const;
/** accounts columns besides the balance, the same in SQLite and PostgreSQL. */
export const ACCOUNT_COLUMNS = ["id", "name", "status", "budget_usd_daily", "budget_usd_monthly", "allowed_models", "routing", "created_at", "deactivated_at"] as const;
const VERSION_CHECK_MS = 250;

export type TransactionKind = "deposit" | "adjustment" | "deduction";

export interface TransactionRow {
  id: number;
  account_id: string;
  kind: TransactionKind;
  amount_micros: number;
  balance_micros: number | null;
  request_id: string | null;
  key_id: string | null;
  note: string | null;
  created_at: number;
  requests?: number;
}

export interface Deduction {
  accountId: string;
  micros: number;
  requestId: string | null;
  keyId: string | null;
  note: string | null;
  atMs: number;
}

export interface TransactionQuery {
  accountId: string;
  limit: number;
  /** Rows with a smaller id than this (pagination cursor). */
  beforeId?: number;
  /** Deductions summed per UTC hour; deposits and adjustments stay one row each. */
  hourly?: boolean;
}

/** What admission and the credit book use: either store's accounts (store.ts). */
export type AccountStore = AccountDirectory;

export class SqliteAccountStore implements AccountDirectory {
  private readonly cache = new Map<string, Account | null>();
  private version: number;
  private versionCheckedAt = 0;
  private readonly balanceQuery;

  constructor(private readonly db: Database) {
    this.version = dataVersion(db);
    this.balanceQuery = db.query("SELECT balance_micros FROM accounts WHERE id = ?");
  }

  create(settings: Partial<AccountSettings> & { name: string }): Account {
    const account: Account = { ...DEFAULT_ACCOUNT, ...settings, id: newAccountId(randomBase62), created_at: Math.floor(Date.now() / 1000), deactivated_at: null };
    if (account.status === "deactivated") account.deactivated_at = account.created_at;
    this.db.query(`INSERT INTO accounts (${ACCOUNT_COLUMNS.join(", ")}, balance_micros) VALUES (${ACCOUNT_COLUMNS.map((c) => `$${c}`).join(", ")}, 0)`).run(accountToRow(account));
    this.cache.clear();
    return account;
  }

  /** Cached: the key check calls it on every request of a key that has an account. */
  get(id: string, now = Date.now()): Account | undefined {
    this.dropCacheIfChanged(now);
    let account = this.cache.get(id);
    if (account === undefined) {
      const row = this.db.query("SELECT * FROM accounts WHERE id = ?").get(id) as Record<string, unknown> | null;
      account = row ? accountFromRow(row) : null;
      this.cache.set(id, account);
    }
    return account ?? undefined;
  }

  find(id: string): Account | undefined {
    return this.get(id);
  }

  list(): Account[] {
    return (this.db.query("SELECT * FROM accounts ORDER BY created_at, id").all() as Record<string, unknown>[]).map(accountFromRow);
  }

  update(id: string, patch: Partial<AccountSettings>): Account | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const next: Account = { ...current, ...patch };
    if (patch.status !== undefined && patch.status !== current.status) next.deactivated_at = patch.status === "deactivated" ? Math.floor(Date.now() / 1000) : null;
    const row = accountToRow(next);
    const columns = ACCOUNT_COLUMNS.filter((c) => c !== "id" && c !== "created_at");
    this.db.query(`UPDATE accounts SET ${columns.map((c) => `${c} = $${c}`).join(", ")} WHERE id = $id`).run({ id, ...Object.fromEntries(columns.map((c) => [c, row[c]])) });
    this.cache.clear();
    return next;
  }

  /** The stored balance in micro-dollars (deductions still queued in memory are not in it yet). */
  balanceMicros(id: string): number {
    return (this.balanceQuery.get(id) as { balance_micros: number } | null)?.balance_micros ?? 0;
  }

  /** A deposit or adjustment, written at once; returns the row. */
  addTransaction(accountId: string, kind: TransactionKind, micros: number, note: string | null): TransactionRow {
    const write = this.db.transaction(() => {
      const after = (this.db.query("UPDATE accounts SET balance_micros = balance_micros + ? WHERE id = ? RETURNING balance_micros").get(micros, accountId) as { balance_micros: number }).balance_micros;
      const createdAt = Date.now();
      const { id } = this.db
        .query("INSERT INTO credit_transactions (account_id, kind, amount_micros, balance_micros, note, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id")
        .get(accountId, kind, micros, after, note, createdAt) as { id: number };
      return { id, account_id: accountId, kind, amount_micros: micros, balance_micros: after, request_id: null, key_id: null, note, created_at: createdAt };
    });
    return write();
  }

  /** Queued deductions in one transaction: each row records the balance after it. */
  writeDeductions(deductions: readonly Deduction[]): void {
    if (!deductions.length) return;
    const update = this.db.query("UPDATE accounts SET balance_micros = balance_micros - ? WHERE id = ? RETURNING balance_micros");
    const insert = this.db.query("INSERT INTO credit_transactions (account_id, kind, amount_micros, balance_micros, request_id, key_id, note, created_at) VALUES (?, 'deduction', ?, ?, ?, ?, ?, ?)");
    this.db.transaction(() => {
      for (const d of deductions) {
        const after = update.get(d.micros, d.accountId) as { balance_micros: number } | null;
        if (after) insert.run(d.accountId, -d.micros, after.balance_micros, d.requestId, d.keyId, d.note, d.atMs);
      }
    })();
  }

  /** Micro-dollars deducted from an account since an instant (its budgets' spend). */
  deductedSince(accountId: string, sinceMs: number): number {
    const row = this.db.query("SELECT COALESCE(-SUM(amount_micros), 0) AS spent FROM credit_transactions WHERE account_id = ? AND kind = 'deduction' AND created_at >= ?").get(accountId, sinceMs) as { spent: number };
    return row.spent;
  }

  /** Newest first; one more row than `limit` is read so the caller can say whether there are more. */
  transactions(query: TransactionQuery): TransactionRow[] {
    const before = query.beforeId ?? Number.MAX_SAFE_INTEGER;
    if (!query.hourly) {
      return this.db.query("SELECT * FROM credit_transactions WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?").all(query.accountId, before, query.limit + 1) as TransactionRow[];
    }
    // An hour's deductions become one row named by its newest id, so the cursor works the same way.
    return this.db
      .query(
        `SELECT * FROM (
           SELECT id, account_id, kind, amount_micros, balance_micros, request_id, key_id, note, created_at, NULL AS requests
             FROM credit_transactions WHERE account_id = $account AND kind != 'deduction'
           UNION ALL
           SELECT MAX(id), account_id, 'deduction', SUM(amount_micros), NULL, NULL, NULL, NULL, (created_at / 3600000) * 3600000, COUNT(*)
             FROM credit_transactions WHERE account_id = $account AND kind = 'deduction' GROUP BY created_at / 3600000
         ) WHERE id < $before ORDER BY id DESC LIMIT $limit`,
      )
      .all({ account: query.accountId, before, limit: query.limit + 1 }) as TransactionRow[];
  }

  private dropCacheIfChanged(now: number): void {
    if (now - this.versionCheckedAt < VERSION_CHECK_MS) return;
    this.versionCheckedAt = now;
    const version = dataVersion(this.db);
    if (version !== this.version) {
      this.version = version;
      this.cache.clear();
    }
  }
}

export function accountToRow(account: Account): Record<string, string | number | null> {
  const row: Record<string, string | number | null> = {};
  for (const column of ACCOUNT_COLUMNS) {
    const value = account[column as keyof Account];
    row[column] = (JSON_COLUMNS as readonly string[]).includes(column) ? (value === null ? null : JSON.stringify(value)) : (value as string | number | null);
  }
  return row;
}

export function accountFromRow(row: Record<string, unknown>): Account {
  const account = { ...row } as Record<string, unknown>;
  delete account.balance_micros;
  for (const column of JSON_COLUMNS) account[column] = row[column] === null ? null : JSON.parse(row[column] as string);
  return account as unknown as Account;
}

/** The SQLite class under the name it has always been constructed by (`new AccountStore(db)`). */
export const AccountStore = SqliteAccountStore;
