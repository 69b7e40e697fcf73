// What keys and accounts spent this UTC day and month, held in memory for budgets: admission opens a budget
// period synchronously (BudgetBook's loader), so the figures are read ahead, at start-up and every 30 s, from
// the daily roll-up (exact: written with the ledger rows) and the deductions. A period not loaded yet (just after
// midnight) counts from zero plus what this gateway adds, and is loaded on the next refresh.
import { utcDayBounds, utcMonthBounds } from "../../limits/utc-periods.ts";
import type { PgClient } from "./client.ts";

export const SPEND_REFRESH_MS = 30_000;

type BySince = Map<number, Map<string, number>>;

export class SpendCache {
  private keys: BySince = new Map();
  private accounts: BySince = new Map();

  constructor(private readonly client: PgClient) {}

  async refresh(now = Date.now()): Promise<void> {
    const starts = [utcDayBounds(now).startMs, utcMonthBounds(now).startMs];
    const keys: BySince = new Map();
    const accounts: BySince = new Map();
    for (const since of starts) {
      const byKey = await this.client.rows<{ id: string; micros: number }>("SELECT key_id AS id, SUM(cost_micros)::int8 AS micros FROM usage_daily WHERE bucket_ms >= $1 GROUP BY key_id", [since]);
      keys.set(since, new Map(byKey.map((r) => [r.id, r.micros])));
      const byAccount = await this.client.rows<{ id: string; micros: number }>(
        "SELECT account_id AS id, (-SUM(amount_micros))::int8 AS micros FROM credit_transactions WHERE kind = 'deduction' AND created_at >= $1 GROUP BY account_id",
        [since],
      );
      accounts.set(since, new Map(byAccount.map((r) => [r.id, r.micros])));
    }
    this.keys = keys;
    this.accounts = accounts;
  }

  keySpent(keyId: string, sinceMs: number): number {
    return this.keys.get(sinceMs)?.get(keyId) ?? 0;
  }

  accountSpent(accountId: string, sinceMs: number): number {
    return this.accounts.get(sinceMs)?.get(accountId) ?? 0;
  }

  /** A ledger row or deduction this gateway just wrote, until the next refresh reads it back. */
  addKeySpend(keyId: string, atMs: number, micros: number): void {
    add(this.keys, keyId, atMs, micros);
  }

  addAccountSpend(accountId: string, atMs: number, micros: number): void {
    add(this.accounts, accountId, atMs, micros);
  }
}

function add(cache: BySince, id: string, atMs: number, micros: number): void {
  for (const [since, spent] of cache) if (atMs >= since) spent.set(id, (spent.get(id) ?? 0) + micros);
}
